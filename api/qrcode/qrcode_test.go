package qrcode_test

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/api/qrcode"
)

// TestCodesReadBack encodes links of every length the console issues (and
// the edges of each version) and reads each back with a real decoder,
// zbarimg from Debian's zbar-tools: a code that draws but does not scan
// would strand a mobilizer.
func TestCodesReadBack(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg is not installed (CI installs zbar-tools: see .ci/run)")
		}
		t.Skip("skipping: zbarimg is not installed (apt-get install zbar-tools)")
	}
	link := "http://127.0.0.1:8080/app/#token=alt_" + strings.Repeat("Xy9_-", 9)[:43]
	cases := []struct {
		name  string
		data  string
		level qrcode.Level
	}{
		{"one byte", "a", qrcode.M},
		{"version 1 full at M", strings.Repeat("q", 14), qrcode.M},
		{"version 2", strings.Repeat("w", 15), qrcode.M},
		{"sign-in link", link, qrcode.M},
		{"long host", "https://actionledger.kenema-district.example.org:8443/app/#token=alt_" + strings.Repeat("Z", 43), qrcode.M},
		{"version 7 (version bits)", strings.Repeat("7", 120), qrcode.M},
		{"version 9 two block sizes", strings.Repeat("9", 170), qrcode.M},
		{"version 10 16-bit count", strings.Repeat("x", 200), qrcode.M},
		{"level L", link, qrcode.L},
		{"utf-8 bytes", "Kɔmba — Nongowa ✓", qrcode.M},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := qrcode.Encode([]byte(tc.data), tc.level)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".png")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, c.Image(4)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			out, err := exec.Command(zbar, "--raw", "-q", "-Sbinary", p).Output()
			if err != nil {
				t.Fatalf("version %d: zbarimg could not read it: %v", c.Version, err)
			}
			if got := strings.TrimSuffix(string(out), "\n"); got != tc.data {
				t.Errorf("version %d read back %q, want %q", c.Version, got, tc.data)
			}
		})
	}
}

func TestTooLong(t *testing.T) {
	if _, err := qrcode.Encode(make([]byte, 214), qrcode.M); err != qrcode.ErrTooLong {
		t.Errorf("214 bytes at M: %v, want ErrTooLong", err)
	}
	if c, err := qrcode.Encode(make([]byte, 213), qrcode.M); err != nil || c.Version != 10 {
		t.Errorf("213 bytes at M: %v", err)
	}
}

func TestSVGIsInert(t *testing.T) {
	c, err := qrcode.Encode([]byte("x"), qrcode.M)
	if err != nil {
		t.Fatal(err)
	}
	svg := c.SVG(200, `"><script>alert(1)</script>`)
	if strings.Contains(svg, "<script>") || !strings.HasPrefix(svg, "<svg") {
		t.Errorf("title not escaped: %s", svg[:200])
	}
}

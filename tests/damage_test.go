package tests_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDamagedEventsFileStopsTheBinary: a truncated events.db or one with a
// damaged page header makes `serve` and `audit verify` stop with exit 1 and
// an error naming the file and the damage: no crash, no goroutine dump, and
// no server left listening.
func TestDamagedEventsFileStopsTheBinary(t *testing.T) {
	e := start(t)
	e.staff()
	for _, id := range []string{"KEN-D1", "KEN-D2", "KEN-D3"} {
		e.community(id)
		for i := range 30 {
			e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities/" + id + "/visits", token: "mob",
				body: map[string]any{"kind": "follow_up", "trust_rating": 1 + i%5}})
		}
	}
	e.stop()
	src := filepath.Join(e.dataDir, "events.db")
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if len(orig) < 8*page {
		t.Fatalf("events.db has only %d bytes", len(orig))
	}
	cases := []struct {
		name   string
		damage func(b []byte) []byte
		says   string
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, "truncated"},
		{"truncated to a few pages", func(b []byte) []byte { return b[:3*page] }, "truncated"},
		{"meta page checksum", func(b []byte) []byte { b[page+16+40] ^= 0x10; return b }, "checksum"},
		{"page header flipped", func(b []byte) []byte { return flipTreePage(t, b, page) }, "page"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			damaged := filepath.Join(dir, "events.db")
			if err := os.WriteFile(damaged, tc.damage(append([]byte(nil), orig...)), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir},
				{"audit", "verify", "--data-dir", dir},
			} {
				stdout, stderr, code := runWithin(t, 60*time.Second, args...)
				if code != 1 {
					t.Errorf("%s: exit %d, want 1\nstderr: %s", args[0], code, stderr)
				}
				for _, bad := range []string{"goroutine ", "panic", "SIGBUS", "fatal error", `"msg":"serving"`} {
					if strings.Contains(stderr, bad) {
						t.Errorf("%s: stderr has %q:\n%s", args[0], bad, stderr)
					}
				}
				if !strings.Contains(stderr, damaged+" is damaged") || !strings.Contains(stderr, tc.says) {
					t.Errorf("%s: stderr does not name the file and the damage (%q):\n%s", args[0], tc.says, stderr)
				}
				if args[0] == "audit" && stdout != "" {
					t.Errorf("verify printed a result from a damaged file: %s", stdout)
				}
			}
		})
	}
}

// flipTreePage damages the header flags of the root page of the root
// bucket (the page the newer meta page points to), which every open reads.
func flipTreePage(t *testing.T, b []byte, page int) []byte {
	t.Helper()
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	meta := 16 // the meta follows the page header
	root := u64(meta + 16)
	if u64(page+meta+48) > u64(meta+48) { // meta page 1 has the newer txid
		root = u64(page + meta + 16)
	}
	if root < 2 || int(root+1)*page > len(b) {
		t.Fatalf("root page %d out of the file", root)
	}
	b[int(root)*page+8] ^= 0xff
	return b
}

// runWithin runs the binary and kills it after d (a server that did not
// stop fails the test rather than hanging it).
func runWithin(t *testing.T, d time.Duration, args ...string) (string, string, int) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "ACTIONLEDGER_ADMIN_TOKEN="+adminToken, "ACTIONLEDGER_TOKEN_SECRET="+tokenSecret, "ACTIONLEDGER_TOKEN="+adminToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v still running after %s (it served a damaged file?)\nstderr: %s", args, d, stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("running %v: %v", args, err)
	return "", "", 0
}

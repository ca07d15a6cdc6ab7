package mobileapp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/api/mobileapp"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShellIsWhatTheWorkerPrecaches: every file the service worker lists is
// served, with a type the browser runs, and together they stay light.
func TestShellIsWhatTheWorkerPrecaches(t *testing.T) {
	h, err := mobileapp.New()
	if err != nil {
		t.Fatal(err)
	}
	sw := body(t, get(t, h, "/app/sw.js"))
	if !strings.Contains(sw, `"`+h.Version()+`"`) || strings.Contains(sw, "__VERSION__") || strings.Contains(sw, "__SHELL__") {
		t.Fatalf("sw.js was not given its version and shell:\n%s", sw[:200])
	}
	m := regexp.MustCompile(`const SHELL = (\[[^\]]*\]);`).FindStringSubmatch(sw)
	if m == nil {
		t.Fatal("sw.js has no SHELL list")
	}
	var shell []string
	if err := json.Unmarshal([]byte(m[1]), &shell); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range shell {
		r := get(t, h, p)
		b := body(t, r)
		total += len(b)
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, r.StatusCode)
		}
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasSuffix(p, ".mjs") && !strings.HasPrefix(ct, "text/javascript"),
			strings.HasSuffix(p, ".css") && !strings.HasPrefix(ct, "text/css"),
			p == "/app/" && !strings.HasPrefix(ct, "text/html"):
			t.Errorf("%s served as %q", p, ct)
		}
		if !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: no same-origin CSP", p)
		}
	}
	for _, want := range []string{"/app/", "/app/app.mjs", "/app/store.mjs", "/app/flush.mjs", "/app/manifest.webmanifest", "/app/icon-192.png"} {
		found := false
		for _, p := range shell {
			found = found || p == want
		}
		if !found {
			t.Errorf("the worker does not precache %s", want)
		}
	}
	if total > 150<<10 {
		t.Errorf("the shell weighs %d bytes, over 150 KB", total)
	}
	if !strings.Contains(body(t, get(t, h, "/app/")), h.Version()) {
		t.Error("the page does not carry the shell's version")
	}
}

func TestManifestMakesTheAppInstallable(t *testing.T) {
	h, err := mobileapp.New()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name, ShortName, StartURL, Scope, Display string
		Icons                                     []struct{ Src, Sizes, Type string }
	}
	raw := body(t, get(t, h, "/app/manifest.webmanifest"))
	dec := json.NewDecoder(strings.NewReader(strings.NewReplacer(`"short_name"`, `"ShortName"`, `"start_url"`, `"StartURL"`).Replace(raw)))
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Name == "" || m.ShortName == "" || m.StartURL != "/app/" || m.Scope != "/app/" || m.Display != "standalone" {
		t.Errorf("manifest: %+v", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		r := get(t, h, ic.Src)
		b := body(t, r)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(b, "\x89PNG") {
			t.Errorf("icon %s: %d %s", ic.Src, r.StatusCode, r.Header.Get("Content-Type"))
		}
		sizes[ic.Sizes] = true
	}
	if !sizes["192x192"] || !sizes["512x512"] {
		t.Errorf("icons %v: Chrome needs 192 and 512", sizes)
	}
}

func TestRequests(t *testing.T) {
	h, err := mobileapp.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path string
		want               int
	}{
		{"no slash redirects", http.MethodGet, "/app", http.StatusMovedPermanently},
		{"unknown file", http.MethodGet, "/app/nope.js", http.StatusNotFound},
		{"no directories", http.MethodGet, "/app/static/app.mjs", http.StatusNotFound},
		{"writes refused", http.MethodPost, "/app/", http.StatusMethodNotAllowed},
		{"head", http.MethodHead, "/app/app.mjs", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
			}
		})
	}
}

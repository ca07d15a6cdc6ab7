// Package mobileapp_test runs the mobilizers' app's tests (see doc.go).
package mobileapp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
)

// Tokens of the server under test (the demo makes the others).
const (
	adminToken  = "test-admin-token-app"
	tokenSecret = "test-token-secret-app"
)

// The mobilizers' app is tested at two levels, both from here so that
// `go test ./...` runs them: its modules' unit tests (Node's runner with
// fake-indexeddb) and end-to-end tests in Debian's Chromium against the real
// server (tests/mobileapp/*.test.mjs). In CI a missing Node, Chromium or npm
// package fails the run (.ci/run installs them); elsewhere the test names
// what is missing and skips.

func needTool(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI must install it: see .ci/run)", what)
	}
	t.Skipf("skipping: %s", what)
}

func appTestDir(t *testing.T, pkgs ...string) (node, dir string) {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		needTool(t, "node is not installed (apt-get install nodejs)")
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p)); err != nil {
			needTool(t, fmt.Sprintf("%s is not installed: run `npm ci` in tests/mobileapp", p))
		}
	}
	return node, dir
}

func runNode(t *testing.T, node, dir string, env []string, files ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test", "--test-concurrency=1"}, files...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %v: %v\n%s", files, err, out)
	}
	t.Logf("%s", out)
}

// TestMobileAppUnits runs the app's outbox, flush and forms unit tests.
func TestMobileAppUnits(t *testing.T) {
	node, dir := appTestDir(t, "fake-indexeddb")
	runNode(t, node, dir, nil, "outbox.test.mjs")
}

// TestMobileAppInBrowser boots the real server with the demo data behind a
// proxy the browser tests can switch: online, offline (every connection,
// the service worker's included, is cut: Chromium's own offline switch does
// not stop a worker's fetches) or dropping the answer to the next sync
// after the server has handled it.
func TestMobileAppInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		needTool(t, "chromium is not installed (apt-get install chromium)")
	}
	node, dir := appTestDir(t, "playwright-core", "axe-core")

	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.Open(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AdminToken: adminToken, TokenSecret: tokenSecret, Demo: true}, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = m.Close()
	})

	px := newSwitchProxy(t, m.URL())
	users := map[string]string{"admin": adminToken}
	for _, u := range m.DemoTokens {
		if u.Token != "" {
			users[u.Role] = u.Token
		}
	}
	tokens, _ := json.Marshal(users)
	shots := filepath.Join(os.TempDir(), "actionledger-screenshots", "mobileapp")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shots)
	runNode(t, node, dir, []string{
		"APP_URL=" + px.public.URL,
		"CONTROL_URL=" + px.control.URL,
		"API_URL=" + m.URL(),
		"TOKENS=" + string(tokens),
		"CHROMIUM=" + chromium,
		"SCREENSHOTS=" + shots,
	}, "e2e.test.mjs")
}

// switchProxy forwards the browser's requests to the server unless told
// otherwise through its control listener, which only the test reaches.
type switchProxy struct {
	mu              sync.Mutex
	mode            string // online | offline
	dropNextSync    bool
	dropped         int
	public, control *httptest.Server
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{mode: "online"}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.public = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		mode, drop := p.mode, p.dropNextSync && r.URL.Path == "/v1/sync"
		if drop {
			p.dropNextSync = false
		}
		p.mu.Unlock()
		if mode == "offline" {
			hangUp(w)
			return
		}
		if drop {
			// The server handles the batch in full; its answer never
			// reaches the phone.
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			p.mu.Lock()
			p.dropped++
			p.mu.Unlock()
			cutAnswer(w, rec)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	p.control = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.URL.Query().Get("do") {
		case "offline", "online":
			p.mode = r.URL.Query().Get("do")
		case "drop-next-sync":
			p.dropNextSync = true
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"mode": p.mode, "drop_next_sync": p.dropNextSync, "dropped": p.dropped})
	}))
	t.Cleanup(func() {
		p.public.CloseClientConnections()
		p.public.Close()
		p.control.Close()
	})
	return p
}

// cutAnswer sends the answer's status line and headers, then cuts the link
// before its body: the phone knows the batch arrived but not what became of
// it. A connection closed before any byte of the answer would not do here:
// Chromium resends a request itself when a reused keep-alive connection
// closes before the answer starts, and that resend (it lands, the idempotency
// key sees to that) made the test's "still unsent" check fail now and then.
func cutAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	hangUpAfter(w, func(buf *bufio.ReadWriter) {
		body := rec.Body.Bytes()
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
			rec.Code, http.StatusText(rec.Code), rec.Header().Get("Content-Type"), len(body))
		_, _ = buf.Write(body[:len(body)/2])
	})
}

// hangUp closes the connection without an answer, as a dead link does.
func hangUp(w http.ResponseWriter) { hangUpAfter(w, nil) }

// hangUpAfter takes the connection over, writes what send writes (if
// anything), and resets it.
func hangUpAfter(w http.ResponseWriter, send func(*bufio.ReadWriter)) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "proxy cannot hang up", http.StatusBadGateway)
		return
	}
	c, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	if send != nil {
		send(buf)
		_ = buf.Flush()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

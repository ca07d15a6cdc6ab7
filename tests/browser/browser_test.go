package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
)

// Tokens of the server under test (the demo prints the others).
const (
	adminToken  = "test-admin-token-browser"
	tokenSecret = "test-token-secret-browser"
)

// TestBrowser runs the web console's real-browser tests
// (tests/browser/*.test.mjs): Debian's Chromium, driven by playwright-core,
// against the real server booted here with the demo data set. The browser
// tests sign in as each role, work with JavaScript off, run axe-core on
// every page, and write screenshots to the directory this test logs.
//
// Without Chromium or the npm packages the test skips, naming what is
// missing — except under CI=true, where it fails: CI must run it.
func TestBrowser(t *testing.T) {
	chromium, node := browserTools(t)
	if testing.Short() {
		t.Skip("-short: the browser tests take a few seconds")
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := server.Open(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir, AdminToken: adminToken, TokenSecret: tokenSecret, Demo: true}, zap.NewNop())
	if err != nil {
		t.Fatalf("opening the server: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	env := []string{"AL_URL=" + m.URL(), "AL_TOKEN_ADMIN=" + adminToken, "CHROMIUM=" + chromium}
	for _, u := range m.DemoTokens {
		if u.Token != "" {
			env = append(env, "AL_TOKEN_"+strings.ToUpper(u.Role)+"="+u.Token)
		}
	}
	// The figures on the pages must be the whole demo's: wait until the
	// read models have every event the demo wrote.
	head, err := m.Store().Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := m.Read().WaitFor(waitCtx, head); err != nil {
		t.Fatalf("the read models did not reach the demo's last event %d: %v", head, err)
	}

	shots := os.Getenv("AL_SCREENSHOTS")
	if shots == "" {
		shots = "screenshots"
	}
	if shots, err = filepath.Abs(shots); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shots)
	env = append(env, "AL_SCREENSHOTS="+shots)

	files, err := filepath.Glob("*.test.mjs")
	if err != nil || len(files) == 0 {
		t.Fatalf("no browser tests in tests/browser (%v)", err)
	}
	runCtx, stopRun := context.WithTimeout(ctx, 8*time.Minute)
	defer stopRun()
	// One file at a time: the machine is small, and each file has its own
	// browser.
	cmd := exec.CommandContext(runCtx, node, append([]string{"--test", "--test-concurrency=1"}, files...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("node --test %s:\n%s", strings.Join(files, " "), out.String())
	if err != nil {
		t.Fatalf("the browser tests failed: %v", err)
	}
}

// browserTools finds Chromium, node and the npm packages the browser tests
// need, or skips (fails under CI) naming what is missing.
func browserTools(t *testing.T) (chromium, node string) {
	t.Helper()
	var missing []string
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "chromium not installed: apt-get install chromium (or set CHROMIUM to its path)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node not installed: apt-get install nodejs npm (node 20 or later)")
	} else if v, err := exec.Command(node, "--version").Output(); err != nil || nodeMajor(string(v)) < 20 {
		missing = append(missing, fmt.Sprintf("node %s is too old: playwright-core needs node 20 or later", strings.TrimSpace(string(v))))
	}
	for _, pkg := range []string{"playwright-core", "axe-core"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			missing = append(missing, pkg+" missing: run npm ci in tests/browser")
		}
	}
	if len(missing) == 0 {
		return chromium, node
	}
	msg := "browser tests not run: " + strings.Join(missing, "; ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: the browser tests must run)")
	}
	t.Skip(msg)
	return "", ""
}

// nodeMajor reads the major version of `node --version` ("v20.1.0").
func nodeMajor(v string) int {
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(v), "v"), ".")
	n, _ := strconv.Atoi(major)
	return n
}

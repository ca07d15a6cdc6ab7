package tests_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/backlog"
	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
)

// sampleBacklog is the backlog the README tells a newcomer to sync.
var sampleBacklog = filepath.Join("..", "scripts", "sample-backlog.ndjson")

// startDemo boots the real wiring with the demo data set loaded, as
// `serve --demo` does.
func startDemo(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	m, err := server.Open(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir, AdminToken: adminToken, TokenSecret: tokenSecret, Demo: true}, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatalf("opening the demo server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e := &env{t: t, base: m.URL(), dataDir: dir, main: m, tokens: map[string]string{"admin": adminToken}}
	for _, u := range m.DemoTokens {
		if u.Token != "" {
			e.tokens[u.Role] = u.Token
		}
	}
	return e
}

// The sample backlog is a valid backlog: it parses, declares its users and
// names only declared users.
func TestSampleBacklogParses(t *testing.T) {
	fh, err := os.Open(sampleBacklog)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r := backlog.NewReader(fh)
	items := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("line %d: %v", r.Line(), err)
		}
		items++
	}
	if items < 5 || len(r.Order) == 0 {
		t.Errorf("the sample has %d items and %d users; want a few of each", items, len(r.Order))
	}
}

// What the README promises: `actionledger sync` of the sample against a demo
// server writes every item and exits 0; a second run writes nothing new and
// still exits 0; a backlog with a refused item exits 1 with a summary that
// says how many were refused and why.
func TestSyncSampleBacklogAgainstTheDemo(t *testing.T) {
	e := startDemo(t)
	env := []string{"ACTIONLEDGER_TOKEN=" + adminToken}

	stdout, stderr, code := runCLI(t, env, "sync", "--server", e.base, "--file", sampleBacklog)
	if code != 0 {
		t.Fatalf("first sync exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "11 written, 0 already there") || !strings.Contains(stdout, ", 0 refused") {
		t.Errorf("first sync summary:\n%s", stdout)
	}
	stdout, stderr, code = runCLI(t, env, "sync", "--server", e.base, "--file", sampleBacklog)
	if code != 0 {
		t.Fatalf("second sync exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "0 written, 11 already there") {
		t.Errorf("second sync summary:\n%s", stdout)
	}
	// The sample's writes are readable afterwards.
	if r := e.do(req{method: "GET", path: "/v1/action-points/SAMPLE-KEN-1-AP1", token: "admin"}); r.status != 200 || r.str("status") != "achieved" {
		t.Errorf("sample action point: %d %s", r.status, r.raw)
	}

	// A phone's backlog with one item refused (its community does not
	// exist) and one written.
	bad := filepath.Join(t.TempDir(), "refused.ndjson")
	if err := os.WriteFile(bad, []byte(
		`{"key":"phone/1","method":"POST","path":"/v1/communities/KEN-NON-11/visits","body":{"kind":"follow_up","trust_rating":4}}`+"\n"+
			`{"key":"phone/2","method":"POST","path":"/v1/communities/NO-SUCH-1/visits","body":{"kind":"initial","trust_rating":3}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runCLI(t, []string{"ACTIONLEDGER_TOKEN=" + e.tokens["mobilizer"]}, "sync", "--server", e.base, "--file", bad)
	if code == 0 {
		t.Fatalf("a sync with a refused item exited 0\nstdout:\n%s", stdout)
	}
	if !strings.Contains(stdout, "1 written, 0 already there") || !strings.Contains(stdout, ", 1 refused") ||
		!strings.Contains(stdout, "line 2") || !strings.Contains(stdout, "not_found") {
		t.Errorf("summary of a refused item:\n%s", stdout)
	}
	if !strings.Contains(stderr, "1 of 2 items were refused (not_found 1)") {
		t.Errorf("stderr does not say what was refused:\n%s", stderr)
	}
}

// import, like sync, loads the sample cleanly and fails (exit 1) on a
// backlog with a refused item, after loading the rest.
func TestImportExitsNonZeroWhenAnItemIsRefused(t *testing.T) {
	dir := t.TempDir()
	env := []string{"ACTIONLEDGER_ADMIN_TOKEN=" + adminToken, "ACTIONLEDGER_TOKEN_SECRET=" + tokenSecret}
	stdout, stderr, code := runCLI(t, env, "import", "--data-dir", dir, "--file", sampleBacklog)
	if code != 0 || !strings.Contains(stdout, "11 written, 0 already there, 0 refused") {
		t.Fatalf("importing the sample: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	bad := filepath.Join(t.TempDir(), "refused.ndjson")
	if err := os.WriteFile(bad, []byte(
		`{"user":{"ref":"mob","name":"Mobilizer","role":"mobilizer","district":"Kenema"}}`+"\n"+
			`{"as":"mob","key":"v/1","method":"POST","path":"/v1/communities/SAMPLE-KEN-1/visits","body":{"kind":"follow_up","trust_rating":4}}`+"\n"+
			`{"as":"mob","key":"v/2","method":"POST","path":"/v1/communities/NO-SUCH-1/visits","body":{"kind":"initial","trust_rating":3}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runCLI(t, env, "import", "--data-dir", dir, "--file", bad)
	if code == 0 {
		t.Fatalf("an import with a refused item exited 0\nstdout:\n%s", stdout)
	}
	if !strings.Contains(stdout, "1 written, 0 already there, 1 refused") || !strings.Contains(stderr, "1 of 2 items were refused") {
		t.Errorf("import of a refused item:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

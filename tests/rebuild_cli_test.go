package tests_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// An offline rebuild (`projections rebuild --data-dir`, the server stopped)
// starts its models empty rather than from the saved ones it replaces; what
// it saves must answer every read exactly as the models it replaced did,
// the as-of clock included, once a server starts on it again.
func TestOfflineRebuildAnswersAsTheModelsItReplaced(t *testing.T) {
	dir := t.TempDir()
	cliEnv := []string{"ACTIONLEDGER_ADMIN_TOKEN=" + adminToken, "ACTIONLEDGER_TOKEN_SECRET=" + tokenSecret}
	if stdout, stderr, code := runCLI(t, cliEnv, "import", "--data-dir", dir, "--file", sampleBacklog); code != 0 {
		t.Fatalf("importing the sample: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	reads := []string{
		"/v1/stats/completion?interval=week",
		"/v1/stats/referrals",
		"/v1/stats/feedback",
		"/v1/stats/trust",
		"/v1/stats/concerns",
		"/v1/communities",
		"/v1/referrals",
		"/v1/feedback",
		"/v1/audit/as-of?" + url.Values{"at": {now}, "basis": {"recorded"}}.Encode(),
		"/v1/audit/as-of?" + url.Values{"at": {now}, "basis": {"occurred"}}.Encode(),
	}
	answers := func(e *env) map[string]string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.main.Read().WaitFor(ctx, e.head()); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, path := range reads {
			out[path] = string(e.must(http.StatusOK, req{method: "GET", path: path, token: "auditor"}).raw)
		}
		return out
	}

	e := startIn(t, dir)
	e.user("auditor", "auditor", "", "")
	before := answers(e)
	e.stop()

	stdout, stderr, code := runCLI(t, cliEnv, "projections", "rebuild", "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "rebuilt read models from ") || !strings.Contains(stdout, "; saving them took ") {
		t.Fatalf("offline rebuild: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	again := startIn(t, dir)
	again.tokens["auditor"] = e.tokens["auditor"]
	after := answers(again)
	for _, path := range reads {
		if before[path] != after[path] {
			t.Errorf("GET %s changed by the offline rebuild:\nbefore %s\nafter  %s", path, before[path], after[path])
		}
	}
}

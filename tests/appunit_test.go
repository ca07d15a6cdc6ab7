package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMobileAppUnits runs the mobilizers' app's own unit tests (the outbox,
// the flush, the forms: tests/appunit, Node's test runner with
// fake-indexeddb) as part of `go test ./...`. In CI a missing Node or
// missing packages fail the run (.ci/run installs them); elsewhere the test
// says what is missing and skips.
func TestMobileAppUnits(t *testing.T) {
	dir, err := filepath.Abs("appunit")
	if err != nil {
		t.Fatal(err)
	}
	need := func(what string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI must install it: see .ci/run)", what)
		}
		t.Skipf("skipping the app's unit tests: %s", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		need("node is not installed (apt-get install nodejs)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "fake-indexeddb")); err != nil {
		need("fake-indexeddb is not installed: run `npm ci` in tests/appunit")
	}
	cmd := exec.Command(node, "--test")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test in tests/appunit: %v\n%s", err, out)
	}
	t.Logf("tests/appunit: %s", lastLines(out, 8))
}

func lastLines(b []byte, n int) string {
	lines := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			lines++
			if lines > n {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

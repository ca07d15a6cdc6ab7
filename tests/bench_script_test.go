package tests_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// scripts/bench.sh keeps its table when a step dies: the step's row says
// failed, why and where its log is, the steps that need it say skipped,
// the others still run, and the script exits non-zero. A run here once lost
// every row to one failing step. The runs use the tiny scale and only the
// light steps (BENCH_ONLY), with BENCH_FAIL forcing a step to fail.
func TestBenchScriptKeepsTheTableWhenAStepFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scripts/bench.sh, which builds and serves the real binary")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir() // shared: the tiny history is generated once
	cases := []struct {
		name     string
		only     string
		fail     string
		wantCode int
		want     []string // substrings of the table, each on a row
		notWant  []string
	}{
		{
			name: "every step succeeds", only: "rebuild,restart", wantCode: 0,
			want: []string{"| tiny history |", "| full projection rebuild, tiny", "events/s (saving the models, run by run: ", ") | ≥ 500,000 events/s |",
				"| restart to ready on tiny (start → /readyz 200) |"},
			notWant: []string{"**failed**", "**skipped**", "no rebuild before it"},
		},
		{
			name: "a failed step leaves the others running", only: "rebuild,restart,memory", fail: "rebuild", wantCode: 1,
			want: []string{
				"| full projection rebuild, tiny, 2 runs | **failed**: forced by BENCH_FAIL (log: " + filepath.Join(dir, "logs", "rebuild.log") + ") |",
				"| restart to ready on tiny (start → /readyz 200, no rebuild before it: read models built from the log, not loaded) |",
				"| peak RSS of the server over the steps above (VmHWM)",
			},
			notWant: []string{"**skipped**"},
		},
		{
			name: "the steps that need a failed step are skipped", only: "rebuild,memory", fail: "copy", wantCode: 1,
			want: []string{
				"| tiny history |",
				"| copying the history for this run | **failed**: forced by BENCH_FAIL",
				"| full projection rebuild, tiny, 2 runs | **skipped**: needs step copy, which did not succeed |",
				"| restart to ready on tiny (start → /readyz 200) | **skipped**: needs step copy",
				"| peak RSS of the server | **skipped**: needs step restart",
			},
		},
	}
	built := builtFrom(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runBench(t, dir, tc.only, tc.fail)
			if !strings.Contains(out, "commit "+built+", ") {
				t.Errorf("the table's header does not name what the run built (%q):\n%s", built, out)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			if !strings.Contains(out, "| measurement | result | goal |") {
				t.Fatalf("no table printed:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("table lacks %q:\n%s", w, out)
				}
			}
			for _, nw := range tc.notWant {
				if strings.Contains(out, nw) {
					t.Errorf("table has %q:\n%s", nw, out)
				}
			}
		})
	}
}

// runBench runs `bash scripts/bench.sh tiny` in benchDir and returns its
// stdout (the table) and exit code.
func runBench(t *testing.T, benchDir, only, fail string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join("..", "scripts", "bench.sh"), "tiny")
	cmd.Env = append(os.Environ(), "BENCH_DIR="+benchDir, "BENCH_PORT="+strconv.Itoa(freePort(t)),
		"BENCH_ONLY="+only, "BENCH_FAIL="+fail)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		t.Logf("bench.sh stderr:\n%s", stderr.String())
		return string(out), exit.ExitCode()
	}
	t.Fatalf("running bench.sh: %v\n%s", err, stderr.String())
	return "", 0
}

// builtFrom is what the bench's build step builds from the repository as
// it stands: its commit, and whether the work tree differs from it.
func builtFrom(t *testing.T) string {
	t.Helper()
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	built := strings.TrimSpace(string(head))
	if st, err := exec.Command("git", "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		built += " with uncommitted changes"
	}
	return built
}

// freePort is a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

package tests_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// The bench's commands rows (scripts/loadgen commands) give the server's own
// view of the same requests beside the client's: how many the server
// answered 201 on the visits route between two scrapes of /metrics, the
// bucket its p99 falls in, and the share within 5 ms. A filter that misses
// the route, the method or the status code would count nothing; a bucket
// picked wrongly would contradict the client's times, which include the
// server's.
func TestLoadgenCommandsRowCountsWhatTheServerAnswered(t *testing.T) {
	if testing.Short() {
		t.Skip("builds scripts/loadgen and sends it commands for a few seconds")
	}
	e := start(t)
	bin := filepath.Join(t.TempDir(), "loadgen")
	if out, err := exec.Command("go", "build", "-o", bin, "../scripts/loadgen").CombinedOutput(); err != nil {
		t.Fatalf("building loadgen: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "commands", "--server", e.base, "--rate", "50", "--duration", "2s", "--communities", "3")
	cmd.Env = append(os.Environ(), "ACTIONLEDGER_ADMIN_TOKEN="+adminToken)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	row := regexp.MustCompile(`\| HTTP commands \(visits\), 50/s offered for 2s \| [0-9]+/s done; p50 ([0-9.]+) ms, p99 ([0-9.]+) ms; ` +
		`in the server \(its histogram, ([0-9]+) answered 201\) p99 ≤ ([0-9.]+) ms, ([0-9.]+)% within 5 ms \|`).FindSubmatch(out)
	if row == nil {
		t.Fatalf("no commands row with the server's figures:\n%s", out)
	}
	num := func(i int) float64 {
		f, err := strconv.ParseFloat(string(row[i]), 64)
		if err != nil {
			t.Fatalf("%q: %v", row[i], err)
		}
		return f
	}
	clientP99, counted, serverP99, within := num(2), num(3), num(4), num(5)
	if counted != 100 {
		t.Errorf("the server answered %v visits 201 between the scrapes, want the 100 sent", counted)
	}
	bounds := []float64{0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}
	if !slices.Contains(bounds, serverP99) {
		t.Errorf("server p99 ≤ %v ms is not a bound of the histogram's buckets %v", serverP99, bounds)
	}
	// Each request's time in the server is part of its time at the client.
	i, _ := slices.BinarySearch(bounds, clientP99)
	if i < len(bounds) && serverP99 > bounds[i] {
		t.Errorf("server p99 ≤ %v ms, above the client's p99 of %v ms", serverP99, clientP99)
	}
	if within <= 0 || within > 100 || serverP99 <= 5 && within < 99 {
		t.Errorf("%v%% within 5 ms, with the server's p99 ≤ %v ms", within, serverP99)
	}
}

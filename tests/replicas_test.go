package tests_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/actionledger/actionledger/services/eventstore/kurrentstore/kurrenttest"
	"github.com/actionledger/actionledger/services/server"
)

// Replicas: several actionledger servers, each with its own data dir (read
// models, secrets), all on one KurrentDB — here the in-process server that
// speaks KurrentDB's gRPC protocol to the real client library. bbolt allows
// one process per file, so the embedded store cannot be shared this way.

// startReplica boots the real wiring on the KurrentDB store.
func startReplica(t *testing.T, kurrentURL string) *env {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.Open(ctx, server.Config{
		Addr: "127.0.0.1:0", DataDir: dir, AdminToken: adminToken, TokenSecret: tokenSecret,
		Store: server.StoreKurrentDB, KurrentDBURL: kurrentURL, SnapshotEvery: time.Second,
	}, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatalf("opening a replica: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	e := &env{t: t, base: m.URL(), dataDir: dir, main: m, tokens: map[string]string{"admin": adminToken}}
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica serve: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("replica close: %v", err)
		}
	}
	t.Cleanup(e.stop)
	return e
}

// sharing returns a view of replica e that uses the tokens of other: the
// users were created through other.
func (e *env) sharing(other *env) *env {
	c := *e
	c.tokens = other.tokens
	return &c
}

// repCompletion reads /v1/stats/completion for Kenema once the read models
// reached minPos, without the position itself (replicas may be further).
func repCompletion(t *testing.T, e *env, minPos uint64) string {
	t.Helper()
	res := e.on(t).must(http.StatusOK, req{method: "GET", token: "coord",
		path: "/v1/stats/completion?district=Kenema&min_position=" + strconv.FormatUint(minPos, 10)})
	delete(res.body, "position")
	out, err := json.Marshal(res.body)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// repGauges scrapes the indicator gauges (GET /v1/stats/metrics, as the
// auditor token): series -> value.
func repGauges(t *testing.T, e *env, token string) map[string]string {
	t.Helper()
	hr, err := http.NewRequest(http.MethodGet, e.base+"/v1/stats/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/stats/metrics: status %d", resp.StatusCode)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"actionledger_action_points{", "actionledger_completion_rate{", "actionledger_trust_index{"} {
			if strings.HasPrefix(line, name) {
				if i := strings.LastIndexByte(line, ' '); i > 0 {
					out[line[:i]] = line[i+1:]
				}
			}
		}
	}
	return out
}

// repReady reports the status of /readyz.
func repReady(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// repPost sends a state change from any goroutine (env.must may only be
// used from the test's own).
func repPost(base, token, path, ifMatch string, body map[string]any) (int, string, error) {
	raw, _ := json.Marshal(body)
	r, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, "", err
	}
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	if ifMatch != "" {
		r.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var p struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p.Code, nil
}

func TestReplicasShareOneKurrentDB(t *testing.T) {
	srv := kurrenttest.Start(t, kurrenttest.Options{SystemEventEvery: 5})
	a := startReplica(t, srv.URL())
	b := startReplica(t, srv.URL())

	// Users are created through A only; B authenticates them by re-reading
	// the users stream when it meets a token it does not know.
	a.staff()
	b = b.sharing(a)

	t.Run("users created on one replica sign in on the other", func(t *testing.T) {
		for _, name := range []string{"coord", "mob", "mob-kailahun", "coord-national", "auditor"} {
			// 404, not 401: the token was accepted, the action point does
			// not exist.
			if res := b.on(t).do(req{method: "GET", path: "/v1/action-points/none", token: name}); res.status != http.StatusNotFound {
				t.Errorf("%s's token, made on replica A: replica B answers %d, want 404", name, res.status)
			}
		}
	})

	// Writes alternate between the replicas.
	a.community("KEN-1")
	b.community("KEN-2")
	var last uint64
	for i := range 12 {
		e := []*env{a, b}[i%2]
		id := fmt.Sprintf("AP-%d", i)
		last = uint64(e.actionPoint(id, []string{"KEN-1", "KEN-2"}[i%2]).num("position"))
		if i%3 == 0 {
			f := []*env{b, a}[i%2] // the other replica moves it on
			last = uint64(f.must(http.StatusOK, req{method: "POST", path: "/v1/action-points/" + id + "/start", token: "mob",
				body: map[string]any{"note": "begun"}}).num("position"))
		}
	}

	t.Run("both replicas serve the same indicators", func(t *testing.T) {
		ca, cb := repCompletion(t, a, last), repCompletion(t, b, last)
		if ca != cb {
			t.Fatalf("replicas disagree:\n A %s\n B %s", ca, cb)
		}
		if !strings.Contains(ca, `"total":12`) {
			t.Fatalf("completion misses writes: %s", ca)
		}
	})

	t.Run("both replicas export the same indicator gauges", func(t *testing.T) {
		ga, gb := repGauges(t, a, a.tokens["auditor"]), repGauges(t, b, a.tokens["auditor"])
		if len(ga) == 0 || ga[`actionledger_action_points{district="Kenema",status="open"}`] == "" {
			t.Fatalf("no action-point gauges for Kenema in /metrics: %v", ga)
		}
		for k, v := range ga {
			if gb[k] != v {
				t.Errorf("%s: %s on A, %q on B", k, v, gb[k])
			}
		}
	})

	t.Run("concurrent If-Match writes through both: one wins, one is stale", func(t *testing.T) {
		a.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{
			"id": "AP-RACE", "community_id": "KEN-1", "title": "Watch for visitors", "category": "surveillance", "kind": "continuous"}})
		a.must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-RACE/start", token: "mob", body: map[string]any{"note": "on"}})
		const rounds = 15
		for round := range rounds {
			rev := int(a.must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-RACE", token: "mob"}).num("revision"))
			ifMatch := fmt.Sprintf(`"%d"`, rev)
			type outcome struct {
				status int
				code   string
				err    error
			}
			results := make([]outcome, 2)
			var wg sync.WaitGroup
			gate := make(chan struct{})
			for i, e := range []*env{a, b} {
				wg.Go(func() {
					<-gate
					st, code, err := repPost(e.base, e.tokens["mob"], "/v1/action-points/AP-RACE/progress", ifMatch,
						map[string]any{"note": fmt.Sprintf("round %d via replica %d", round, i)})
					results[i] = outcome{st, code, err}
				})
			}
			close(gate)
			wg.Wait()
			won, stale := 0, 0
			for i, r := range results {
				switch {
				case r.err != nil:
					t.Fatalf("round %d replica %d: %v", round, i, r.err)
				case r.status == http.StatusOK:
					won++
				case r.status == http.StatusPreconditionFailed && r.code == "stale_revision":
					// Only If-Match can refuse a progress note (the
					// lifecycle allows any number): not a 409.
					stale++
				default:
					t.Fatalf("round %d replica %d: status %d %s", round, i, r.status, r.code)
				}
			}
			if won != 1 || stale != 1 {
				t.Fatalf("round %d at revision %d: %d won, %d refused; want exactly one of each", round, rev, won, stale)
			}
			got := int(b.must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-RACE", token: "mob"}).num("revision"))
			if got != rev+1 {
				t.Fatalf("round %d: revision %d after one accepted change from %d: an update was lost or doubled", round, got, rev)
			}
		}
	})

	t.Run("a stale If-Match through the other replica: 412, nothing written", func(t *testing.T) {
		path := "/v1/action-points/AP-RACE"
		rev := int(a.must(http.StatusOK, req{method: "GET", path: path, token: "mob"}).num("revision"))
		a.must(http.StatusOK, req{method: "POST", path: path + "/progress", token: "mob", ifMatch: fmt.Sprintf(`"%d"`, rev),
			body: map[string]any{"note": "through A"}})
		for _, e := range []*env{b, a} {
			e.on(t).problem(req{method: "POST", path: path + "/progress", token: "mob", ifMatch: fmt.Sprintf(`"%d"`, rev),
				body: map[string]any{"note": "stale"}}, http.StatusPreconditionFailed, "stale_revision", "")
		}
		for name, e := range map[string]*env{"A": a, "B": b} {
			res := e.on(t).must(http.StatusOK, req{method: "GET", path: path, token: "mob"})
			if got := int(res.num("revision")); got != rev+1 || res.header.Get("ETag") != fmt.Sprintf(`"%d"`, rev+1) {
				t.Errorf("replica %s: revision %d (ETag %s) after one accepted and two refused changes from %d", name, got, res.header.Get("ETag"), rev)
			}
		}
		events := auditEvents(t, a.on(t), "auditor", "/v1/streams/actionpoint-AP-RACE/events", url.Values{}, 100)
		if len(events) != rev+1 {
			t.Errorf("%d events in the stream, want %d: a refused change was written", len(events), rev+1)
		}
		for _, ev := range events {
			if strings.Contains(string(ev.Data), "stale") {
				t.Errorf("the refused note is in the log: %s", ev.Data)
			}
		}
	})

	t.Run("concurrent writes without If-Match through both: none lost", func(t *testing.T) {
		before := int(a.must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-RACE", token: "mob"}).num("revision"))
		const each = 10
		var wg sync.WaitGroup
		var accepted, busy atomic.Int64
		errs := make(chan error, 2*each)
		for i, e := range []*env{a, b} {
			wg.Go(func() {
				for n := range each {
					st, code, err := repPost(e.base, e.tokens["mob"], "/v1/action-points/AP-RACE/progress", "",
						map[string]any{"note": fmt.Sprintf("note %d via replica %d", n, i)})
					switch {
					case err == nil && st == http.StatusOK:
						accepted.Add(1)
					case err == nil && st == http.StatusServiceUnavailable && code == "unavailable":
						// The writer gave up after its bounded retries
						// and said so: nothing was written, the client may
						// try again. Not a lost update.
						busy.Add(1)
					default:
						errs <- fmt.Errorf("replica %d note %d: status %d %s %v", i, n, st, code, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		got := int(b.must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-RACE", token: "mob"}).num("revision"))
		if got != before+int(accepted.Load()) {
			t.Fatalf("revision %d after %d accepted notes from %d: an accepted update was lost or one was doubled", got, accepted.Load(), before)
		}
		if accepted.Load() < each {
			t.Fatalf("only %d of %d notes accepted (%d answered busy)", accepted.Load(), 2*each, busy.Load())
		}
		t.Logf("%d notes accepted, %d answered 503 after the writer's bounded retries", accepted.Load(), busy.Load())
	})
}

// A replica started on a store that already holds many events reports not
// ready until its read models have caught up, and then serves what the
// others serve.
func TestLateReplicaIsNotReadyUntilCaughtUp(t *testing.T) {
	srv := kurrenttest.Start(t, kurrenttest.Options{})
	a := startReplica(t, srv.URL())
	a.staff()
	a.community("KEN-1")
	var last uint64
	const aps = 150
	for i := range aps {
		last = uint64(a.actionPoint(fmt.Sprintf("AP-%d", i), "KEN-1").num("position"))
	}
	want := repCompletion(t, a, last)

	// A slow link makes the catch-up of a few hundred events take seconds.
	srv.SetSubscriptionDelay(10 * time.Millisecond)
	began := time.Now()
	late := startReplica(t, srv.URL()).sharing(a)
	notReady := 0
	for repReady(t, late.base) != http.StatusOK {
		notReady++
		if time.Since(began) > 60*time.Second {
			t.Fatal("the late replica did not become ready within 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(began)
	if notReady == 0 {
		t.Fatal("the late replica was ready at once, before catching up")
	}
	srv.SetSubscriptionDelay(0)
	// Ready means caught up with the log as it was at start: no min_position
	// needed to see every earlier write.
	res := late.must(http.StatusOK, req{method: "GET", token: "coord", path: "/v1/stats/completion?district=Kenema"})
	if pos := uint64(res.num("position")); pos < last {
		t.Fatalf("ready at position %d, before the last write at %d", pos, last)
	}
	if got := repCompletion(t, late, last); got != want {
		t.Fatalf("late replica serves\n %s\nwant\n %s", got, want)
	}
	t.Logf("late replica: not ready for %s (%d probes), then ready and consistent", took.Round(time.Millisecond), notReady)
}

// savedPositions scrapes actionledger_projection_saved_position from base:
// read model -> position of its last saved snapshot.
func savedPositions(t *testing.T, base string) map[string]uint64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(resp.Body)
	const name = "actionledger_projection_saved_position{"
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[len(name):i]] = uint64(v)
	}
	return out
}

// replicaProcess is the real binary serving on the KurrentDB store.
type replicaProcess struct {
	cmd  *exec.Cmd
	base string
}

func startReplicaProcess(t *testing.T, dataDir, kurrentURL string) *replicaProcess {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--store", "kurrentdb", "--snapshot-every", "200ms")
	cmd.Env = append(os.Environ(), "ACTIONLEDGER_ADMIN_TOKEN="+adminToken, "ACTIONLEDGER_TOKEN_SECRET="+tokenSecret,
		"ACTIONLEDGER_KURRENTDB_URL="+kurrentURL)
	return &replicaProcess{cmd: cmd, base: startCmd(t, cmd)}
}

// startCmd starts a `serve` command and returns its base URL once it logs
// that it serves.
func startCmd(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	var logMu sync.Mutex
	var logTail []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logTail = append(logTail, sc.Text())
			logMu.Unlock()
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				addr <- line.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("process did not start within 30s:\n%s", strings.Join(logTail, "\n"))
	}
	return ""
}

// A replica process killed with SIGKILL and started again on its data dir
// resumes its read models from their snapshot, catches up with what the other
// replica wrote meanwhile, and serves the same indicators.
func TestReplicaKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv := kurrenttest.Start(t, kurrenttest.Options{})
	a := startReplica(t, srv.URL())
	a.staff()
	a.community("KEN-1")

	dir := t.TempDir()
	p := startReplicaProcess(t, dir, srv.URL())
	b := &env{t: t, base: p.base, tokens: a.tokens}
	var last uint64
	for i := range 20 {
		e := []*env{a, b}[i%2]
		last = uint64(e.actionPoint(fmt.Sprintf("AP-%d", i), "KEN-1").num("position"))
	}
	if got, want := repCompletion(t, b, last), repCompletion(t, a, last); got != want {
		t.Fatalf("before the kill, replicas disagree:\n B %s\n A %s", got, want)
	}
	// Kill B once every read model has saved a snapshot covering the
	// writes, so that the restart resumes from a snapshot (what this test
	// is about), not from an empty model.
	deadline := time.Now().Add(30 * time.Second)
	for {
		saved := savedPositions(t, b.base)
		caughtUp := len(saved) > 0
		for _, pos := range saved {
			caughtUp = caughtUp && pos >= last
		}
		if caughtUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B saved no snapshot at or past %d within 30s: %v", last, saved)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	// A carries on alone.
	for i := 20; i < 40; i++ {
		last = uint64(a.actionPoint(fmt.Sprintf("AP-%d", i), "KEN-1").num("position"))
	}
	a.must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-3/start", token: "mob", body: map[string]any{"note": "x"}})

	p2 := startReplicaProcess(t, dir, srv.URL())
	b = &env{t: t, base: p2.base, tokens: a.tokens}
	deadline = time.Now().Add(30 * time.Second)
	for repReady(t, b.base) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the restarted replica did not become ready within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, want := repCompletion(t, b, last), repCompletion(t, a, last)
	if got != want {
		t.Fatalf("after the restart, replicas disagree:\n B %s\n A %s", got, want)
	}
	var stats map[string]any
	_ = json.Unmarshal([]byte(got), &stats)
	if stats["total"] != float64(40) {
		t.Fatalf("the restarted replica counts %v action points, want 40 (keys %v)", stats["total"], slices.Sorted(maps.Keys(stats)))
	}
}

package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// heldRebuild is the real engine's rebuild held at its start until the
// test lets it go, reporting a rebuild 400 events into a 1000-event log
// begun four seconds before the clock reads.
type heldRebuild struct {
	real    *projections.Engine
	gate    chan struct{}
	held    atomic.Bool
	calls   atomic.Int32
	started time.Time
}

func (h *heldRebuild) Rebuild(ctx context.Context) (projections.RebuildReport, error) {
	h.calls.Add(1)
	h.held.Store(true)
	<-h.gate
	h.held.Store(false)
	return h.real.Rebuild(ctx)
}

func (h *heldRebuild) RebuildProgress() projections.RebuildProgress {
	if h.held.Load() {
		return projections.RebuildProgress{Running: true, Replayed: 400, Head: 1000, Started: h.started}
	}
	return h.real.RebuildProgress()
}

// The admin starts a rebuild from the console and follows it: the page
// shows how far it has got, its rate and the time left, and reloads itself
// (no JavaScript) until it is done; GET /v1/admin/projections/rebuild
// answers the same figures; a second start while it runs joins it.
func TestConsoleRebuildProgress(t *testing.T) {
	started := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	held := &heldRebuild{gate: make(chan struct{}), started: started}
	e := newEnv(t, func(a *app.Application, read *projections.Engine) {
		held.real = read
		a.Rebuilds = app.NewRebuilds(held, func() time.Time { return started.Add(4 * time.Second) }, nil)
	})
	released := false
	t.Cleanup(func() {
		if !released {
			close(held.gate)
		}
	})
	admin := e.signIn(t, adminToken)
	p := admin.post("/operations/rebuild", admin.form())
	for deadline := time.Now().Add(10 * time.Second); !held.held.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the rebuild never started")
		}
		time.Sleep(time.Millisecond)
	}
	p = admin.get("/operations/rebuild")
	for _, want := range []string{`<meta http-equiv="refresh" content="2">`, `id="rebuild-progress"`, "400 of 1000 events replayed (40%)",
		`<dd id="rebuild-elapsed">4s</dd>`, `<dd id="rebuild-rate">100</dd>`, `<dd id="rebuild-left">6s</dd>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the progress page lacks %q:\n%s", want, p.body)
		}
	}
	if strings.Contains(p.body, `action="/operations/rebuild"`) {
		t.Errorf("the page offers a second rebuild while one runs:\n%s", p.body)
	}
	if ops := admin.get("/operations"); !strings.Contains(ops.body, `href="/operations/rebuild"`) || strings.Contains(ops.body, `http-equiv="refresh"`) {
		t.Errorf("the operations page should link to the running rebuild without reloading itself:\n%s", ops.body)
	}

	r := e.do(t, call{method: http.MethodGet, path: "/v1/admin/projections/rebuild", token: adminToken})
	if r.status != http.StatusOK {
		t.Fatalf("GET status: %d %s", r.status, r.body)
	}
	st := r.json(t)
	if st["state"] != "running" || st["replayed"] != float64(400) || st["head"] != float64(1000) ||
		st["events_per_second"] != float64(100) || st["remaining_seconds"] != float64(6) || st["elapsed_seconds"] != float64(4) {
		t.Errorf("GET status while running: %v", st)
	}

	// A second start while it runs shows the running one.
	again := admin.post("/operations/rebuild", admin.form())
	if !strings.Contains(again.body, "400 of 1000 events replayed") || held.calls.Load() != 1 {
		t.Errorf("a second start: %d rebuilds run; page:\n%s", held.calls.Load(), again.body)
	}

	close(held.gate)
	released = true
	for deadline := time.Now().Add(30 * time.Second); ; {
		st = e.do(t, call{method: http.MethodGet, path: "/v1/admin/projections/rebuild", token: adminToken}).json(t)
		if st["state"] == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild never finished: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := st["report"].(map[string]any); !ok {
		t.Errorf("a finished rebuild's status has no report: %v", st)
	}
	p = admin.get("/operations/rebuild")
	if !strings.Contains(p.body, `id="rebuild-report"`) || strings.Contains(p.body, `http-equiv="refresh"`) || !strings.Contains(p.body, `action="/operations/rebuild"`) {
		t.Errorf("the page of a finished rebuild:\n%s", p.body)
	}

	// Only an admin follows a rebuild.
	_, tok := e.createUser(t, "Coordinator", "coordinator", "Kenema", "")
	if r := e.do(t, call{method: http.MethodGet, path: "/v1/admin/projections/rebuild", token: tok}); r.status != http.StatusForbidden {
		t.Errorf("a coordinator asks the rebuild status: %d, want 403", r.status)
	}
}

package tests_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/actionledger/actionledger/services/server"
)

// testClock is server time a test sets: recorded_at is stamped from it, so
// a test knows to the nanosecond when each event was recorded.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// startClocked boots the real wiring on the embedded store with server time
// from clock.
func startClocked(t *testing.T, clock *testClock) *env {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.Open(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir, AdminToken: adminToken, TokenSecret: tokenSecret,
		Clock: clock.Now}, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatalf("opening server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	e := &env{t: t, base: m.URL(), dataDir: dir, main: m, tokens: map[string]string{"admin": adminToken}}
	e.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	t.Cleanup(e.stop)
	return e
}

// TestAsOfExactBoundary: "as known at T" includes the events recorded at
// T exactly, and "as happened by T" those that occurred at T exactly; one
// nanosecond earlier they are not there. Server time is injected, so the
// recorded_at of each event is known exactly.
func TestAsOfExactBoundary(t *testing.T) {
	clock := &testClock{now: time.Date(2015, 3, 1, 8, 0, 0, 0, time.UTC)}
	e := startClocked(t, clock)
	e.staff()
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord",
		body: map[string]any{"id": "KEN-B", "name": "Village KEN-B", "district": "Kenema", "chiefdom": "Nongowa", "section": "Hangha",
			"population": 800, "occurred_at": "2015-01-05T09:00:00Z"}})
	e.must(http.StatusOK, req{method: "POST", path: "/v1/communities/KEN-B/triggering", token: "mob",
		body: map[string]any{"attendance": 120, "occurred_at": "2015-01-06T09:00:00Z"}})

	// The action point is raised in the field on 27 February and recorded
	// on 1 March at 09:00:00.25; it is started on 28 February and that is
	// recorded at 10:00:00.5. Field times and server times differ, so the
	// two bases do not agree by accident.
	raisedAt, startedAt := time.Date(2015, 2, 27, 10, 0, 0, 0, time.UTC), time.Date(2015, 2, 28, 10, 0, 0, 0, time.UTC)
	raisedRec, startedRec := time.Date(2015, 3, 1, 9, 0, 0, 250_000_000, time.UTC), time.Date(2015, 3, 1, 10, 0, 0, 500_000_000, time.UTC)
	clock.set(raisedRec)
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob",
		body: map[string]any{"id": "AP1", "community_id": "KEN-B", "title": "Hand-washing station", "category": "hygiene",
			"kind": "one_off", "due_date": "2015-03-20", "occurred_at": raisedAt.Format(time.RFC3339Nano)}})
	clock.set(startedRec)
	e.must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP1/start", token: "mob",
		body: map[string]any{"note": "begun", "occurred_at": startedAt.Format(time.RFC3339Nano)}})
	clock.set(startedRec.Add(time.Hour))

	// The events say when they were recorded, as the harness set it.
	events := auditEvents(t, e, "auditor", "/v1/streams/actionpoint-AP1/events", url.Values{}, 10)
	if len(events) != 2 {
		t.Fatalf("%d events in the stream, want 2", len(events))
	}
	for i, want := range []time.Time{raisedRec, startedRec} {
		if !events[i].RecordedAt.Equal(want) {
			t.Fatalf("event %d recorded at %s, want %s (the injected clock)", i+1, events[i].RecordedAt, want)
		}
	}

	for _, tc := range []struct {
		name, basis string
		at          time.Time
		status      string // "" : 404, not raised yet
		etag        string
	}{
		{"recorded_start_exactly_at", "recorded", startedRec, "in_progress", `"2"`},
		{"recorded_start_1ns_after_at", "recorded", startedRec.Add(-time.Nanosecond), "open", `"1"`},
		{"recorded_raise_exactly_at", "recorded", raisedRec, "open", `"1"`},
		{"recorded_raise_1ns_after_at", "recorded", raisedRec.Add(-time.Nanosecond), "", ""},
		{"occurred_start_exactly_at", "occurred", startedAt, "in_progress", `"2"`},
		{"occurred_start_1ns_after_at", "occurred", startedAt.Add(-time.Nanosecond), "open", `"1"`},
		{"occurred_raise_exactly_at", "occurred", raisedAt, "open", `"1"`},
		{"occurred_raise_1ns_after_at", "occurred", raisedAt.Add(-time.Nanosecond), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.on(t)
			q := url.Values{"stream": {"actionpoint-AP1"}, "at": {tc.at.Format(time.RFC3339Nano)}, "basis": {tc.basis}}
			r := req{method: "GET", path: "/v1/audit/as-of/aggregate?" + q.Encode(), token: "auditor"}
			if tc.status == "" {
				e.problem(r, http.StatusNotFound, "not_found", "")
			} else {
				res := e.must(http.StatusOK, r)
				if res.str("status") != tc.status || res.header.Get("ETag") != tc.etag {
					t.Errorf("status %q ETag %s, want %q %s: %s", res.str("status"), res.header.Get("ETag"), tc.status, tc.etag, res.raw)
				}
			}

			// The indicators as of the same instant agree with the
			// aggregate: the action point counted, and in the same state.
			q = url.Values{"at": {tc.at.Format(time.RFC3339Nano)}, "basis": {tc.basis}, "district": {"Kenema"}}
			var got struct {
				Completion struct {
					Total      int `json:"total"`
					Open       int `json:"open"`
					InProgress int `json:"in_progress"`
				} `json:"completion"`
			}
			res := e.must(http.StatusOK, req{method: "GET", path: "/v1/audit/as-of?" + q.Encode(), token: "auditor"})
			if err := json.Unmarshal(res.raw, &got); err != nil {
				t.Fatal(err)
			}
			want := [3]int{}
			switch tc.status {
			case "open":
				want = [3]int{1, 1, 0}
			case "in_progress":
				want = [3]int{1, 0, 1}
			}
			if c := got.Completion; [3]int{c.Total, c.Open, c.InProgress} != want {
				t.Errorf("as-of completion total/open/in_progress %d/%d/%d, want %v", c.Total, c.Open, c.InProgress, want)
			}
		})
	}
}

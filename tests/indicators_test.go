package tests_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIndicatorsMatchRecount drives a few hundred randomised lifecycles over
// HTTP and checks every indicator route, for every place, against the test's
// own recount of what the server accepted.
func TestIndicatorsMatchRecount(t *testing.T) {
	e := start(t)
	e.staff()
	e.user("mob-bo", "mobilizer", "Bo", "")
	w := newWorld(20141014)
	began := time.Now()
	w.run(e, w.registerCommunities())
	w.run(e, w.plan(150, 90, 100))
	edges, edgeFrom := w.edgeCases()
	w.run(e, edges)
	t.Logf("drove %s in %s", w.summary(), time.Since(began).Round(time.Millisecond))
	guardDay(t, w)

	checkAll(t, e, w, "coord-national", w.lastPos, true)

	// The boundaries edgeCases placed, one query each (checkAll met them
	// among the rest too).
	t.Run("edge: due on the last day of a past week", func(t *testing.T) {
		checkCompletion(t, e, w, "coord-national", scope{community: "BO-1"}, true, w.lastPos)
	})
	t.Run("edge: falling looks back past from", func(t *testing.T) {
		sc := scope{community: "BO-2"}
		whole := checkTrust(t, e, w, "coord-national", sc, w.lastPos)
		sc.from = edgeFrom
		part := checkTrust(t, e, w, "coord-national", sc, w.lastPos)
		sameTrustWeeks(t, "trust "+sc.String(), part, whole)
	})

	// The auditor reads the same national numbers as the coordinator.
	t.Run("auditor", func(t *testing.T) {
		national, districts, _, communities := placeScopes(w)
		for _, sc := range []scope{national, districts[1], communities[4]} {
			checkCompletion(t, e, w, "auditor", sc, true, w.lastPos)
			checkReferrals(t, e, w, "auditor", sc, w.lastPos)
			checkFeedback(t, e, w, "auditor", sc, true, w.lastPos)
			checkTrust(t, e, w, "auditor", sc, w.lastPos)
		}
	})
	guardDay(t, w)
}

// TestIndicatorsSurviveRestart drives half the writes, restarts the server on
// the same data dir, drives the rest, and checks the indicators against the
// recount after each step — and that a restart from an older checkpoint or
// from no read-model state at all catches up without counting anything
// twice.
func TestIndicatorsSurviveRestart(t *testing.T) {
	e := start(t)
	e.staff()
	dir := e.dataDir
	w := newWorld(1976)
	w.run(e, w.registerCommunities())
	ops := w.plan(50, 30, 30)
	half := len(ops) / 2
	w.run(e, ops[:half])
	posHalf := w.lastPos
	nAPHalf := len(w.aps)
	checkAll(t, e, w, "coord-national", posHalf, false)
	e.stop()

	projDB := filepath.Join(dir, "projections.db")
	halfSnapshot := filepath.Join(t.TempDir(), "projections-half.db")
	copyFile(t, projDB, halfSnapshot)

	restart := func(t *testing.T, name string) *env {
		t.Helper()
		tokens := e.tokens
		e = startIn(t, dir)
		for k, v := range tokens {
			e.tokens[k] = v
		}
		t.Logf("%s: restarted on %s", name, e.base)
		return e
	}

	restart(t, "after half")
	t.Run("caught up right after restart", func(t *testing.T) {
		var c completionJSON
		e.on(t).getStats("coord-national", "/v1/stats/completion", url.Values{"min_position": {itoa(posHalf)}}, &c)
		if c.Position < posHalf {
			t.Fatalf("position %d after restart, want at least %d", c.Position, posHalf)
		}
		if c.Total != nAPHalf {
			t.Fatalf("total %d after restart, want exactly the %d action points created", c.Total, nAPHalf)
		}
		checkAll(t, e, w, "coord-national", posHalf, false)
	})

	w.run(e, ops[half:])
	guardDay(t, w)
	t.Run("second half", func(t *testing.T) {
		c := checkCompletion(t, e, w, "coord-national", scope{}, false, w.lastPos)
		if c.Total != len(w.aps) {
			t.Errorf("total %d, want exactly the %d action points created", c.Total, len(w.aps))
		}
		checkAll(t, e, w, "coord-national", w.lastPos, false)
	})
	reference := answers(t, e, w, w.lastPos)
	e.stop()

	// The read models resume from an older checkpoint (as after a crash
	// between snapshots): the second half is replayed onto the half-way
	// state and must count once.
	copyFile(t, halfSnapshot, projDB)
	restart(t, "from the half-way checkpoint")
	t.Run("from an older checkpoint", func(t *testing.T) {
		c := checkCompletion(t, e, w, "coord-national", scope{}, false, w.lastPos)
		if c.Total != len(w.aps) {
			t.Errorf("total %d, want exactly the %d action points created", c.Total, len(w.aps))
		}
		checkAll(t, e, w, "coord-national", w.lastPos, false)
		sameAnswers(t, "from the half-way checkpoint", answers(t, e, w, w.lastPos), reference)
	})
	e.stop()

	// No read-model state at all: everything is rebuilt from the log.
	if err := os.Remove(projDB); err != nil {
		t.Fatal(err)
	}
	restart(t, "without read-model state")
	t.Run("from nothing", func(t *testing.T) {
		checkAll(t, e, w, "coord-national", w.lastPos, false)
		sameAnswers(t, "rebuilt from the log", answers(t, e, w, w.lastPos), reference)
	})
	t.Logf("%s", w.summary())
}

// TestReadYourWrites: a write's position, used at once as min_position,
// already shows the write; a position far ahead answers 503
// projection_behind after the bounded wait.
func TestReadYourWrites(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	var counts struct{ aps, refs, fbs, visits int }
	for i := range 50 {
		var res response
		switch i % 4 {
		case 0:
			res = e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{
				"id": "AP-" + itoa(uint64(i)), "community_id": "KEN-1", "title": "t", "category": "hygiene", "kind": "continuous"}})
			counts.aps++
		case 1:
			res = e.must(http.StatusCreated, req{method: "POST", path: "/v1/referrals", token: "mob", body: map[string]any{
				"id": "R-" + itoa(uint64(i)), "community_id": "KEN-1", "kind": "death_alert"}})
			counts.refs++
		case 2:
			res = e.must(http.StatusCreated, req{method: "POST", path: "/v1/feedback", token: "mob", body: map[string]any{
				"id": "F-" + itoa(uint64(i)), "community_id": "KEN-1", "type": "question", "text": "why?"}})
			counts.fbs++
		case 3:
			res = e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities/KEN-1/visits", token: "mob", body: map[string]any{
				"kind": "follow_up", "trust_rating": 1 + i%5}})
			counts.visits++
		}
		pos := uint64(res.num("position"))
		q := url.Values{"min_position": {itoa(pos)}}
		switch i % 4 {
		case 0:
			var c completionJSON
			e.getStats("coord", "/v1/stats/completion", q, &c)
			if c.Total != counts.aps || c.Position < pos {
				t.Fatalf("write %d: completion total %d at position %d, want %d at %d or later", i, c.Total, c.Position, counts.aps, pos)
			}
		case 1:
			var r referralsJSON
			e.getStats("coord", "/v1/stats/referrals", q, &r)
			if r.Total != counts.refs || r.Position < pos {
				t.Fatalf("write %d: referrals total %d at position %d, want %d at %d or later", i, r.Total, r.Position, counts.refs, pos)
			}
		case 2:
			var f feedbackJSON
			e.getStats("coord", "/v1/stats/feedback", q, &f)
			if f.Received != counts.fbs || f.Position < pos {
				t.Fatalf("write %d: feedback received %d at position %d, want %d at %d or later", i, f.Received, f.Position, counts.fbs, pos)
			}
		case 3:
			var tr trustJSON
			e.getStats("coord", "/v1/stats/trust", q, &tr)
			visits := 0
			for _, s := range tr.Series {
				visits += s.Visits
			}
			if visits != counts.visits || tr.Position < pos {
				t.Fatalf("write %d: trust visits %d at position %d, want %d at %d or later", i, visits, tr.Position, counts.visits, pos)
			}
		}
	}

	t.Run("far ahead", func(t *testing.T) {
		var c completionJSON
		e.on(t).getStats("coord", "/v1/stats/completion", nil, &c)
		began := time.Now()
		res := e.on(t).problem(req{method: "GET", path: "/v1/stats/completion?min_position=" + itoa(c.Position+1_000_000), token: "coord"},
			http.StatusServiceUnavailable, "projection_behind", "")
		took := time.Since(began)
		if took < 1500*time.Millisecond || took > 5*time.Second {
			t.Errorf("projection_behind after %s, want after about 2s (1.5s to 5s)", took)
		}
		if res.header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		t.Logf("projection_behind after %s", took.Round(time.Millisecond))
	})
}

// answers reads every indicator route, weekly where it has a series, for
// the nation, each district and chiefdom and a few communities, without the
// position: the numbers a restart must not change.
func answers(t *testing.T, e *env, w *world, minPos uint64) map[string]string {
	t.Helper()
	national, districts, chiefdoms, communities := placeScopes(w)
	out := map[string]string{}
	for _, sc := range append(append(append([]scope{national}, districts...), chiefdoms...), communities[:3]...) {
		for _, route := range statsRoutes {
			q := sc.query(minPos, false)
			if strings.HasSuffix(route, "completion") || strings.HasSuffix(route, "feedback") {
				q.Set("interval", "week")
			}
			var m map[string]any
			e.on(t).getStats("auditor", route, q, &m)
			delete(m, "position")
			out[route+"?"+q.Encode()] = mustJSON(t, m)
		}
	}
	return out
}

func sameAnswers(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s differs:\n got  %s\n want %s", what, k, got[k], v)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

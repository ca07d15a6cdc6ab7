package tests_test

// Helpers for the audit tests: a small history written over HTTP in three
// phases, with field times weeks before the server's clock and late syncs
// (an event that happened early reaches the server in a later phase), the
// test's own record of every write, and recounts of the indicators from that
// record alone.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditCanary is the title of action point AP1: text that appears in the
// store file once per stored copy, for the tamper test, and that no report
// may show.
const auditCanary = "QZX-CANARY hand-washing at the market"

// auditWrite is one accepted write of the scenario.
type auditWrite struct {
	phase     int
	token     string // who sent it
	kind      string // user, community, ap, ref, fb
	agg       string // aggregate id (user name for kind user)
	step      string // raised, started, achieved, dropped, ...
	district  string
	chiefdom  string
	community string
	occurred  time.Time // zero for users (server time)
	detail    string    // referral kind or outcome, feedback type
	stream    string
	position  uint64
}

// auditScenario is the written history and its record.
type auditScenario struct {
	e        *env
	base     time.Time   // a Monday, 09:00 UTC, ten weeks ago: field time origin
	phaseEnd []time.Time // server time just after each phase (recorded basis)
	writes   []auditWrite
	ids      map[string]string // token name -> user id
}

// day is field time n days after base (fractions allowed).
func (s *auditScenario) day(n float64) time.Time {
	return s.base.Add(time.Duration(n * 24 * float64(time.Hour)))
}

var auditPlaces = map[string][2]string{"KEN-A": {"Kenema", "Nongowa"}, "KEN-B": {"Kenema", "Small Bo"}, "KAI-A": {"Kailahun", "Luawa"}}

// newAuditScenario writes the history. Phase 1 sets up communities and
// raises things; phase 2 and 3 move them on, with some reports that
// happened before the end of phase 1 arriving only then.
func newAuditScenario(t *testing.T, e *env) *auditScenario {
	t.Helper()
	now := time.Now().UTC()
	monday := now.AddDate(0, 0, -70).Truncate(24 * time.Hour)
	for monday.Weekday() != time.Monday {
		monday = monday.AddDate(0, 0, -1)
	}
	s := &auditScenario{e: e, base: monday.Add(9 * time.Hour), ids: map[string]string{}}
	phase := 1
	user := func(name, role, district, chiefdom string) {
		res := e.must(http.StatusCreated, req{method: "POST", path: "/v1/users", token: "admin",
			body: map[string]any{"name": name, "role": role, "district": district, "chiefdom": chiefdom}})
		e.tokens[name] = res.str("token")
		s.ids[name] = res.str("id")
		s.writes = append(s.writes, auditWrite{phase: phase, token: "admin", kind: "user", agg: name, step: "created",
			district: district, chiefdom: chiefdom, stream: "users", position: uint64(res.num("position"))})
	}
	user("coord", "coordinator", "Kenema", "")
	user("mob", "mobilizer", "Kenema", "")
	user("mob-kailahun", "mobilizer", "Kailahun", "")
	user("coord-national", "coordinator", "", "")
	user("auditor", "auditor", "", "")
	user("Aminata Distinctname", "auditor", "Kenema", "")
	e.tokens["auditor-kenema"] = e.tokens["Aminata Distinctname"]
	s.ids["auditor-kenema"] = s.ids["Aminata Distinctname"]

	// send writes one command with its field time and records it.
	send := func(token, path string, body map[string]any, w auditWrite, header map[string]string) {
		t.Helper()
		body["occurred_at"] = w.occurred.Format(time.RFC3339)
		r := req{method: "POST", path: path, token: token, body: body, header: header}
		if k, ok := header["Idempotency-Key"]; ok {
			r.key = k
		}
		res := e.do(r)
		if res.status/100 != 2 {
			t.Fatalf("%s %s: %d %s", r.method, path, res.status, res.raw)
		}
		pl := auditPlaces[w.community]
		w.phase, w.token, w.district, w.chiefdom, w.position = phase, token, pl[0], pl[1], uint64(res.num("position"))
		s.writes = append(s.writes, w)
	}
	community := func(id, coord, mob string) {
		pl := auditPlaces[id]
		send(coord, "/v1/communities", map[string]any{"id": id, "name": "Village " + id, "district": pl[0], "chiefdom": pl[1], "population": 900},
			auditWrite{kind: "community", agg: id, step: "registered", community: id, occurred: s.day(0), stream: "community-" + id}, nil)
		send(mob, "/v1/communities/"+id+"/triggering", map[string]any{"attendance": 140},
			auditWrite{kind: "community", agg: id, step: "triggered", community: id, occurred: s.day(0.1), stream: "community-" + id}, nil)
	}
	ap := func(token, id, community, title string, at float64) {
		send(token, "/v1/action-points", map[string]any{"id": id, "community_id": community, "title": title, "category": "hygiene", "kind": "one_off", "due_date": s.day(40).Format(time.DateOnly)},
			auditWrite{kind: "ap", agg: id, step: "raised", community: community, occurred: s.day(at), stream: "actionpoint-" + id}, nil)
	}
	apStep := func(token, id, community, step, path string, body map[string]any, at float64, header map[string]string) {
		send(token, "/v1/action-points/"+id+"/"+path, body,
			auditWrite{kind: "ap", agg: id, step: step, community: community, occurred: s.day(at), stream: "actionpoint-" + id}, header)
	}
	ref := func(token, id, community, kind string, body map[string]any, at float64) {
		body["id"], body["community_id"], body["kind"] = id, community, kind
		send(token, "/v1/referrals", body, auditWrite{kind: "ref", agg: id, step: "raised", community: community, occurred: s.day(at), detail: kind, stream: "referral-" + id}, nil)
	}
	refStep := func(token, id, community, step string, body map[string]any, at float64, detail string) {
		send(token, "/v1/referrals/"+id+"/"+step, body, auditWrite{kind: "ref", agg: id, step: step, community: community, occurred: s.day(at), detail: detail, stream: "referral-" + id}, nil)
	}
	fbStep := func(token, id, community, step string, body map[string]any, at float64) {
		path := "/v1/feedback/" + id + "/" + step
		if step == "received" {
			path = "/v1/feedback"
		}
		send(token, path, body, auditWrite{kind: "fb", agg: id, step: step, community: community, occurred: s.day(at), stream: "feedback-" + id}, nil)
	}
	// endPhase ends a phase just after the recorded_at of its last event,
	// and lets the next begin once server time is past that end: every
	// event of a phase is recorded before its end, every later one after.
	endPhase := func() {
		t.Helper()
		last := s.writes[len(s.writes)-1].position
		recs, err := e.main.Store().ReadAll(t.Context(), last-1, 1)
		if err != nil || len(recs) != 1 || recs[0].Position != last {
			t.Fatalf("reading the last event of phase %d at %d: %v (%d events)", phase, last, err, len(recs))
		}
		end := recs[0].RecordedAt.Add(time.Microsecond).UTC()
		s.phaseEnd = append(s.phaseEnd, end)
		for !time.Now().After(end) {
			runtime.Gosched()
		}
		phase++
	}

	// Phase 1.
	community("KEN-A", "coord", "mob")
	community("KEN-B", "coord", "mob")
	community("KAI-A", "coord-national", "mob-kailahun")
	ap("mob", "AP1", "KEN-A", auditCanary, 1)
	ap("mob", "AP2", "KEN-A", "Dig a refuse pit", 1)
	ap("mob-kailahun", "AP3", "KAI-A", "Chlorine at the well", 2)
	apStep("mob", "AP1", "KEN-A", "started", "start", map[string]any{"note": "Buckets bought"}, 3,
		map[string]string{"Idempotency-Key": "k-ap1-start", "X-Correlation-ID": "corr-ap1"})
	ref("mob", "R1", "KEN-A", "suspected_case", map[string]any{"person_ref": "P-7781", "symptom_onset": s.day(2).Add(-time.Hour).Format(time.RFC3339)}, 2.5)
	fbStep("mob", "F1", "KEN-B", "received", map[string]any{"id": "F1", "community_id": "KEN-B", "type": "rumour", "text": "They say the nurses sell blood"}, 4)
	endPhase()

	// Phase 2: AP2's start happened on day 5 but syncs only now.
	apStep("mob", "AP1", "KEN-A", "achieved", "achieve", map[string]any{"evidence": "Seen in use"}, 10, nil)
	apStep("mob", "AP2", "KEN-A", "started", "start", map[string]any{}, 5, nil)
	refStep("coord", "R1", "KEN-A", "acknowledge", map[string]any{}, 3, "")
	refStep("coord", "R1", "KEN-A", "complete", map[string]any{"arrived_at": s.day(3.2).Format(time.RFC3339), "outcome": "admitted"}, 3.2, "admitted")
	ref("mob-kailahun", "R2", "KAI-A", "death_alert", map[string]any{}, 6)
	refStep("coord-national", "R2", "KAI-A", "acknowledge", map[string]any{}, 6.1, "")
	refStep("coord-national", "R2", "KAI-A", "complete", map[string]any{"arrived_at": s.day(7).Format(time.RFC3339), "outcome": "safe_burial"}, 7, "safe_burial")
	fbStep("coord", "F1", "KEN-B", "refer", map[string]any{"to": "DHMT Kenema"}, 5)
	fbStep("coord", "F1", "KEN-B", "answer", map[string]any{"response": "Samples are only for testing"}, 6)
	endPhase()

	// Phase 3: AP3's start (day 6) and AP4 (day 3) sync late.
	fbStep("mob", "F1", "KEN-B", "close-loop", map[string]any{"communicated_at": s.day(9).Format(time.RFC3339), "satisfied": true}, 9)
	apStep("coord", "AP2", "KEN-A", "dropped", "drop", map[string]any{"reason": "No materials"}, 12, nil)
	apStep("mob-kailahun", "AP3", "KAI-A", "started", "start", map[string]any{}, 6, nil)
	send("mob", "/v1/communities/KEN-A/visits", map[string]any{"kind": "follow_up", "trust_rating": 4},
		auditWrite{kind: "community", agg: "KEN-A", step: "visit", community: "KEN-A", occurred: s.day(7), stream: "community-KEN-A"}, nil)
	ap("mob", "AP4", "KEN-B", "Burial team contact", 3)
	ref("mob", "R3", "KEN-B", "other", map[string]any{}, 8)
	refStep("coord", "R3", "KEN-B", "cancel", map[string]any{"reason": "Raised twice"}, 8.1, "")
	endPhase()
	return s
}

// selected is the writes an as-of question at `at` folds: occurred by then,
// or recorded by then (phase ends are the recorded-basis times).
func (s *auditScenario) selected(basis string, at time.Time) []auditWrite {
	var out []auditWrite
	for _, w := range s.writes {
		if w.kind == "user" {
			continue
		}
		switch basis {
		case "occurred":
			if !w.occurred.After(at) {
				out = append(out, w)
			}
		default:
			if w.phase <= len(s.phaseEnd) && !s.phaseEnd[w.phase-1].After(at) {
				out = append(out, w)
			}
		}
	}
	return out
}

// auditRecount is what the indicators must say, recounted from the record.
type auditRecount struct {
	apTotal, apOpen, apInProgress, apAchieved, apDropped int
	refTotal, deathsWithOutcome, safeBurials             int
	fbReceived, fbLoopClosed                             int
}

func (s *auditScenario) recount(basis string, at time.Time, district string) auditRecount {
	var r auditRecount
	apStatus := map[string]string{}
	var apOrder []string
	refKind := map[string]string{}
	refOutcome := map[string]string{}
	fb := map[string]string{}
	for _, w := range s.selected(basis, at) {
		if district != "" && !strings.EqualFold(w.district, district) {
			continue
		}
		switch w.kind {
		case "ap":
			switch w.step {
			case "raised":
				apStatus[w.agg] = "open"
				apOrder = append(apOrder, w.agg)
			case "started", "reopened":
				if _, ok := apStatus[w.agg]; ok {
					apStatus[w.agg] = "in_progress"
				}
			case "achieved", "dropped":
				if _, ok := apStatus[w.agg]; ok {
					apStatus[w.agg] = w.step
				}
			}
		case "ref":
			switch w.step {
			case "raised":
				refKind[w.agg] = w.detail
			case "complete":
				if _, ok := refKind[w.agg]; ok {
					refOutcome[w.agg] = w.detail
				}
			}
		case "fb":
			switch w.step {
			case "received":
				fb[w.agg] = "received"
			case "close-loop":
				if _, ok := fb[w.agg]; ok {
					fb[w.agg] = "loop_closed"
				}
			}
		}
	}
	for _, id := range apOrder {
		r.apTotal++
		switch apStatus[id] {
		case "open":
			r.apOpen++
		case "in_progress":
			r.apInProgress++
		case "achieved":
			r.apAchieved++
		case "dropped":
			r.apDropped++
		}
	}
	for id, kind := range refKind {
		r.refTotal++
		if out, ok := refOutcome[id]; ok && kind == "death_alert" {
			r.deathsWithOutcome++
			if out == "safe_burial" {
				r.safeBurials++
			}
		}
	}
	for _, st := range fb {
		r.fbReceived++
		if st == "loop_closed" {
			r.fbLoopClosed++
		}
	}
	return r
}

// positionsWhere lists the positions of the writes keep selects, in order.
func (s *auditScenario) positionsWhere(keep func(w auditWrite) bool) []uint64 {
	var out []uint64
	for _, w := range s.writes {
		if keep(w) {
			out = append(out, w.position)
		}
	}
	slices.Sort(out)
	return out
}

// auditEvent is an event as the audit routes show it.
type auditEvent struct {
	EventID        string          `json:"event_id"`
	Type           string          `json:"type"`
	Stream         string          `json:"stream"`
	Revision       uint64          `json:"revision"`
	Position       uint64          `json:"position"`
	OccurredAt     time.Time       `json:"occurred_at"`
	RecordedAt     time.Time       `json:"recorded_at"`
	ActorID        string          `json:"actor_id"`
	ActorRole      string          `json:"actor_role"`
	CorrelationID  string          `json:"correlation_id"`
	CausationID    string          `json:"causation_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	PrevHash       string          `json:"prev_hash"`
	Hash           string          `json:"hash"`
	Data           json.RawMessage `json:"data"`
	Redacted       []string        `json:"redacted"`
}

type auditPage struct {
	Events     []auditEvent `json:"events"`
	NextCursor string       `json:"next_cursor"`
}

// auditEvents pages through a route to the end with limit per page.
func auditEvents(t *testing.T, e *env, token, path string, q url.Values, limit int) []auditEvent {
	t.Helper()
	q = cloneValues(q)
	q.Set("limit", fmt.Sprint(limit))
	var all []auditEvent
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("paging does not end")
		}
		res := e.must(http.StatusOK, req{method: "GET", path: path + "?" + q.Encode(), token: token})
		var p auditPage
		if err := json.Unmarshal(res.raw, &p); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(p.Events) > limit {
			t.Fatalf("%s: %d events on a page of %d", path, len(p.Events), limit)
		}
		all = append(all, p.Events...)
		if p.NextCursor == "" {
			return all
		}
		q.Set("cursor", p.NextCursor)
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

func positionsOf(events []auditEvent) []uint64 {
	out := make([]uint64, len(events))
	for i, ev := range events {
		out[i] = ev.Position
	}
	return out
}

// runCLI runs the real binary; it returns stdout, stderr and the exit code.
func runCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

package tests_test

// Helpers for the read-side tests: a randomised but deterministic "world" of
// communities, visits, action points, referrals and feedback driven over
// HTTP, the test's OWN record of every write the server accepted, and the
// recount of every indicator from that record, following the definitions of
// projections/doc.go and PRODUCT.md. Nothing here reads a number from the
// server to build the expectation.

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// The independent record.

type simCommunity struct {
	id                 string
	district, chiefdom string // as registered
	dKey, cKey         string // normalised by the test itself
	mob                string // token name of a mobilizer of its area
	coords             []string
}

type simStep struct {
	at     time.Time
	status string
}

type simAP struct {
	id, community, category, kind string
	due                           string // YYYY-MM-DD or ""
	raisedAt                      time.Time
	steps                         []simStep // status changes after the raise, in the order sent
	status                        string
}

type simReferral struct {
	id, community, kind string
	onset, raisedAt     time.Time
	status              string
	arrivedAt           time.Time
	outcome             string
}

type simFeedback struct {
	id, community, typ, need string
	receivedAt               time.Time
	status                   string
	closedAt                 time.Time // communicated_at of the loop closure
	satisfied                bool
}

type simVisit struct {
	community string
	at        time.Time
	rating    int
}

// world is the recount basis: it only ever grows by what the server
// answered 2xx to.
type world struct {
	rng     *rand.Rand
	now     time.Time // every field time sent is at or before now
	start   time.Time // about eight weeks before now
	today   string    // the UTC date when the world was made
	comms   []*simCommunity
	byID    map[string]*simCommunity
	aps     []*simAP
	refs    []*simReferral
	fbs     []*simFeedback
	visits  []simVisit
	lastPos uint64
	// accepted and refused count the writes sent.
	accepted, refused int
	seq               int
}

func newWorld(seed uint64) *world {
	now := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	return &world{
		rng:   rand.New(rand.NewPCG(seed, seed^0x5eed)),
		now:   now,
		start: now.AddDate(0, 0, -56),
		today: time.Now().UTC().Format(time.DateOnly),
		byID:  map[string]*simCommunity{},
	}
}

// norm is the test's own reading of "names are matched case-insensitively
// and trimmed".
func norm(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// op is one write to send and what to record if the server accepts it.
type op struct {
	path  string
	token string
	body  map[string]any
	want  int    // 200/201, or 409 for a transition the lifecycle forbids
	apply func() // records the accepted write
}

// run sends ops in order; a 2xx is recorded, a deliberate 409 is checked and
// not recorded.
func (w *world) run(e *env, ops []op) {
	e.t.Helper()
	for _, o := range ops {
		r := req{method: http.MethodPost, path: o.path, token: o.token, body: o.body}
		if o.want == http.StatusConflict {
			e.problem(r, http.StatusConflict, "transition_not_allowed", "")
			w.refused++
			continue
		}
		res := e.must(o.want, r)
		pos := uint64(res.num("position"))
		if pos <= w.lastPos {
			e.t.Fatalf("%s: position %d does not advance past %d", o.path, pos, w.lastPos)
		}
		w.lastPos = pos
		w.accepted++
		if o.apply != nil {
			o.apply()
		}
	}
}

// The places of the world, with spellings that differ only in case and
// spaces on purpose.
var simPlaces = []struct{ id, district, chiefdom string }{
	{"KEN-1", "Kenema", "Nongowa"},
	{"KEN-2", "Kenema", "Nongowa"},
	{"KEN-3", " KENEMA ", "nongowa"},
	{"KEN-4", "Kenema", "Lower Bambara"},
	{"KEN-5", "kenema", "Lower  Bambara"},
	{"KEN-6", "Kenema", "Small Bo"},
	{"KAI-1", "Kailahun", "Luawa"},
	{"KAI-2", "Kailahun", "Luawa"},
	{"KAI-3", "Kailahun", "LUAWA"},
	{"KAI-4", "Kailahun", "Jawie"},
	{"KAI-5", "Kailahun", "Jawie"},
}

var (
	simCategories = []string{"surveillance", "isolation", "safe_burial", "hygiene", "referral", "by_law", "stigma", "other"}
	simFbTypes    = []string{"question", "concern", "complaint", "rumour", "suggestion", "appreciation", "refusal"}
	simNeeds      = []string{"basic", "security", "autonomy", "respect", "social_support", "capacity"}
	simOutcomes   = []string{"admitted", "safe_burial", "unsafe_burial", "not_found", "refused", "other"}
)

func (w *world) pick(list []string) string { return list[w.rng.IntN(len(list))] }

// between is a random time in [lo, hi], to the second.
func (w *world) between(lo, hi time.Time) time.Time {
	if !hi.After(lo) {
		return lo
	}
	return lo.Add(time.Duration(w.rng.Int64N(int64(hi.Sub(lo)/time.Second)+1)) * time.Second)
}

// after is t plus a random duration in [min, max], never after w.now.
func (w *world) after(t time.Time, min, max time.Duration) time.Time {
	u := w.between(t.Add(min), t.Add(max))
	if u.After(w.now) {
		u = w.now
	}
	return u
}

func (w *world) id(prefix string) string {
	w.seq++
	return fmt.Sprintf("%s-%04d", prefix, w.seq)
}

// registerCommunities registers and triggers every community of simPlaces.
func (w *world) registerCommunities() []op {
	var ops []op
	for _, p := range simPlaces {
		mob, coords := "mob-kailahun", []string{"coord-national"}
		if norm(p.district) == "kenema" {
			mob, coords = "mob", []string{"coord", "coord-national"}
		}
		ops = append(ops, w.addCommunity(p.id, p.district, p.chiefdom, mob, coords)...)
	}
	return ops
}

// addCommunity registers and triggers one community.
func (w *world) addCommunity(id, district, chiefdom, mob string, coords []string) []op {
	c := &simCommunity{id: id, district: district, chiefdom: chiefdom, dKey: norm(district), cKey: norm(chiefdom), mob: mob, coords: coords}
	at := w.start.AddDate(0, 0, -3)
	return []op{
		{path: "/v1/communities", token: "coord-national", want: http.StatusCreated, body: map[string]any{
			"id": c.id, "name": "Village " + c.id, "district": c.district, "chiefdom": c.chiefdom,
			"section": "Section 1", "population": 300 + w.rng.IntN(2000), "occurred_at": rfc(at)}},
		{path: "/v1/communities/" + c.id + "/triggering", token: c.mob, want: http.StatusOK,
			body:  map[string]any{"attendance": 50 + w.rng.IntN(200), "occurred_at": rfc(at.Add(24 * time.Hour))},
			apply: func() { w.comms = append(w.comms, c); w.byID[c.id] = c }},
	}
}

// edgeCases adds, in a district of their own (Bo, mobilizer "mob-bo"), two
// communities whose records sit on boundaries the definitions decide, so
// that the checks meet them whatever the weekday the test runs on:
//
//   - BO-1: an action point raised in the week before last, due on that
//     week's Sunday and still open: at the end of that week (Sunday, 24:00
//     not yet struck) it is due that very day, not past due;
//   - BO-2: a visit rated 5 and, three weeks before it, a suspected case
//     raised two days after onset; then, four weeks after the visit, a
//     visit rated 4. The index of the first visit's week counts the case
//     (T3 looks back four weeks), so the later week is not "falling"
//     (0.67 → 0.75); it returns edgeFrom, the week a series should start
//     at to show it.
func (w *world) edgeCases() (ops []op, edgeFrom time.Time) {
	ops = append(ops, w.addCommunity("BO-1", "Bo", "Kakua", "mob-bo", []string{"coord-national"})...)
	ops = append(ops, w.addCommunity("BO-2", "Bo", "Tikonko", "mob-bo", []string{"coord-national"})...)
	lastWeek := mondayOf(w.now).AddDate(0, 0, -7)
	ap := &simAP{id: "AP-BO-SUNDAY", community: "BO-1", category: "by_law", kind: "one_off", status: "open",
		raisedAt: lastWeek.Add(26 * time.Hour), due: lastWeek.AddDate(0, 0, 6).Format(time.DateOnly)}
	ops = append(ops, op{path: "/v1/action-points", token: "mob-bo", want: http.StatusCreated, body: map[string]any{
		"id": ap.id, "community_id": ap.community, "title": "By-law on visitors", "category": ap.category, "kind": ap.kind,
		"due_date": ap.due, "occurred_at": rfc(ap.raisedAt)}, apply: func() { w.aps = append(w.aps, ap) }})

	edgeFrom = mondayOf(w.now).AddDate(0, 0, -14)
	visit1 := simVisit{community: "BO-2", at: edgeFrom.AddDate(0, 0, -28).Add(30 * time.Hour), rating: 5}
	visit2 := simVisit{community: "BO-2", at: edgeFrom.Add(30 * time.Hour), rating: 4}
	ref := &simReferral{id: "R-BO-LATE", community: "BO-2", kind: "suspected_case", status: "raised",
		raisedAt: edgeFrom.AddDate(0, 0, -42).Add(30 * time.Hour)}
	ref.onset = ref.raisedAt.Add(-48 * time.Hour)
	for _, v := range []simVisit{visit1, visit2} {
		ops = append(ops, op{path: "/v1/communities/BO-2/visits", token: "mob-bo", want: http.StatusCreated,
			body:  map[string]any{"kind": "follow_up", "trust_rating": v.rating, "occurred_at": rfc(v.at)},
			apply: func() { w.visits = append(w.visits, v) }})
	}
	ops = append(ops, op{path: "/v1/referrals", token: "mob-bo", want: http.StatusCreated, body: map[string]any{
		"id": ref.id, "community_id": "BO-2", "kind": ref.kind, "symptom_onset": rfc(ref.onset), "occurred_at": rfc(ref.raisedAt)},
		apply: func() { w.refs = append(w.refs, ref) }})
	return ops, edgeFrom
}

// plan makes nAP action points, nRef referrals and nFb feedback items with
// random lifecycles, plus weekly visits to every community, and interleaves
// them the way many phones syncing would (each aggregate's own writes stay
// in order).
func (w *world) plan(nAP, nRef, nFb int) []op {
	var lists [][]op
	for _, c := range w.comms {
		lists = append(lists, w.planVisits(c))
	}
	for range nAP {
		lists = append(lists, w.planAP())
	}
	for range nRef {
		lists = append(lists, w.planReferral())
	}
	for range nFb {
		lists = append(lists, w.planFeedback())
	}
	var out []op
	for len(lists) > 0 {
		i := w.rng.IntN(len(lists))
		out = append(out, lists[i][0])
		if lists[i] = lists[i][1:]; len(lists[i]) == 0 {
			lists = slices.Delete(lists, i, i+1)
		}
	}
	return out
}

func (w *world) community() *simCommunity { return w.comms[w.rng.IntN(len(w.comms))] }

func (w *world) coordOf(c *simCommunity) string { return c.coords[w.rng.IntN(len(c.coords))] }

func (w *world) planVisits(c *simCommunity) []op {
	var ops []op
	kind := "initial"
	for week := range 9 {
		n := 0
		switch r := w.rng.IntN(10); {
		case r < 2: // a week without a visit
		case r < 8:
			n = 1
		default:
			n = 2
		}
		for range n {
			at := w.between(w.start.AddDate(0, 0, 7*week), w.start.AddDate(0, 0, 7*week+7))
			if at.After(w.now) {
				continue
			}
			rating := 1 + w.rng.IntN(5)
			body := map[string]any{"kind": kind, "trust_rating": rating, "occurred_at": rfc(at)}
			if w.rng.IntN(3) == 0 {
				body["concerns"] = []map[string]string{{"need": w.pick(simNeeds), "text": "raised at the meeting"}}
			}
			kind = "follow_up"
			v := simVisit{community: c.id, at: at, rating: rating}
			ops = append(ops, op{path: "/v1/communities/" + c.id + "/visits", token: c.mob, want: http.StatusCreated, body: body,
				apply: func() { w.visits = append(w.visits, v) }})
		}
	}
	return ops
}

// randDue picks a due date around the eight weeks, often right at today's
// boundary (yesterday, today, tomorrow).
func (w *world) randDue() string {
	today, _ := time.Parse(time.DateOnly, w.today)
	if w.rng.IntN(5) == 0 {
		return today.AddDate(0, 0, w.rng.IntN(3)-1).Format(time.DateOnly)
	}
	return today.AddDate(0, 0, w.rng.IntN(80)-60).Format(time.DateOnly)
}

func (w *world) planAP() []op {
	c := w.community()
	ap := &simAP{id: w.id("AP"), community: c.id, category: w.pick(simCategories), raisedAt: w.between(w.start, w.now.Add(-2*time.Hour)), status: "open"}
	ap.kind = "one_off"
	if w.rng.IntN(3) == 0 {
		ap.kind = "continuous"
	}
	if ap.kind == "one_off" || w.rng.IntN(2) == 0 {
		ap.due = w.randDue()
	}
	body := map[string]any{"id": ap.id, "community_id": c.id, "title": "Action " + ap.id, "category": ap.category,
		"kind": ap.kind, "occurred_at": rfc(ap.raisedAt)}
	if ap.due != "" {
		body["due_date"] = ap.due
	}
	ops := []op{{path: "/v1/action-points", token: c.mob, want: http.StatusCreated, body: body,
		apply: func() { w.aps = append(w.aps, ap) }}}
	base := "/v1/action-points/" + ap.id + "/"
	status, at := "open", ap.raisedAt
	step := func(action, token, newStatus string, body map[string]any) {
		at = w.after(at, 10*time.Minute, 6*24*time.Hour)
		body["occurred_at"] = rfc(at)
		stepAt := at
		o := op{path: base + action, token: token, want: http.StatusOK, body: body}
		if newStatus != "" {
			o.apply = func() { ap.steps = append(ap.steps, simStep{at: stepAt, status: newStatus}); ap.status = newStatus }
			status = newStatus
		}
		ops = append(ops, o)
	}
	forbidden := map[string][]string{
		"open":        {"achieve", "reopen"},
		"in_progress": {"start", "reopen"},
		"achieved":    {"start", "achieve", "drop", "progress"},
		"dropped":     {"start", "achieve", "drop", "progress"},
	}
	bodies := map[string]func() map[string]any{
		"start":    func() map[string]any { return map[string]any{"note": "begun"} },
		"progress": func() map[string]any { return map[string]any{"note": "half done"} },
		"achieve":  func() map[string]any { return map[string]any{"evidence": "seen on a visit"} },
		"drop":     func() map[string]any { return map[string]any{"reason": "no longer needed"} },
		"reopen":   func() map[string]any { return map[string]any{"reason": "needed again"} },
	}
	for n := w.rng.IntN(6); n > 0; n-- {
		if w.rng.IntN(6) == 0 {
			action := w.pick(forbidden[status])
			ops = append(ops, op{path: base + action, token: c.mob, want: http.StatusConflict, body: bodies[action]()})
		}
		dropper := c.mob
		if w.rng.IntN(2) == 0 {
			dropper = w.coordOf(c)
		}
		switch status {
		case "open":
			switch r := w.rng.IntN(10); {
			case r < 6:
				step("start", c.mob, "in_progress", bodies["start"]())
			case r < 8:
				step("progress", c.mob, "", bodies["progress"]())
			default:
				step("drop", dropper, "dropped", bodies["drop"]())
			}
		case "in_progress":
			switch r := w.rng.IntN(10); {
			case r < 5:
				step("achieve", c.mob, "achieved", bodies["achieve"]())
			case r < 8:
				step("progress", c.mob, "", bodies["progress"]())
			default:
				step("drop", dropper, "dropped", bodies["drop"]())
			}
		case "achieved", "dropped":
			if w.rng.IntN(3) == 0 {
				step("reopen", dropper, "in_progress", bodies["reopen"]())
			}
		}
	}
	return ops
}

func (w *world) planReferral() []op {
	c := w.community()
	r := &simReferral{id: w.id("R"), community: c.id, raisedAt: w.between(w.start, w.now.Add(-2*time.Hour)), status: "raised"}
	switch k := w.rng.IntN(4); {
	case k < 2:
		r.kind = "suspected_case"
	case k < 3:
		r.kind = "death_alert"
	default:
		r.kind = "other"
	}
	body := map[string]any{"id": r.id, "community_id": c.id, "kind": r.kind, "occurred_at": rfc(r.raisedAt)}
	if w.rng.IntN(3) > 0 {
		body["channel"] = w.pick([]string{"mobilizer", "hotline_117", "other"})
	}
	if w.rng.IntN(2) == 0 {
		body["person_ref"] = fmt.Sprintf("P-%05d", w.rng.IntN(100000))
	}
	if r.kind == "suspected_case" {
		// Some within 24 h of onset, some well after; never on the boundary.
		if w.rng.IntN(2) == 0 {
			r.onset = w.between(r.raisedAt.Add(-23*time.Hour-50*time.Minute), r.raisedAt.Add(-10*time.Minute))
		} else {
			r.onset = w.between(r.raisedAt.Add(-5*24*time.Hour), r.raisedAt.Add(-24*time.Hour-10*time.Minute))
		}
		body["symptom_onset"] = rfc(r.onset)
	}
	ops := []op{{path: "/v1/referrals", token: c.mob, want: http.StatusCreated, body: body,
		apply: func() { w.refs = append(w.refs, r) }}}
	base := "/v1/referrals/" + r.id + "/"
	at := r.raisedAt
	next := func(action, token, status string, body map[string]any, extra func()) {
		at = w.after(at, 5*time.Minute, 30*time.Hour)
		body["occurred_at"] = rfc(at)
		ops = append(ops, op{path: base + action, token: token, want: http.StatusOK, body: body, apply: func() {
			r.status = status
			if extra != nil {
				extra()
			}
		}})
	}
	no := func(action string, body map[string]any) {
		if w.rng.IntN(4) == 0 {
			ops = append(ops, op{path: base + action, token: w.coordOf(c), want: http.StatusConflict, body: body})
		}
	}
	no("close", map[string]any{})
	path := w.rng.IntN(10)
	if path == 2 {
		next("cancel", w.coordOf(c), "cancelled", map[string]any{"reason": "duplicate call"}, nil)
		no("acknowledge", map[string]any{})
		return ops
	}
	if path < 2 {
		return ops
	}
	next("acknowledge", w.coordOf(c), "acknowledged", map[string]any{}, nil)
	no("acknowledge", map[string]any{})
	switch {
	case path == 3:
		return ops
	case path == 4:
		next("cancel", w.coordOf(c), "cancelled", map[string]any{"reason": "not found at the address"}, nil)
		return ops
	}
	arrived := w.after(r.raisedAt, 30*time.Minute, 72*time.Hour)
	outcome := w.pick(simOutcomes)
	if r.kind == "death_alert" && w.rng.IntN(2) == 0 {
		outcome = "safe_burial"
	}
	completer := c.mob
	if w.rng.IntN(2) == 0 {
		completer = w.coordOf(c)
	}
	if at.Before(arrived) {
		at = arrived.Add(-5 * time.Minute) // the completion is written at or after the arrival
	}
	next("complete", completer, "completed", map[string]any{"arrived_at": rfc(arrived), "outcome": outcome},
		func() { r.arrivedAt, r.outcome = arrived, outcome })
	no("cancel", map[string]any{"reason": "too late"})
	if w.rng.IntN(10) < 6 {
		next("close", w.coordOf(c), "closed", map[string]any{}, nil)
	}
	return ops
}

func (w *world) planFeedback() []op {
	c := w.community()
	f := &simFeedback{id: w.id("F"), community: c.id, typ: w.pick(simFbTypes), receivedAt: w.between(w.start, w.now.Add(-time.Hour)), status: "received"}
	if w.rng.IntN(10) < 7 {
		f.need = w.pick(simNeeds)
	}
	body := map[string]any{"id": f.id, "community_id": c.id, "type": f.typ, "text": "What the community said about " + f.id, "occurred_at": rfc(f.receivedAt)}
	if f.need != "" {
		body["need_category"] = f.need
	}
	if w.rng.IntN(3) == 0 {
		body["channel"] = w.pick([]string{"mobilizer", "hotline_117", "other"})
	}
	ops := []op{{path: "/v1/feedback", token: c.mob, want: http.StatusCreated, body: body,
		apply: func() { w.fbs = append(w.fbs, f) }}}
	base := "/v1/feedback/" + f.id + "/"
	at := f.receivedAt
	next := func(action, token, status string, body map[string]any, extra func()) {
		at = w.after(at, 10*time.Minute, 4*24*time.Hour)
		if _, ok := body["occurred_at"]; !ok {
			body["occurred_at"] = rfc(at)
		}
		ops = append(ops, op{path: base + action, token: token, want: http.StatusOK, body: body, apply: func() {
			f.status = status
			if extra != nil {
				extra()
			}
		}})
	}
	no := func(action string, body map[string]any) {
		if w.rng.IntN(4) == 0 {
			ops = append(ops, op{path: base + action, token: w.coordOf(c), want: http.StatusConflict, body: body})
		}
	}
	no("answer", map[string]any{"response": "an answer"})
	stage := w.rng.IntN(10)
	if stage < 2 {
		return ops
	}
	next("refer", w.coordOf(c), "referred", map[string]any{"to": "District health team"}, nil)
	no("close-loop", map[string]any{"satisfied": true})
	if stage < 3 {
		return ops
	}
	next("answer", w.coordOf(c), "answered", map[string]any{"response": "Here is what we know."}, nil)
	no("refer", map[string]any{"to": "someone else"})
	if stage < 5 {
		return ops
	}
	// Loops closed from a few hours to four weeks after receipt: some
	// within 14 days, some not.
	communicated := w.after(f.receivedAt, time.Hour, 28*24*time.Hour)
	satisfied := w.rng.IntN(3) > 0
	closer := c.mob
	if w.rng.IntN(2) == 0 {
		closer = w.coordOf(c)
	}
	occurred := communicated
	if occurred.Before(at) {
		occurred = at
	}
	next("close-loop", closer, "loop_closed", map[string]any{"communicated_at": rfc(communicated), "satisfied": satisfied, "occurred_at": rfc(occurred)},
		func() { f.closedAt, f.satisfied = communicated, satisfied })
	no("answer", map[string]any{"response": "again"})
	return ops
}

// ---------------------------------------------------------------------------
// Scopes and weeks.

// scope is a place (and optionally a category and time bounds) a query is
// about, as the test spells it in the query string.
type scope struct {
	district, chiefdom, community, category string
	from, to                                time.Time
	// implied is the district the caller's area implies when the query
	// names none: it narrows the recount but is not sent.
	implied string
}

func (s scope) String() string {
	var parts []string
	for _, kv := range [][2]string{{"district", s.district}, {"chiefdom", s.chiefdom}, {"community", s.community}, {"category", s.category}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if !s.from.IsZero() {
		parts = append(parts, "from="+rfc(s.from))
	}
	if !s.to.IsZero() {
		parts = append(parts, "to="+rfc(s.to))
	}
	if s.implied != "" {
		parts = append(parts, "(area "+s.implied+")")
	}
	if len(parts) == 0 {
		return "national"
	}
	return strings.Join(parts, ",")
}

func (s scope) query(minPos uint64, withCategory bool) url.Values {
	q := url.Values{}
	if s.district != "" {
		q.Set("district", s.district)
	}
	if s.chiefdom != "" {
		q.Set("chiefdom", s.chiefdom)
	}
	if s.community != "" {
		q.Set("community_id", s.community)
	}
	if withCategory && s.category != "" {
		q.Set("category", s.category)
	}
	if !s.from.IsZero() {
		q.Set("from", rfc(s.from))
	}
	if !s.to.IsZero() {
		q.Set("to", rfc(s.to))
	}
	if minPos != 0 {
		q.Set("min_position", fmt.Sprint(minPos))
	}
	return q
}

// has reports whether community c lies in the scope's place.
func (s scope) has(w *world, community string) bool {
	c := w.byID[community]
	if c == nil {
		panic("unknown community " + community)
	}
	if s.district != "" && norm(s.district) != c.dKey || s.implied != "" && norm(s.implied) != c.dKey {
		return false
	}
	if s.chiefdom != "" && norm(s.chiefdom) != c.cKey {
		return false
	}
	return s.community == "" || s.community == c.id
}

// inTime reports whether a record created at t is counted in the totals.
func (s scope) inTime(t time.Time) bool {
	return (s.from.IsZero() || !t.Before(s.from)) && (s.to.IsZero() || t.Before(s.to))
}

func isoWeek(t time.Time) string {
	y, wk := t.UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, wk)
}

func mondayOf(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// weekStarts maps ISO week labels to their Monday (UTC) over the last few
// years, built by walking Mondays rather than by parsing labels.
var weekStarts = func() map[string]time.Time {
	m := map[string]time.Time{}
	for d := mondayOf(time.Now()).AddDate(0, 0, 7); d.After(time.Now().AddDate(-3, 0, 0)); d = d.AddDate(0, 0, -7) {
		m[isoWeek(d)] = d
	}
	return m
}()

// checkWeeks checks a series' weeks: contiguous ISO weeks, starting at the
// week of from when given (else no later than the scope's first data),
// reaching at least the week of the scope's last data and never past the
// current week. It returns the Monday of each.
func checkWeeks(t *testing.T, what string, weeks []string, from, dataFirst, dataLast time.Time) []time.Time {
	t.Helper()
	if len(weeks) == 0 {
		t.Errorf("%s: empty series", what)
		return nil
	}
	out := make([]time.Time, len(weeks))
	for i, label := range weeks {
		m, ok := weekStarts[label]
		if !ok {
			t.Errorf("%s: week %q is not an ISO week of the last years", what, label)
			return nil
		}
		out[i] = m
		if i > 0 && !m.Equal(out[i-1].AddDate(0, 0, 7)) {
			t.Errorf("%s: week %s does not follow %s", what, label, weeks[i-1])
		}
	}
	last := out[len(out)-1]
	if last.After(mondayOf(time.Now())) {
		t.Errorf("%s: series ends at %s, after the current week", what, weeks[len(weeks)-1])
	}
	if !dataLast.IsZero() && last.Before(mondayOf(dataLast)) {
		t.Errorf("%s: series ends at %s, before the last data in week %s", what, weeks[len(weeks)-1], isoWeek(dataLast))
	}
	switch {
	case !from.IsZero() && weeks[0] != isoWeek(from):
		t.Errorf("%s: series starts at %s, want %s", what, weeks[0], isoWeek(from))
	case from.IsZero() && !dataFirst.IsZero() && out[0].After(dataFirst):
		t.Errorf("%s: series starts at %s, after the first data in week %s", what, weeks[0], isoWeek(dataFirst))
	}
	return out
}

// span widens [first, last] to include t.
func span(first, last *time.Time, t time.Time) {
	if first.IsZero() || t.Before(*first) {
		*first = t
	}
	if t.After(*last) {
		*last = t
	}
}

// ---------------------------------------------------------------------------
// Arithmetic of the definitions.

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// quantile7 is the p-quantile with linear interpolation between closest
// ranks (R type 7, numpy's default); nil for no values.
func quantile7(vals []float64, p float64) *float64 {
	if len(vals) == 0 {
		return nil
	}
	s := slices.Clone(vals)
	sort.Float64s(s)
	h := float64(len(s)-1) * p
	lo := int(math.Floor(h))
	hi := lo + 1
	if hi >= len(s) {
		hi = len(s) - 1
	}
	v := s[lo] + (h-float64(lo))*(s[hi]-s[lo])
	return &v
}

func fmtRate(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

func eqRate(got, want *float64) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	return math.Abs(*got-*want) <= 1e-9
}

// checker collects mismatches under one label.
type checker struct {
	t     *testing.T
	label string
	n     int
}

func (c *checker) int(field string, got, want int) {
	c.t.Helper()
	if got != want {
		c.n++
		c.t.Errorf("%s: %s = %d, recount %d", c.label, field, got, want)
	}
}

func (c *checker) rate(field string, got, want *float64) {
	c.t.Helper()
	if !eqRate(got, want) {
		c.n++
		c.t.Errorf("%s: %s = %s, recount %s", c.label, field, fmtRate(got), fmtRate(want))
	}
}

func (c *checker) bool(field string, got, want bool) {
	c.t.Helper()
	if got != want {
		c.n++
		c.t.Errorf("%s: %s = %v, recount %v", c.label, field, got, want)
	}
}

func (c *checker) counts(field string, got, want map[string]int) {
	c.t.Helper()
	for k, v := range want {
		if got[k] != v {
			c.n++
			c.t.Errorf("%s: %s[%s] = %d, recount %d", c.label, field, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			c.n++
			c.t.Errorf("%s: %s[%s] = %d, recount has none", c.label, field, k, v)
		}
	}
}

// requireKeys checks that obj has every key (a null rate must be present as
// null, not left out).
func requireKeys(t *testing.T, label string, obj json.RawMessage, keys ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Errorf("%s: not an object: %v", label, err)
		return
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: key %q missing in %s", label, k, obj)
		}
	}
}

// getStats GETs a stats route and decodes it into out.
func (e *env) getStats(token, route string, q url.Values, out any) []byte {
	e.t.Helper()
	path := route
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	res := e.must(http.StatusOK, req{method: http.MethodGet, path: path, token: token})
	if err := json.Unmarshal(res.raw, out); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, res.raw)
	}
	return res.raw
}

// ---------------------------------------------------------------------------
// Completion.

type countsJSON struct {
	Total              int      `json:"total"`
	Open               int      `json:"open"`
	InProgress         int      `json:"in_progress"`
	Achieved           int      `json:"achieved"`
	Dropped            int      `json:"dropped"`
	Overdue            int      `json:"overdue"`
	AchievedRate       *float64 `json:"achieved_rate"`
	ImplementationRate *float64 `json:"implementation_rate"`
}

type completionJSON struct {
	Position uint64 `json:"position"`
	countsJSON
	ByCategory map[string]countsJSON `json:"by_category"`
	ByKind     map[string]countsJSON `json:"by_kind"`
	Series     []completionWeekJSON  `json:"series"`
}

type completionWeekJSON struct {
	Week string `json:"week"`
	countsJSON
}

var countKeys = []string{"total", "open", "in_progress", "achieved", "dropped", "overdue", "achieved_rate", "implementation_rate"}

// apCounts is the recount of a set of action points.
type apCounts struct {
	total, open, inProgress, achieved, dropped, overdue int
}

func (c *apCounts) add(status string, overdue bool) {
	c.total++
	switch status {
	case "open":
		c.open++
	case "in_progress":
		c.inProgress++
	case "achieved":
		c.achieved++
	case "dropped":
		c.dropped++
	}
	if overdue {
		c.overdue++
	}
}

// apOverdue: past its due date (before `today`) and neither achieved nor
// dropped.
func apOverdue(due, status, today string) bool {
	return due != "" && due < today && status != "achieved" && status != "dropped"
}

// apStatusAt is the status as it stood just before `end` (every change that
// occurred before end), and whether the action point had been raised by then.
func apStatusAt(ap *simAP, end time.Time) (string, bool) {
	if !ap.raisedAt.Before(end) {
		return "", false
	}
	s := "open"
	for _, st := range ap.steps {
		if st.at.Before(end) {
			s = st.status
		}
	}
	return s, true
}

// recountCompletion counts the action points of sc as they are now, with
// today's UTC date for overdue.
func recountCompletion(w *world, sc scope, today string) (all apCounts, byCat, byKind map[string]*apCounts) {
	byCat, byKind = map[string]*apCounts{}, map[string]*apCounts{}
	for _, ap := range w.aps {
		if !sc.has(w, ap.community) || !sc.inTime(ap.raisedAt) || sc.category != "" && ap.category != sc.category {
			continue
		}
		od := apOverdue(ap.due, ap.status, today)
		all.add(ap.status, od)
		for _, m := range []struct {
			m map[string]*apCounts
			k string
		}{{byCat, ap.category}, {byKind, ap.kind}} {
			if m.m[m.k] == nil {
				m.m[m.k] = &apCounts{}
			}
			m.m[m.k].add(ap.status, od)
		}
	}
	return all, byCat, byKind
}

// recountCompletionWeek is the state of sc's action points at the end of
// the week starting monday: every change before the week's end, and overdue
// as of the week's last day (Sunday). For the current week, the state now
// and today.
func recountCompletionWeek(w *world, sc scope, monday time.Time, today string) apCounts {
	end := monday.AddDate(0, 0, 7)
	day := end.AddDate(0, 0, -1).Format(time.DateOnly)
	if end.After(time.Now()) {
		end, day = time.Now().Add(time.Hour), today
	}
	var c apCounts
	for _, ap := range w.aps {
		if !sc.has(w, ap.community) || sc.category != "" && ap.category != sc.category {
			continue
		}
		if s, ok := apStatusAt(ap, end); ok {
			c.add(s, apOverdue(ap.due, s, day))
		}
	}
	return c
}

func (c *checker) apCounts(prefix string, got countsJSON, want apCounts) {
	c.t.Helper()
	c.int(prefix+"total", got.Total, want.total)
	c.int(prefix+"open", got.Open, want.open)
	c.int(prefix+"in_progress", got.InProgress, want.inProgress)
	c.int(prefix+"achieved", got.Achieved, want.achieved)
	c.int(prefix+"dropped", got.Dropped, want.dropped)
	c.int(prefix+"overdue", got.Overdue, want.overdue)
	c.rate(prefix+"achieved_rate", got.AchievedRate, ratio(want.achieved, want.total-want.dropped))
	c.rate(prefix+"implementation_rate", got.ImplementationRate, ratio(want.inProgress+want.achieved, want.total-want.dropped))
}

// checkCompletion queries /v1/stats/completion for sc (weekly or not) and
// compares every number with the recount.
func checkCompletion(t *testing.T, e *env, w *world, token string, sc scope, weekly bool, minPos uint64) completionJSON {
	t.Helper()
	q := sc.query(minPos, true)
	if weekly {
		q.Set("interval", "week")
	}
	var got completionJSON
	raw := e.on(t).getStats(token, "/v1/stats/completion", q, &got)
	label := "completion " + sc.String()
	if weekly {
		label += " weekly"
	}
	c := &checker{t: t, label: label}
	if got.Position < minPos {
		t.Errorf("%s: position %d below min_position %d", label, got.Position, minPos)
	}
	requireKeys(t, label, raw, append(countKeys, "position", "by_category", "by_kind")...)
	today := time.Now().UTC().Format(time.DateOnly)
	all, byCat, byKind := recountCompletion(w, sc, today)
	c.apCounts("", got.countsJSON, all)
	for _, m := range []struct {
		name string
		got  map[string]countsJSON
		want map[string]*apCounts
	}{{"by_category", got.ByCategory, byCat}, {"by_kind", got.ByKind, byKind}} {
		for k, want := range m.want {
			c.apCounts(m.name+"["+k+"].", m.got[k], *want)
		}
		for k := range m.got {
			if m.want[k] == nil {
				c.n++
				t.Errorf("%s: %s has %q, the recount has no such action point", label, m.name, k)
			}
		}
	}
	if !weekly {
		if len(got.Series) != 0 {
			t.Errorf("%s: a series without interval=week", label)
		}
		return got
	}
	var first, last time.Time
	for _, ap := range w.aps {
		if sc.has(w, ap.community) && (sc.category == "" || ap.category == sc.category) {
			span(&first, &last, ap.raisedAt)
			for _, st := range ap.steps {
				span(&first, &last, st.at)
			}
		}
	}
	weeks := make([]string, len(got.Series))
	for i, s := range got.Series {
		weeks[i] = s.Week
	}
	mondays := checkWeeks(t, label, weeks, sc.from, first, last)
	for i, m := range mondays {
		c.label = label + " week " + weeks[i]
		c.apCounts("", got.Series[i].countsJSON, recountCompletionWeek(w, sc, m, today))
	}
	return got
}

// ---------------------------------------------------------------------------
// Referrals.

type referralsJSON struct {
	Position               uint64         `json:"position"`
	Total                  int            `json:"total"`
	ByStatus               map[string]int `json:"by_status"`
	ByKind                 map[string]int `json:"by_kind"`
	SuspectedWithin24hRate *float64       `json:"suspected_within_24h_rate"`
	HoursToCompleteMedian  *float64       `json:"hours_to_complete_median"`
	HoursToCompleteP90     *float64       `json:"hours_to_complete_p90"`
	SafeBurialRate         *float64       `json:"safe_burial_rate"`
}

type referralsWant struct {
	total                       int
	byStatus, byKind            map[string]int
	within24, median, p90, safe *float64
}

func recountReferrals(w *world, sc scope) referralsWant {
	out := referralsWant{byStatus: map[string]int{}, byKind: map[string]int{}}
	var suspected, within, deaths, safe int
	var hours []float64
	for _, r := range w.refs {
		if !sc.has(w, r.community) || !sc.inTime(r.raisedAt) {
			continue
		}
		out.total++
		out.byStatus[r.status]++
		out.byKind[r.kind]++
		if r.kind == "suspected_case" {
			suspected++
			if r.raisedAt.Sub(r.onset) <= 24*time.Hour {
				within++
			}
		}
		if r.outcome != "" { // completed (and maybe closed since)
			hours = append(hours, r.arrivedAt.Sub(r.raisedAt).Hours())
			if r.kind == "death_alert" {
				deaths++
				if r.outcome == "safe_burial" {
					safe++
				}
			}
		}
	}
	out.within24 = ratio(within, suspected)
	out.median = quantile7(hours, 0.5)
	out.p90 = quantile7(hours, 0.9)
	out.safe = ratio(safe, deaths)
	return out
}

func checkReferrals(t *testing.T, e *env, w *world, token string, sc scope, minPos uint64) referralsJSON {
	t.Helper()
	var got referralsJSON
	raw := e.on(t).getStats(token, "/v1/stats/referrals", sc.query(minPos, false), &got)
	label := "referrals " + sc.String()
	if got.Position < minPos {
		t.Errorf("%s: position %d below min_position %d", label, got.Position, minPos)
	}
	requireKeys(t, label, raw, "position", "total", "suspected_within_24h_rate", "hours_to_complete_median", "hours_to_complete_p90", "safe_burial_rate")
	want := recountReferrals(w, sc)
	c := &checker{t: t, label: label}
	c.int("total", got.Total, want.total)
	c.counts("by_status", got.ByStatus, want.byStatus)
	c.counts("by_kind", got.ByKind, want.byKind)
	c.rate("suspected_within_24h_rate", got.SuspectedWithin24hRate, want.within24)
	c.rate("hours_to_complete_median", got.HoursToCompleteMedian, want.median)
	c.rate("hours_to_complete_p90", got.HoursToCompleteP90, want.p90)
	c.rate("safe_burial_rate", got.SafeBurialRate, want.safe)
	return got
}

// ---------------------------------------------------------------------------
// Feedback.

type fbCountsJSON struct {
	Received          int            `json:"received"`
	LoopClosed        int            `json:"loop_closed"`
	LoopClosureRate   *float64       `json:"loop_closure_rate"`
	DaysToCloseMedian *float64       `json:"days_to_close_median"`
	SatisfiedRate     *float64       `json:"satisfied_rate"`
	ByType            map[string]int `json:"by_type"`
	ByNeed            map[string]int `json:"by_need"`
}

type feedbackJSON struct {
	Position uint64 `json:"position"`
	fbCountsJSON
	Series []feedbackWeekJSON `json:"series"`
}

type feedbackWeekJSON struct {
	Week string `json:"week"`
	fbCountsJSON
}

type feedbackWant struct {
	received, closed               int
	closure, medianDays, satisfied *float64
	byType, byNeed                 map[string]int
}

// recountFeedback counts the items of sc received in [lo, hi) (zero: no
// bound) and within sc's own time bounds.
func recountFeedback(w *world, sc scope, lo, hi time.Time) feedbackWant {
	out := feedbackWant{byType: map[string]int{}, byNeed: map[string]int{}}
	var days []float64
	sat := 0
	for _, f := range w.fbs {
		if !sc.has(w, f.community) || !sc.inTime(f.receivedAt) {
			continue
		}
		if !lo.IsZero() && f.receivedAt.Before(lo) || !hi.IsZero() && !f.receivedAt.Before(hi) {
			continue
		}
		out.received++
		out.byType[f.typ]++
		if f.need != "" {
			out.byNeed[f.need]++
		}
		if f.status == "loop_closed" {
			out.closed++
			days = append(days, float64(f.closedAt.Sub(f.receivedAt))/float64(24*time.Hour))
			if f.satisfied {
				sat++
			}
		}
	}
	out.closure = ratio(out.closed, out.received)
	out.medianDays = quantile7(days, 0.5)
	out.satisfied = ratio(sat, out.closed)
	return out
}

func (c *checker) feedback(got fbCountsJSON, want feedbackWant) {
	c.t.Helper()
	c.int("received", got.Received, want.received)
	c.int("loop_closed", got.LoopClosed, want.closed)
	c.rate("loop_closure_rate", got.LoopClosureRate, want.closure)
	c.rate("days_to_close_median", got.DaysToCloseMedian, want.medianDays)
	c.rate("satisfied_rate", got.SatisfiedRate, want.satisfied)
	c.counts("by_type", got.ByType, want.byType)
	c.counts("by_need", got.ByNeed, want.byNeed)
}

func checkFeedback(t *testing.T, e *env, w *world, token string, sc scope, weekly bool, minPos uint64) feedbackJSON {
	t.Helper()
	q := sc.query(minPos, false)
	if weekly {
		q.Set("interval", "week")
	}
	var got feedbackJSON
	raw := e.on(t).getStats(token, "/v1/stats/feedback", q, &got)
	label := "feedback " + sc.String()
	if weekly {
		label += " weekly"
	}
	if got.Position < minPos {
		t.Errorf("%s: position %d below min_position %d", label, got.Position, minPos)
	}
	requireKeys(t, label, raw, "position", "received", "loop_closed", "loop_closure_rate", "days_to_close_median", "by_type", "by_need")
	c := &checker{t: t, label: label}
	c.feedback(got.fbCountsJSON, recountFeedback(w, sc, time.Time{}, time.Time{}))
	if !weekly {
		if len(got.Series) != 0 {
			t.Errorf("%s: a series without interval=week", label)
		}
		return got
	}
	var first, last time.Time
	for _, f := range w.fbs {
		if sc.has(w, f.community) {
			span(&first, &last, f.receivedAt)
		}
	}
	weeks := make([]string, len(got.Series))
	for i, s := range got.Series {
		weeks[i] = s.Week
	}
	mondays := checkWeeks(t, label, weeks, sc.from, first, last)
	for i, m := range mondays {
		c.label = label + " week " + weeks[i]
		c.feedback(got.Series[i].fbCountsJSON, recountFeedback(w, sc, m, m.AddDate(0, 0, 7)))
	}
	return got
}

// ---------------------------------------------------------------------------
// Trust.

type trustJSON struct {
	Position uint64          `json:"position"`
	Weights  []float64       `json:"weights"`
	Series   []trustWeekJSON `json:"series"`
}

type trustWeekJSON struct {
	Week    string   `json:"week"`
	T1      *float64 `json:"t1"`
	T2      *float64 `json:"t2"`
	T3      *float64 `json:"t3"`
	T4      *float64 `json:"t4"`
	Index   *float64 `json:"index"`
	Falling bool     `json:"falling"`
	Visits  int      `json:"visits"`
}

var trustWeights = [4]float64{0.4, 0.2, 0.2, 0.2}

type trustWant struct {
	t           [4]*float64
	index       *float64
	visits      int
	falling     bool
	fallingFrom *float64 // the index four weeks earlier
}

// recountTrustWeek computes T1..T4 and the index of sc for the ISO week
// starting monday, from the record:
//
//	T1 mean (rating−1)/4 of the week's visits;
//	T2 of the items received in weeks W−3..W, the share closed within 14 days;
//	T3 of the suspected cases raised in weeks W−3..W, the share within 24 h of onset;
//	T4 1 − share of complaints, rumours and refusals among the week's items.
func recountTrustWeek(w *world, sc scope, monday time.Time) trustWant {
	end := monday.AddDate(0, 0, 7)
	look := monday.AddDate(0, 0, -21)
	in := func(t, lo, hi time.Time) bool { return !t.Before(lo) && t.Before(hi) }
	var out trustWant
	var sum float64
	for _, v := range w.visits {
		if sc.has(w, v.community) && in(v.at, monday, end) {
			sum += float64(v.rating-1) / 4
			out.visits++
		}
	}
	if out.visits > 0 {
		v := sum / float64(out.visits)
		out.t[0] = &v
	}
	var rec4, closed14, recW, negW int
	for _, f := range w.fbs {
		if !sc.has(w, f.community) {
			continue
		}
		if in(f.receivedAt, look, end) {
			rec4++
			if f.status == "loop_closed" && f.closedAt.Sub(f.receivedAt) <= 14*24*time.Hour {
				closed14++
			}
		}
		if in(f.receivedAt, monday, end) {
			recW++
			if f.typ == "complaint" || f.typ == "rumour" || f.typ == "refusal" {
				negW++
			}
		}
	}
	out.t[1] = ratio(closed14, rec4)
	var cases, within int
	for _, r := range w.refs {
		if sc.has(w, r.community) && r.kind == "suspected_case" && in(r.raisedAt, look, end) {
			cases++
			if r.raisedAt.Sub(r.onset) <= 24*time.Hour {
				within++
			}
		}
	}
	out.t[2] = ratio(within, cases)
	if recW > 0 {
		v := 1 - float64(negW)/float64(recW)
		out.t[3] = &v
	}
	var num, den float64
	for i, v := range out.t {
		if v != nil {
			num += trustWeights[i] * *v
			den += trustWeights[i]
		}
	}
	if den > 0 {
		v := num / den
		out.index = &v
	}
	return out
}

// recountTrust adds "falling": the index at least 0.10 below its value four
// weeks earlier (both present).
func recountTrust(w *world, sc scope, monday time.Time) trustWant {
	out := recountTrustWeek(w, sc, monday)
	before := recountTrustWeek(w, sc, monday.AddDate(0, 0, -28))
	out.fallingFrom = before.index
	if out.index != nil && before.index != nil {
		out.falling = *before.index-*out.index >= 0.10-1e-9
	}
	return out
}

func checkTrust(t *testing.T, e *env, w *world, token string, sc scope, minPos uint64) trustJSON {
	t.Helper()
	var got trustJSON
	raw := e.on(t).getStats(token, "/v1/stats/trust", sc.query(minPos, false), &got)
	label := "trust " + sc.String()
	if got.Position < minPos {
		t.Errorf("%s: position %d below min_position %d", label, got.Position, minPos)
	}
	requireKeys(t, label, raw, "position", "series")
	if len(got.Weights) != 4 || got.Weights[0] != 0.4 || got.Weights[1] != 0.2 || got.Weights[2] != 0.2 || got.Weights[3] != 0.2 {
		t.Errorf("%s: weights %v, want the defaults 0.4, 0.2, 0.2, 0.2", label, got.Weights)
	}
	var first, last time.Time
	note := func(c string, at time.Time) {
		if sc.has(w, c) {
			span(&first, &last, at)
		}
	}
	for _, v := range w.visits {
		note(v.community, v.at)
	}
	for _, f := range w.fbs {
		note(f.community, f.receivedAt)
	}
	for _, r := range w.refs {
		if r.kind == "suspected_case" {
			note(r.community, r.raisedAt)
		}
	}
	var series []json.RawMessage
	var wrap struct {
		Series []json.RawMessage `json:"series"`
	}
	if json.Unmarshal(raw, &wrap) == nil {
		series = wrap.Series
	}
	weeks := make([]string, len(got.Series))
	for i, s := range got.Series {
		weeks[i] = s.Week
	}
	mondays := checkWeeks(t, label, weeks, sc.from, first, last)
	c := &checker{t: t}
	for i, m := range mondays {
		c.label = label + " week " + weeks[i]
		if i < len(series) {
			requireKeys(t, c.label, series[i], "week", "t1", "t2", "t3", "t4", "index", "falling")
		}
		want := recountTrust(w, sc, m)
		g := got.Series[i]
		for j, v := range []*float64{g.T1, g.T2, g.T3, g.T4} {
			c.rate(fmt.Sprintf("t%d", j+1), v, want.t[j])
		}
		c.rate("index", g.Index, want.index)
		c.int("visits", g.Visits, want.visits)
		if g.Falling != want.falling {
			c.n++
			t.Errorf("%s: falling = %v, recount %v (index %s, four weeks earlier %s)", c.label, g.Falling, want.falling, fmtRate(want.index), fmtRate(want.fallingFrom))
		}
	}
	return got
}

// ---------------------------------------------------------------------------
// Every indicator.

// placeScopes lists the national scope, each district, each chiefdom and
// each community of the world, spelt as a user might (varied case and
// spaces).
func placeScopes(w *world) (national scope, districts, chiefdoms, communities []scope) {
	seenD, seenC := map[string]bool{}, map[string]bool{}
	for i, c := range w.comms {
		if !seenD[c.dKey] {
			seenD[c.dKey] = true
			d := c.district
			if i%2 == 1 {
				d = "  " + strings.ToUpper(c.dKey) + " "
			}
			districts = append(districts, scope{district: d})
		}
		if k := c.dKey + "/" + c.cKey; !seenC[k] {
			seenC[k] = true
			chiefdoms = append(chiefdoms, scope{district: c.dKey, chiefdom: c.chiefdom})
		}
		communities = append(communities, scope{community: c.id})
	}
	return scope{}, districts, chiefdoms, communities
}

// checkAll queries every indicator route for every place of the world as
// token and compares with the recount. Broad adds the per-category,
// weekly and bounded queries.
func checkAll(t *testing.T, e *env, w *world, token string, minPos uint64, broad bool) {
	t.Helper()
	national, districts, chiefdoms, communities := placeScopes(w)
	places := append(append(append([]scope{national}, districts...), chiefdoms...), communities...)
	t.Run("completion", func(t *testing.T) {
		for _, sc := range places {
			checkCompletion(t, e, w, token, sc, false, minPos)
		}
		if !broad {
			checkCompletion(t, e, w, token, national, true, minPos)
			return
		}
		for _, cat := range simCategories {
			checkCompletion(t, e, w, token, scope{category: cat}, false, minPos)
		}
		for i, sc := range append(append([]scope{}, districts...), chiefdoms[0], communities[1]) {
			sc.category = simCategories[(3*i+1)%len(simCategories)]
			checkCompletion(t, e, w, token, sc, false, minPos)
		}
		for _, sc := range append(append([]scope{national}, districts...), chiefdoms[1], communities[0]) {
			checkCompletion(t, e, w, token, sc, true, minPos)
		}
		// Totals bounded by the raise time; the series by the weeks.
		bounded := scope{from: w.start.AddDate(0, 0, 14), to: w.start.AddDate(0, 0, 42)}
		checkCompletion(t, e, w, token, bounded, false, minPos)
		bounded.district = districts[0].district
		checkCompletion(t, e, w, token, bounded, false, minPos)
	})
	t.Run("referrals", func(t *testing.T) {
		for _, sc := range places {
			checkReferrals(t, e, w, token, sc, minPos)
		}
		if broad {
			checkReferrals(t, e, w, token, scope{from: w.start.AddDate(0, 0, 10), to: w.start.AddDate(0, 0, 40)}, minPos)
		}
	})
	t.Run("feedback", func(t *testing.T) {
		for _, sc := range places {
			checkFeedback(t, e, w, token, sc, false, minPos)
		}
		checkFeedback(t, e, w, token, national, true, minPos)
		if broad {
			for _, sc := range append(append([]scope{}, districts...), chiefdoms[2], communities[3]) {
				checkFeedback(t, e, w, token, sc, true, minPos)
			}
			checkFeedback(t, e, w, token, scope{from: w.start.AddDate(0, 0, 21)}, true, minPos)
		}
	})
	t.Run("trust", func(t *testing.T) {
		for _, sc := range places {
			checkTrust(t, e, w, token, sc, minPos)
		}
	})
	if broad {
		// A series that starts later: "falling" still compares with the
		// index four weeks earlier, whose T2 and T3 look back four weeks
		// more.
		t.Run("trust from", func(t *testing.T) {
			for _, weeks := range []int{5, 6} {
				from := mondayOf(w.start).AddDate(0, 0, 7*weeks)
				for _, sc := range append(append(append([]scope{national}, districts...), chiefdoms...), communities...) {
					var whole trustJSON
					e.on(t).getStats(token, "/v1/stats/trust", sc.query(minPos, false), &whole)
					sc.from = from
					part := checkTrust(t, e, w, token, sc, minPos)
					sameTrustWeeks(t, "trust "+sc.String(), part, whole)
				}
			}
		})
	}
}

// summary describes the world for the log.
func (w *world) summary() string {
	st := map[string]int{}
	for _, ap := range w.aps {
		st["ap:"+ap.status]++
	}
	for _, r := range w.refs {
		st["ref:"+r.status]++
	}
	for _, f := range w.fbs {
		st["fb:"+f.status]++
	}
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d communities, %d visits, %d action points, %d referrals, %d feedback items; %d writes accepted, %d refused (409) as planned;",
		len(w.comms), len(w.visits), len(w.aps), len(w.refs), len(w.fbs), w.accepted, w.refused)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, st[k])
	}
	return b.String()
}

// guardDay skips the test when the UTC date changed since the world was
// made: "overdue" would then have moved under the recount's feet.
func guardDay(t *testing.T, w *world) {
	t.Helper()
	if today := time.Now().UTC().Format(time.DateOnly); today != w.today {
		t.Skipf("the UTC date changed during the test (%s → %s); overdue moved", w.today, today)
	}
}

// sameTrustWeeks checks that every week of a series that starts later
// (from) reads exactly as the same week of the whole series: a week's
// numbers do not depend on where the series asked for begins.
func sameTrustWeeks(t *testing.T, label string, part, whole trustJSON) {
	t.Helper()
	byWeek := map[string]trustWeekJSON{}
	for _, s := range whole.Series {
		byWeek[s.Week] = s
	}
	for _, p := range part.Series {
		o, ok := byWeek[p.Week]
		if !ok {
			t.Errorf("%s: week %s is not in the series without from", label, p.Week)
			continue
		}
		if !eqRate(p.T1, o.T1) || !eqRate(p.T2, o.T2) || !eqRate(p.T3, o.T3) || !eqRate(p.T4, o.T4) || !eqRate(p.Index, o.Index) ||
			p.Falling != o.Falling || p.Visits != o.Visits {
			t.Errorf("%s: week %s reads {index %s falling %v} but {index %s falling %v} in the series without from",
				label, p.Week, fmtRate(p.Index), p.Falling, fmtRate(o.Index), o.Falling)
		}
	}
}

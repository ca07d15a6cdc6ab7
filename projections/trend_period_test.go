package projections_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

var luawa = domain.Place{District: "Kailahun", Chiefdom: "Luawa", Section: "Kailahun Town"}

// community registers a community at place.
func (w *world) registered(id string, p domain.Place, at time.Time) uint64 {
	w.t.Helper()
	return w.append(domain.CommunityStream(id), at, &domain.CommunityRegistered{ID: id, Name: id, Place: p})
}

// visit records a visit to a community.
func (w *world) visited(id string, at time.Time, rating int) uint64 {
	w.t.Helper()
	return w.append(domain.CommunityStream(id), at, &domain.VisitRecorded{Kind: "follow_up", TrustRating: rating})
}

// feedback receives a feedback item of community C at p, and closes its loop
// at closedAt (zero: not closed).
func (w *world) feedbackItem(id, community string, p domain.Place, at, closedAt time.Time) uint64 {
	w.t.Helper()
	pos := w.append(domain.FeedbackStream(id), at, &domain.FeedbackReceived{ID: id, CommunityID: community, Place: p, Type: "question",
		Text: "t", Channel: "mobilizer", ReceivedAt: at})
	if !closedAt.IsZero() {
		pos = w.append(domain.FeedbackStream(id), closedAt, &domain.FeedbackReferred{To: "DHMT"}, &domain.FeedbackAnswered{Response: "r"},
			&domain.FeedbackLoopClosed{CommunicatedAt: closedAt, Satisfied: true})
	}
	return pos
}

// started runs an engine with clock now and waits for the whole log.
func (w *world) running(now time.Time, cfg projections.Config) *projections.Engine {
	w.t.Helper()
	cfg.Clock = func() time.Time { return now }
	e := w.engine(cfg)
	run(w.t, e)
	head, err := w.store.Head(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	waitFor(w.t, e, head)
	return e
}

func trustWeek(t *testing.T, st projections.TrustStats, week string) projections.TrustWeek {
	t.Helper()
	for _, s := range st.Series {
		if s.Week == week {
			return s
		}
	}
	t.Fatalf("no week %s in %+v", week, st.Series)
	return projections.TrustWeek{}
}

// "falling" is what a coordinator acts on: it must rest on enough visits on
// both sides of the comparison, or one visit rated 3 flips a district.
func TestFallingNeedsEnoughVisitsOnBothSides(t *testing.T) {
	// t0 is Monday 2015-02-02 (2015-W06); four weeks later is 2015-W10.
	later := t0.AddDate(0, 0, 28)
	cases := []struct {
		name          string
		minVisits     int // engine config; 0: the default (5)
		before, after []int
		want          bool
	}{
		{"one visit rated 4, then one rated 3", 0, []int{4}, []int{3}, false},
		{"five visits rated 4, then five rated 3", 0, []int{4, 4, 4, 4, 4}, []int{3, 3, 3, 3, 3}, true},
		{"five visits rated 4, then four rated 3", 0, []int{4, 4, 4, 4, 4}, []int{3, 3, 3, 3}, false},
		{"four visits rated 4, then five rated 3", 0, []int{4, 4, 4, 4}, []int{3, 3, 3, 3, 3}, false},
		{"five visits, steady", 0, []int{4, 4, 4, 4, 4}, []int{4, 4, 4, 4, 4}, false},
		{"floor of one visit, one rated 4 then one rated 3", 1, []int{4}, []int{3}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.registered("KEN-1", kenema, t0.Add(-time.Hour))
			for i, r := range tc.before {
				w.visited("KEN-1", t0.Add(time.Duration(i)*time.Hour), r)
			}
			for i, r := range tc.after {
				w.visited("KEN-1", later.Add(time.Duration(i)*time.Hour), r)
			}
			e := w.running(later.AddDate(0, 1, 0), projections.Config{TrustMinVisits: tc.minVisits})
			st, _ := e.TrustStats(projections.Filter{District: "Kenema"})
			wk := trustWeek(t, st, "2015-W10")
			if wk.Falling != tc.want {
				t.Errorf("falling = %v, want %v (index %v, %d visits; four weeks earlier %v)", wk.Falling, tc.want,
					rateOf(wk.Index), wk.Visits, rateOf(trustWeek(t, st, "2015-W06").Index))
			}
			wantMin := tc.minVisits
			if wantMin == 0 {
				wantMin = projections.DefaultTrustMinVisits
			}
			if st.MinVisits != wantMin {
				t.Errorf("min_visits = %d, want %d", st.MinVisits, wantMin)
			}
		})
	}
}

func rateOf(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// The week that holds now is marked partial, the weeks before it are not.
func TestCurrentWeekIsPartial(t *testing.T) {
	w := newWorld(t)
	w.registered("KEN-1", kenema, t0.Add(-time.Hour))
	w.visited("KEN-1", t0.Add(time.Hour), 4)
	w.visited("KEN-1", t0.AddDate(0, 0, 7).Add(time.Hour), 4)
	now := t0.AddDate(0, 0, 9) // Wednesday of 2015-W07
	e := w.running(now, projections.Config{})
	st, _ := e.TrustStats(projections.Filter{District: "Kenema"})
	if len(st.Series) != 2 {
		t.Fatalf("series %+v, want 2015-W06 and 2015-W07", st.Series)
	}
	if st.Series[0].Partial || !st.Series[1].Partial {
		t.Errorf("partial: W06 %v, W07 %v; want false, true (now is %s)", st.Series[0].Partial, st.Series[1].Partial, now)
	}
	// A period ending inside a finished week cuts it: partial too.
	st, _ = e.TrustStats(projections.Filter{District: "Kenema", To: t0.AddDate(0, 0, 3)})
	if len(st.Series) != 1 || !st.Series[0].Partial {
		t.Errorf("to inside W06: %+v, want one partial week", st.Series)
	}
}

// Every row names T1..T4 with its weight and the counts behind it.
func TestTrustComponentsAreNamed(t *testing.T) {
	w := newWorld(t)
	w.registered("KEN-1", kenema, t0.Add(-time.Hour))
	w.visited("KEN-1", t0.Add(time.Hour), 5)
	w.visited("KEN-1", t0.Add(2*time.Hour), 3)
	w.feedbackItem("F1", "KEN-1", kenema, t0.Add(3*time.Hour), t0.AddDate(0, 0, 2))
	e := w.running(t0.AddDate(0, 1, 0), projections.Config{})
	st, _ := e.TrustStats(projections.Filter{CommunityID: "KEN-1"})
	if len(st.Series) != 1 {
		t.Fatalf("series %+v", st.Series)
	}
	wk := st.Series[0]
	names := []string{projections.ComponentVisitTrust, projections.ComponentLoopsClosed14d, projections.ComponentReferralsWithin24h,
		projections.ComponentFeedbackNotNegative}
	if len(wk.Components) != 4 {
		t.Fatalf("components %+v", wk.Components)
	}
	for i, c := range wk.Components {
		if c.Name != names[i] || c.Weight != projections.DefaultTrustWeights[i] {
			t.Errorf("component %d: %s weight %v, want %s weight %v", i, c.Name, c.Weight, names[i], projections.DefaultTrustWeights[i])
		}
	}
	if v := wk.Components[0].Value; v == nil || *v != 0.75 || wk.T1 == nil || *wk.T1 != *v {
		t.Errorf("visit_trust %v, t1 %v; want 0.75 both", rateOf(v), rateOf(wk.T1))
	}
	if wk.Components[2].Value != nil {
		t.Errorf("suspected_referrals_within_24h = %v without a referral, want null", *wk.Components[2].Value)
	}
	b, err := json.Marshal(wk)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"t1":0.75`, `{"name":"visit_trust","code":"T1","value":0.75,"weight":0.4,"visits":2}`,
		`{"name":"feedback_loops_closed_14d","code":"T2","value":1,"weight":0.2,"received_4w":1,"closed_within_14d":1}`,
		`{"name":"suspected_referrals_within_24h","code":"T3","value":null,"weight":0.2,"suspected_cases_4w":0,"within_24h":0}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the week's JSON lacks %s:\n%s", want, b)
		}
	}
}

// A period ending at `to` counts nothing that happened at or after it, in
// any indicator: the after-action report for a period must not show a trust
// row built from a visit dated after it.
func TestToIsExact(t *testing.T) {
	to := t0.AddDate(0, 0, 1) // Tuesday of 2015-W06
	cases := []struct {
		name string
		at   time.Time
		in   bool
	}{
		{"a nanosecond before to", to.Add(-time.Nanosecond), true},
		{"at to", to, false},
		{"a day after to, same week", to.AddDate(0, 0, 1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.registered("KEN-1", kenema, t0.Add(-time.Hour))
			w.visited("KEN-1", t0.Add(time.Hour), 5) // before to: always in
			w.visited("KEN-1", tc.at, 1)
			w.actionPoint("AP1", t0.Add(time.Hour)) // raised before to...
			w.append(domain.ActionPointStream("AP1"), tc.at, &domain.ActionPointStarted{})
			w.feedbackItem("F1", "KEN-1", kenema, t0.Add(time.Hour), tc.at) // ...its loop closed at tc.at
			rpos := w.append(domain.ReferralStream("R1"), t0.Add(time.Hour), &domain.ReferralRaised{ID: "R1", CommunityID: "KEN-1", Place: kenema,
				Kind: "death_alert", Channel: "mobilizer", RaisedAt: t0.Add(time.Hour)}, &domain.ReferralAcknowledged{})
			_ = rpos
			w.append(domain.ReferralStream("R1"), tc.at, &domain.ReferralCompleted{ArrivedAt: tc.at, Outcome: "safe_burial"})
			e := w.running(t0.AddDate(0, 1, 0), projections.Config{})
			f := projections.Filter{District: "Kenema", To: to}

			trust, _ := e.TrustStats(f)
			if len(trust.Series) != 1 {
				t.Fatalf("trust series %+v, want 2015-W06 only", trust.Series)
			}
			wantVisits, wantT1 := 1, 1.0
			if tc.in {
				wantVisits, wantT1 = 2, 0.5
			}
			if wk := trust.Series[0]; wk.Visits != wantVisits || wk.T1 == nil || *wk.T1 != wantT1 || !wk.Partial {
				t.Errorf("trust W06: %d visits, t1 %v, partial %v; want %d, %v, true", wk.Visits, rateOf(wk.T1), wk.Partial, wantVisits, wantT1)
			}

			comp, _ := e.CompletionStats(f, true)
			wantStarted := 0
			if tc.in {
				wantStarted = 1
			}
			if comp.Total != 1 || comp.InProgress != wantStarted {
				t.Errorf("completion totals: %+v, want 1 action point, %d in progress", comp.Counts, wantStarted)
			}
			if len(comp.Series) != 1 || comp.Series[0].InProgress != wantStarted || !comp.Series[0].Partial {
				t.Errorf("completion series: %+v, want W06 (partial) with %d in progress", comp.Series, wantStarted)
			}

			fb, _ := e.FeedbackStats(f, true)
			if fb.Received != 1 || fb.LoopClosed != wantStarted {
				t.Errorf("feedback: %d received, %d loops closed; want 1, %d", fb.Received, fb.LoopClosed, wantStarted)
			}
			if len(fb.Series) != 1 || fb.Series[0].LoopClosed != wantStarted {
				t.Errorf("feedback series: %+v", fb.Series)
			}

			refs, _ := e.ReferralStats(f)
			wantStatus := "acknowledged"
			if tc.in {
				wantStatus = "completed"
			}
			if refs.Total != 1 || refs.ByStatus[wantStatus] != 1 || (refs.SafeBurialRate != nil) != tc.in {
				t.Errorf("referrals: %+v, want one %s", refs, wantStatus)
			}
		})
	}
}

// A back-dated write in one district does not stretch another district's
// series: the series spans the place asked about.
func TestBackDatedWriteElsewhereDoesNotStretchASeries(t *testing.T) {
	w := newWorld(t)
	w.registered("KEN-1", kenema, t0.Add(-time.Hour))
	for i := range 8 {
		at := t0.AddDate(0, 0, 7*i).Add(time.Hour)
		w.visited("KEN-1", at, 4)
		w.feedbackItem("F"+string(rune('a'+i)), "KEN-1", kenema, at, time.Time{})
	}
	w.actionPoint("AP1", t0.Add(time.Hour), &domain.ActionPointStarted{})
	now := t0.AddDate(0, 0, 7*8)
	lengths := func(e *projections.Engine) [3]int {
		f := projections.Filter{District: "Kenema"}
		trust, _ := e.TrustStats(f)
		comp, _ := e.CompletionStats(f, true)
		fb, _ := e.FeedbackStats(f, true)
		return [3]int{len(trust.Series), len(comp.Series), len(fb.Series)}
	}
	before := lengths(w.running(now, projections.Config{Path: w.dir + "/before.db"}))
	if before[0] != 8 || before[2] != 8 {
		t.Fatalf("Kenema's series: %v weeks (trust, completion, feedback), want 8 for trust and feedback", before)
	}

	back := time.Date(2000, 1, 3, 9, 0, 0, 0, time.UTC)
	w.registered("KAI-1", luawa, back.Add(-time.Hour))
	w.visited("KAI-1", back, 2)
	w.feedbackItem("F-KAI", "KAI-1", luawa, back, time.Time{})
	w.append(domain.ActionPointStream("AP-KAI"), back, &domain.ActionPointRaised{ID: "AP-KAI", CommunityID: "KAI-1", Place: luawa,
		Title: "t", Category: "hygiene", Kind: "continuous"})
	e := w.running(now, projections.Config{Path: w.dir + "/after.db"})
	if after := lengths(e); after != before {
		t.Errorf("Kenema's series after a back-dated Kailahun write: %v weeks (trust, completion, feedback), want %v", after, before)
	}
	// Kailahun's own series starts at its own data; the nation's spans both.
	kai, _ := e.TrustStats(projections.Filter{District: "Kailahun"})
	if len(kai.Series) != 1 || kai.Series[0].Week != "2000-W01" {
		t.Errorf("Kailahun's trust series: %d weeks from %v, want 2000-W01 only", len(kai.Series), kai.Series)
	}
}

// With from inside a week, the week's own figures start at from, but the
// weeks after it read the whole week: "falling" four weeks later compares
// with the week as a series without from shows it.
func TestFromInsideAWeek(t *testing.T) {
	w := newWorld(t)
	w.registered("KEN-1", kenema, t0.Add(-time.Hour))
	for i := range 5 {
		w.visited("KEN-1", t0.Add(time.Duration(i)*time.Hour), 5)                   // Monday of 2015-W06
		w.visited("KEN-1", t0.AddDate(0, 0, 2).Add(time.Duration(i)*time.Hour), 3)  // Wednesday
		w.visited("KEN-1", t0.AddDate(0, 0, 28).Add(time.Duration(i)*time.Hour), 3) // 2015-W10
	}
	e := w.running(t0.AddDate(0, 3, 0), projections.Config{})
	whole, _ := e.TrustStats(projections.Filter{District: "Kenema"})
	part, _ := e.TrustStats(projections.Filter{District: "Kenema", From: t0.AddDate(0, 0, 1)}) // Tuesday
	if len(part.Series) == 0 || part.Series[0].Week != "2015-W06" {
		t.Fatalf("series from Tuesday: %+v", part.Series)
	}
	w06 := part.Series[0]
	if w06.Visits != 5 || w06.T1 == nil || *w06.T1 != 0.5 || !w06.Partial {
		t.Errorf("2015-W06 from Tuesday: %d visits, t1 %v, partial %v; want the 5 visits from Tuesday on, t1 0.5, partial", w06.Visits, rateOf(w06.T1), w06.Partial)
	}
	if ww := trustWeek(t, whole, "2015-W06"); ww.Visits != 10 || ww.Partial {
		t.Errorf("2015-W06 without from: %d visits, partial %v; want 10, false", ww.Visits, ww.Partial)
	}
	if p, o := trustWeek(t, part, "2015-W10"), trustWeek(t, whole, "2015-W10"); p.Falling != o.Falling || !o.Falling {
		t.Errorf("2015-W10 falling: %v from Tuesday, %v without from; want true both (0.75 then 0.5, ten and five visits)", p.Falling, o.Falling)
	}
}

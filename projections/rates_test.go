package projections_test

// The read side's own arithmetic, checked in this package alone: the
// completion rates' numerators and denominators, and the trust index as the
// weighted mean of the components that have data.

import (
	"fmt"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// TestCompletionRates: achieved_rate = achieved / (all − dropped) and
// implementation_rate = (in_progress + achieved) / (all − dropped), in the
// totals, by category, by kind and in every week of the series.
func TestCompletionRates(t *testing.T) {
	start, achieve, drop := &domain.ActionPointStarted{}, &domain.ActionPointAchieved{}, &domain.ActionPointDropped{Reason: "r"}
	for _, tc := range []struct {
		name                string
		open, prog, ach, dr int
		achieved, implement *float64
	}{
		// 2 open, 3 in progress, 3 achieved, 2 dropped: 3/8 and 6/8 (not
		// 3/10 and 6/10 over all, nor 3/6 over the unfinished).
		{"mixed", 2, 3, 3, 2, ptr(3.0 / 8), ptr(6.0 / 8)},
		{"none_dropped", 1, 1, 2, 0, ptr(2.0 / 4), ptr(3.0 / 4)},
		{"all_dropped_is_null", 0, 0, 0, 3, nil, nil},
		{"only_open", 4, 0, 0, 0, ptr(0), ptr(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comp := projections.NewCompletion()
			f := feed(t, comp)
			n := 0
			add := func(k int, steps ...domain.Event) {
				for range k {
					n++
					f.actionPoint(fmt.Sprintf("AP%d", n), winW10.Add(time.Duration(n)*time.Minute), "", steps...)
				}
			}
			add(tc.open)
			add(tc.prog, start)
			add(tc.ach, start, achieve)
			add(tc.dr, drop)
			filter := projections.Filter{From: winW10, To: winW10.AddDate(0, 0, 7), Now: winW10.AddDate(0, 1, 0)}
			st := comp.Stats(filter, true)
			check := func(where string, c projections.Counts) {
				t.Helper()
				if c.Open != tc.open || c.InProgress != tc.prog || c.Achieved != tc.ach || c.Dropped != tc.dr || c.Total != n {
					t.Errorf("%s: counts %+v, want open %d in_progress %d achieved %d dropped %d of %d", where, c, tc.open, tc.prog, tc.ach, tc.dr, n)
				}
				checkRate(t, where+" achieved_rate", c.AchievedRate, tc.achieved)
				checkRate(t, where+" implementation_rate", c.ImplementationRate, tc.implement)
			}
			check("total", st.Counts)
			if c := st.ByCategory["hygiene"]; c == nil {
				t.Errorf("no hygiene in by_category: %v", st.ByCategory)
			} else {
				check("by_category", *c)
			}
			if c := st.ByKind["one_off"]; c == nil {
				t.Errorf("no one_off in by_kind: %v", st.ByKind)
			} else {
				check("by_kind", *c)
			}
			if len(st.Series) != 1 {
				t.Fatalf("series %+v, want one week", st.Series)
			}
			check("series 2015-W10", st.Series[0].Counts)
		})
	}
}

// TestTrustIndexWeights: each component is what PRODUCT.md defines, and the
// index is the weighted mean of the components that have data — default
// weights 0.4, 0.2, 0.2, 0.2, or the configured ones.
func TestTrustIndexWeights(t *testing.T) {
	// Week 2015-W10 with every component, each a different value:
	// T1: two visits rated 4 and 3 -> mean((4−1)/4, (3−1)/4) = 0.625;
	// T2: three items, one closed within 14 days -> 1/3;
	// T3: three cases, one raised within 24 h of onset -> 1/3;
	// T4: one complaint of the three -> 2/3.
	build := func(t *testing.T, weights [4]float64) *projections.Trust {
		m := projections.NewTrust(weights)
		f := feed(t, m)
		f.community("C1", winW10.AddDate(0, -2, 0))
		at := winW10.Add(30 * time.Hour)
		f.visit("C1", at, 4)
		f.visit("C1", at, 3)
		f.feedback("F1", "complaint", at, at.Add(24*time.Hour))
		f.feedback("F2", "question", at, time.Time{})
		f.feedback("F3", "suggestion", at, at.Add(20*24*time.Hour))
		f.suspectedCase("R1", at, at.Add(-2*time.Hour))
		f.suspectedCase("R2", at, at.Add(-30*time.Hour))
		f.suspectedCase("R3", at, at.Add(-72*time.Hour))
		// Week 2015-W12: visits only (rated 5): T1 = 1, T4 null; T2 and T3
		// still see W10's items and cases (W09..W12).
		f.visit("C1", winW10.AddDate(0, 0, 15), 5)
		// Week 2015-W15: nothing of W10 is in its window; only a
		// complaint: T4 = 0, T2 = 0 (not closed).
		f.feedback("F4", "rumour", winW10.AddDate(0, 0, 36), time.Time{})
		return m
	}
	const t1, t2, t3, t4 = 0.625, 1.0 / 3, 1.0 / 3, 2.0 / 3
	filter := projections.Filter{From: winW10, To: winW10.AddDate(0, 0, 42), Now: winW10.AddDate(1, 0, 0)}
	for _, tc := range []struct {
		name    string
		weights [4]float64
		want    [4]float64 // the weights the index must use
	}{
		{"default_weights", [4]float64{}, [4]float64{0.4, 0.2, 0.2, 0.2}},
		{"configured_weights", [4]float64{0.1, 0.2, 0.3, 0.4}, [4]float64{0.1, 0.2, 0.3, 0.4}},
		{"configured_unnormalised", [4]float64{3, 0, 1, 2}, [4]float64{3, 0, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := build(t, tc.weights).Stats(filter)
			if st.Weights != tc.want {
				t.Errorf("weights %v, want %v", st.Weights, tc.want)
			}
			w := tc.want
			mean := func(vals [4]*float64) *float64 {
				var sum, weight float64
				for i, v := range vals {
					if v != nil {
						sum += w[i] * *v
						weight += w[i]
					}
				}
				if weight == 0 {
					return nil
				}
				return ptr(sum / weight)
			}
			for _, row := range []struct {
				week string
				c    [4]*float64
			}{
				{"2015-W10", [4]*float64{ptr(t1), ptr(t2), ptr(t3), ptr(t4)}},
				{"2015-W12", [4]*float64{ptr(1), ptr(t2), ptr(t3), nil}},
				{"2015-W15", [4]*float64{nil, ptr(0), nil, ptr(0)}},
				{"2015-W14", [4]*float64{nil, nil, nil, nil}},
			} {
				got := weekRow(t, st, row.week)
				for i, c := range []*float64{got.T1, got.T2, got.T3, got.T4} {
					checkRate(t, fmt.Sprintf("%s T%d", row.week, i+1), c, row.c[i])
				}
				checkRate(t, row.week+" index", got.Index, mean(row.c))
			}
		})
	}

	// The expected numbers, written out once for the default weights, so
	// that the test does not only agree with its own formula.
	t.Run("default_numbers", func(t *testing.T) {
		st := build(t, [4]float64{}).Stats(filter)
		checkRate(t, "2015-W10 index", weekRow(t, st, "2015-W10").Index, ptr(0.4*0.625+0.2/3+0.2/3+0.2*2/3))
		checkRate(t, "2015-W12 index", weekRow(t, st, "2015-W12").Index, ptr((0.4*1+0.2/3+0.2/3)/0.8))
		checkRate(t, "2015-W15 index", weekRow(t, st, "2015-W15").Index, ptr(0))
	})
}

// TestReferralAndFeedbackRates: the referral and feedback indicators'
// numerators, denominators and percentiles (linear between closest ranks,
// numpy's default).
func TestReferralAndFeedbackRates(t *testing.T) {
	refs, fb := projections.NewReferrals(), projections.NewFeedback()
	f := feed(t, refs, fb)
	raised := winW10.Add(10 * time.Hour)
	referral := func(id, kind string, hours float64, outcome string) {
		f.event(domain.ReferralStream(id), raised, &domain.ReferralRaised{ID: id, CommunityID: "C1", Place: kenema,
			Kind: kind, Channel: "hotline_117", RaisedAt: raised})
		if outcome == "" {
			return
		}
		f.event(domain.ReferralStream(id), raised.Add(time.Minute), &domain.ReferralAcknowledged{})
		arrived := raised.Add(time.Duration(hours * float64(time.Hour)))
		f.event(domain.ReferralStream(id), arrived, &domain.ReferralCompleted{ArrivedAt: arrived, Outcome: outcome})
	}
	// Hours to complete 1, 2, 3, 4, 10: median 3, p90 4 + 0.6·(10 − 4).
	referral("D1", "death_alert", 1, "safe_burial")
	referral("D2", "death_alert", 2, "unsafe_burial")
	referral("D3", "death_alert", 10, "safe_burial")
	referral("D4", "death_alert", 0, "") // no outcome: not in the burial share
	referral("S1", "suspected_case", 3, "safe_burial")
	referral("O1", "other", 4, "not_found")
	st := refs.Stats(projections.Filter{Now: winW10.AddDate(0, 1, 0)})
	if st.Total != 6 || st.ByKind["death_alert"] != 4 || st.ByStatus["completed"] != 5 || st.ByStatus["raised"] != 1 {
		t.Errorf("total %d, by kind %v, by status %v", st.Total, st.ByKind, st.ByStatus)
	}
	checkRate(t, "hours_to_complete_median", st.HoursToCompleteMedian, ptr(3))
	checkRate(t, "hours_to_complete_p90", st.HoursToCompleteP90, ptr(7.6))
	// Of the death alerts with an outcome, the share with a safe burial (the
	// suspected case's outcome does not count).
	checkRate(t, "safe_burial_rate", st.SafeBurialRate, ptr(2.0/3))

	yes, no := true, false
	item := func(id, typ, need string, closeAfterDays float64, satisfied *bool) {
		f.event(domain.FeedbackStream(id), raised, &domain.FeedbackReceived{ID: id, CommunityID: "C1", Place: kenema,
			Type: typ, Text: "x", NeedCategory: need, Channel: "mobilizer", ReceivedAt: raised})
		if satisfied != nil {
			at := raised.Add(time.Duration(closeAfterDays * 24 * float64(time.Hour)))
			f.event(domain.FeedbackStream(id), at, &domain.FeedbackLoopClosed{CommunicatedAt: at, Satisfied: *satisfied})
		}
	}
	item("F1", "rumour", "security", 2, &yes)
	item("F2", "question", "basic", 5, &no)
	item("F3", "rumour", "security", 0, nil)
	item("F4", "complaint", "", 0, nil)
	fs := fb.Stats(projections.Filter{Now: winW10.AddDate(0, 1, 0)}, false)
	if fs.Received != 4 || fs.LoopClosed != 2 {
		t.Errorf("received %d, loop closed %d; want 4 and 2", fs.Received, fs.LoopClosed)
	}
	checkRate(t, "loop_closure_rate", fs.LoopClosureRate, ptr(0.5))
	checkRate(t, "days_to_close_median", fs.DaysToCloseMedian, ptr(3.5))
	if fmt.Sprint(fs.ByType) != "map[complaint:1 question:1 rumour:2]" || fmt.Sprint(fs.ByNeed) != "map[basic:1 security:2]" {
		t.Errorf("by_type %v, by_need %v", fs.ByType, fs.ByNeed)
	}
}

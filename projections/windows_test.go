package projections_test

// Exact-boundary tests of every window PRODUCT.md's indicators name: on the
// limit counts, one second past does not. The randomised recounts never land
// on a limit, so without these a 14-day window could become 15 days, or 24 h
// become 25 h, and nothing would fail. The models are fed events directly
// (Apply), in log order, as the engine would.

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// winW10 is Monday 00:00 UTC of ISO week 2015-W10, the week the trust tests
// look at; its trailing four weeks are 2015-W07..W10.
var winW10 = time.Date(2015, 3, 2, 0, 0, 0, 0, time.UTC)

// feeder applies events to models with increasing log positions.
type feeder struct {
	pos    uint64
	models []projections.Model
	t      *testing.T
}

func feed(t *testing.T, models ...projections.Model) *feeder {
	return &feeder{models: models, t: t}
}

func (f *feeder) event(stream string, at time.Time, data domain.Event) {
	f.t.Helper()
	f.pos++
	ev := projections.Event{Position: f.pos, Stream: stream, Revision: 1, OccurredAt: at, RecordedAt: at, Data: data}
	for _, m := range f.models {
		if err := m.Apply(&ev); err != nil {
			f.t.Fatalf("apply %T: %v", data, err)
		}
	}
}

func (f *feeder) community(id string, at time.Time) {
	f.event(domain.CommunityStream(id), at, &domain.CommunityRegistered{ID: id, Name: id, Place: kenema, Population: 100})
}

func (f *feeder) visit(community string, at time.Time, rating int) {
	f.event(domain.CommunityStream(community), at, &domain.VisitRecorded{Kind: "follow_up", TrustRating: rating})
}

// feedback receives an item at `at`; closed, when not zero, is the
// communicated_at of its loop closure (recorded at that time).
func (f *feeder) feedback(id, typ string, at, closed time.Time) {
	f.event(domain.FeedbackStream(id), at, &domain.FeedbackReceived{ID: id, CommunityID: "C1", Place: kenema,
		Type: typ, Text: "x", Channel: "mobilizer", ReceivedAt: at})
	if !closed.IsZero() {
		f.event(domain.FeedbackStream(id), closed, &domain.FeedbackLoopClosed{CommunicatedAt: closed, Satisfied: true})
	}
}

func (f *feeder) suspectedCase(id string, raised, onset time.Time) {
	f.event(domain.ReferralStream(id), raised, &domain.ReferralRaised{ID: id, CommunityID: "C1", Place: kenema,
		Kind: "suspected_case", Channel: "mobilizer", PersonRef: "P-" + id, SymptomOnset: onset, RaisedAt: raised})
}

func (f *feeder) actionPoint(id string, at time.Time, due domain.Date, steps ...domain.Event) {
	f.event(domain.ActionPointStream(id), at, &domain.ActionPointRaised{ID: id, CommunityID: "C1", Place: kenema,
		Title: "t", Category: "hygiene", Kind: "one_off", DueDate: due})
	for i, s := range steps {
		f.event(domain.ActionPointStream(id), at.Add(time.Duration(i+1)*time.Hour), s)
	}
}

// weekRow finds a week of a trust series by its ISO name.
func weekRow(t *testing.T, st projections.TrustStats, week string) projections.TrustWeek {
	t.Helper()
	for _, w := range st.Series {
		if w.Week == week {
			return w
		}
	}
	names := make([]string, len(st.Series))
	for i, w := range st.Series {
		names[i] = w.Week
	}
	t.Fatalf("no week %s in the series %v", week, names)
	return projections.TrustWeek{}
}

// trustWeekAt is the trust row of week w (Monday 00:00 UTC), from a series
// that starts with w and ends well after everything the tests write (so
// that a period ending at `to` leaves out nothing they look at). A series
// may leave out a week without data: then the row is empty (all null).
func trustWeekAt(t *testing.T, m *projections.Trust, w time.Time) projections.TrustWeek {
	t.Helper()
	y, n := w.ISOWeek()
	week := fmt.Sprintf("%04d-W%02d", y, n)
	st := m.Stats(projections.Filter{From: w, To: w.AddDate(0, 0, 70), Now: w.AddDate(0, 6, 0)})
	for _, row := range st.Series {
		if row.Week == week {
			return row
		}
	}
	return projections.TrustWeek{Week: week}
}

func fmtRate(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("%.6f", *p)
}

func sameRate(got, want *float64) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	return math.Abs(*got-*want) < 1e-9
}

func ptr(v float64) *float64 { return &v }

func checkRate(t *testing.T, what string, got, want *float64) {
	t.Helper()
	if !sameRate(got, want) {
		t.Errorf("%s = %s, want %s", what, fmtRate(got), fmtRate(want))
	}
}

// TestT2LoopClosedWithin14Days: T2 counts a loop closed (communicated_at) at
// most 14 days after the item was received (occurred_at).
func TestT2LoopClosedWithin14Days(t *testing.T) {
	received := winW10.Add(26 * time.Hour) // Tuesday of W10
	for _, tc := range []struct {
		name   string
		closed time.Time
		want   *float64
	}{
		{"closed_after_exactly_14_days", received.Add(14 * 24 * time.Hour), ptr(1)},
		{"closed_after_14_days_and_1s", received.Add(14*24*time.Hour + time.Second), ptr(0)},
		{"closed_after_13_days", received.Add(13 * 24 * time.Hour), ptr(1)},
		{"closed_the_same_minute", received.Add(time.Minute), ptr(1)},
		{"never_closed", time.Time{}, ptr(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := projections.NewTrust([4]float64{})
			f := feed(t, m)
			f.community("C1", winW10.AddDate(0, -3, 0))
			f.feedback("F1", "question", received, tc.closed)
			checkRate(t, "T2 of 2015-W10", trustWeekAt(t, m, winW10).T2, tc.want)
		})
	}
}

// TestT2T3TrailingFourWeeks: T2 and T3 of week W count the items and cases
// of weeks W−3..W: from Monday 00:00:00 UTC of W−3 to Sunday 23:59:59 of W.
func TestT2T3TrailingFourWeeks(t *testing.T) {
	w7 := winW10.AddDate(0, 0, -21) // Monday 00:00 of 2015-W07
	for _, tc := range []struct {
		name string
		at   time.Time
		in   bool // counted in W10's T2 and T3
	}{
		{"first_second_of_W-3", w7, true},
		{"last_second_of_W-4", w7.Add(-time.Second), false},
		{"last_second_of_W", winW10.AddDate(0, 0, 7).Add(-time.Second), true},
		{"first_second_of_W+1", winW10.AddDate(0, 0, 7), false},
		{"middle_of_W-2", w7.AddDate(0, 0, 10), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := projections.NewTrust([4]float64{})
			f := feed(t, m)
			f.community("C1", winW10.AddDate(0, -3, 0))
			// Closed within the hour, raised within the hour: each counts
			// as 1 wherever it falls; an item outside the window leaves
			// W10 with no data (null).
			f.feedback("F1", "question", tc.at, tc.at.Add(time.Hour))
			f.suspectedCase("R1", tc.at, tc.at.Add(-time.Hour))
			// A second item and case received at the same time and never
			// closed / raised late: they make the rate 1/2, not 1, so a
			// window that let in another week's data would show.
			f.feedback("F2", "question", tc.at, time.Time{})
			f.suspectedCase("R2", tc.at, tc.at.Add(-48*time.Hour))
			var want *float64
			if tc.in {
				want = ptr(0.5)
			}
			row := trustWeekAt(t, m, winW10)
			checkRate(t, "T2 of 2015-W10", row.T2, want)
			checkRate(t, "T3 of 2015-W10", row.T3, want)
		})
	}

	// The window moves with the week: W10's items stay in W13's window
	// (W10..W13) and leave it in W14's.
	t.Run("window_moves_with_the_week", func(t *testing.T) {
		m := projections.NewTrust([4]float64{})
		f := feed(t, m)
		f.community("C1", winW10.AddDate(0, -3, 0))
		at := winW10.Add(time.Hour)
		f.feedback("F1", "question", at, at.Add(time.Hour))
		f.suspectedCase("R1", at, at.Add(-time.Hour))
		for _, tc := range []struct {
			week string
			want *float64
		}{{"2015-W09", nil}, {"2015-W10", ptr(1)}, {"2015-W13", ptr(1)}, {"2015-W14", nil}} {
			st := m.Stats(projections.Filter{From: winW10.AddDate(0, 0, -7), To: winW10.AddDate(0, 0, 35), Now: winW10.AddDate(1, 0, 0)})
			row := weekRow(t, st, tc.week)
			checkRate(t, "T2 of "+tc.week, row.T2, tc.want)
			checkRate(t, "T3 of "+tc.week, row.T3, tc.want)
		}
	})
}

// TestWithin24HoursOfOnset: T3 and suspected_within_24h_rate count a
// suspected case raised (occurred_at) at most 24 hours after symptom onset.
func TestWithin24HoursOfOnset(t *testing.T) {
	raised := winW10.Add(50 * time.Hour)
	for _, tc := range []struct {
		name  string
		onset time.Time
		want  *float64
	}{
		{"raised_exactly_24h_after_onset", raised.Add(-24 * time.Hour), ptr(1)},
		{"raised_24h_and_1s_after_onset", raised.Add(-24*time.Hour - time.Second), ptr(0)},
		{"raised_23h_after_onset", raised.Add(-23 * time.Hour), ptr(1)},
		{"raised_36h_after_onset", raised.Add(-36 * time.Hour), ptr(0)},
		{"raised_at_onset", raised, ptr(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trust, refs := projections.NewTrust([4]float64{}), projections.NewReferrals()
			f := feed(t, trust, refs)
			f.community("C1", winW10.AddDate(0, -3, 0))
			f.suspectedCase("R1", raised, tc.onset)
			checkRate(t, "T3 of 2015-W10", trustWeekAt(t, trust, winW10).T3, tc.want)
			st := refs.Stats(projections.Filter{Now: raised.AddDate(0, 1, 0)})
			checkRate(t, "suspected_within_24h_rate", st.SuspectedWithin24hRate, tc.want)
			if st.Total != 1 {
				t.Errorf("total %d, want 1", st.Total)
			}
		})
	}

	// Only suspected cases with an onset are in the denominator.
	t.Run("only_suspected_cases", func(t *testing.T) {
		refs := projections.NewReferrals()
		f := feed(t, refs)
		f.suspectedCase("R1", raised, raised.Add(-time.Hour))
		f.suspectedCase("R2", raised, raised.Add(-25*time.Hour))
		f.event(domain.ReferralStream("R3"), raised, &domain.ReferralRaised{ID: "R3", CommunityID: "C1", Place: kenema,
			Kind: "death_alert", Channel: "hotline_117", SymptomOnset: raised.Add(-time.Hour), RaisedAt: raised})
		f.event(domain.ReferralStream("R4"), raised, &domain.ReferralRaised{ID: "R4", CommunityID: "C1", Place: kenema,
			Kind: "other", Channel: "mobilizer", RaisedAt: raised})
		st := refs.Stats(projections.Filter{Now: raised.AddDate(0, 1, 0)})
		checkRate(t, "suspected_within_24h_rate", st.SuspectedWithin24hRate, ptr(0.5))
	})
}

// TestISOWeekEdges: weeks are ISO weeks in UTC; Sunday 23:59:59 belongs to
// the week it ends, Monday 00:00:00 to the next, and the ISO year is not the
// calendar year at its edges (2015 has a week 53).
func TestISOWeekEdges(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   time.Time
		week string
	}{
		{"sunday_last_second", time.Date(2015, 3, 8, 23, 59, 59, 0, time.UTC), "2015-W10"},
		{"monday_first_second", time.Date(2015, 3, 9, 0, 0, 0, 0, time.UTC), "2015-W11"},
		{"2015_W53_last_second", time.Date(2016, 1, 3, 23, 59, 59, 0, time.UTC), "2015-W53"},
		{"2016_W01_first_second", time.Date(2016, 1, 4, 0, 0, 0, 0, time.UTC), "2016-W01"},
		{"2014_W52_last_second", time.Date(2014, 12, 28, 23, 59, 59, 0, time.UTC), "2014-W52"},
		{"2015_W01_starts_in_december", time.Date(2014, 12, 29, 0, 0, 0, 0, time.UTC), "2015-W01"},
		{"monday_0030_at_plus_one_is_sunday_utc", time.Date(2015, 3, 9, 0, 30, 0, 0, time.FixedZone("WAT+1", 3600)), "2015-W10"},
		{"sunday_2330_at_minus_one_is_monday_utc", time.Date(2015, 3, 8, 23, 30, 0, 0, time.FixedZone("-1", -3600)), "2015-W11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			utc := tc.at.UTC()
			wy, wn := utc.ISOWeek()
			monday := time.Date(utc.Year(), utc.Month(), utc.Day()-(int(utc.Weekday())+6)%7, 0, 0, 0, 0, time.UTC)
			if got := fmt.Sprintf("%04d-W%02d", wy, wn); got != tc.week {
				t.Fatalf("the case is wrong: %s is in %s", utc, got)
			}
			from, to := monday.AddDate(0, 0, -7), monday.AddDate(0, 0, 14)
			filter := projections.Filter{From: from, To: to, Now: to.AddDate(0, 1, 0)}

			// Trust: a visit rated 5 (T1 = 1) and a complaint (T4 = 0).
			trust, fb, comp := projections.NewTrust([4]float64{}), projections.NewFeedback(), projections.NewCompletion()
			f := feed(t, trust, fb, comp)
			f.community("C1", from.AddDate(0, -1, 0))
			f.visit("C1", tc.at, 5)
			f.feedback("F1", "complaint", tc.at, time.Time{})
			// An action point raised a week earlier, achieved at tc.at.
			f.actionPoint("AP1", from.Add(-time.Hour), "")
			f.event(domain.ActionPointStream("AP1"), tc.at, &domain.ActionPointAchieved{Evidence: "e"})

			st := trust.Stats(filter)
			if len(st.Series) != 3 {
				t.Fatalf("trust series has %d weeks, want 3: %+v", len(st.Series), st.Series)
			}
			for _, row := range st.Series {
				if row.Week == tc.week {
					checkRate(t, "T1 of "+row.Week, row.T1, ptr(1))
					checkRate(t, "T4 of "+row.Week, row.T4, ptr(0))
					if row.Visits != 1 {
						t.Errorf("%s: %d visits, want 1", row.Week, row.Visits)
					}
				} else if row.T1 != nil || row.T4 != nil || row.Visits != 0 {
					t.Errorf("%s has the visit or the item of %s: %+v", row.Week, tc.week, row)
				}
			}

			fst := fb.Stats(filter, true)
			for _, row := range fst.Series {
				want := 0
				if row.Week == tc.week {
					want = 1
				}
				if row.Received != want || row.ByType["complaint"] != want {
					t.Errorf("feedback %s: received %d, want %d", row.Week, row.Received, want)
				}
			}
			if len(fst.Series) != 3 {
				t.Errorf("feedback series has %d weeks, want 3", len(fst.Series))
			}

			// Completion's series is the state at the end of each week:
			// achieved from the week of the achievement on.
			cst := comp.Stats(filter, true)
			if len(cst.Series) != 3 {
				t.Fatalf("completion series has %d weeks, want 3", len(cst.Series))
			}
			achieved := false
			for _, row := range cst.Series {
				achieved = achieved || row.Week == tc.week
				want := 0
				if achieved {
					want = 1
				}
				if row.Achieved != want || row.Total != 1 {
					t.Errorf("completion %s: achieved %d of %d, want %d of 1", row.Week, row.Achieved, row.Total, want)
				}
			}
		})
	}
}

// TestFromToBounds: from is inclusive and to exclusive (from ≤ t < to, field
// time of the record's creation), for every total; a series shows the weeks
// from from's week to the week of the last instant before to.
func TestFromToBounds(t *testing.T) {
	from := time.Date(2015, 3, 4, 12, 0, 0, 0, time.UTC) // a Wednesday
	to := time.Date(2015, 3, 18, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		at   time.Time
		in   bool
	}{
		{"exactly_from", from, true},
		{"1s_before_from", from.Add(-time.Second), false},
		{"1s_before_to", to.Add(-time.Second), true},
		{"exactly_to", to, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comp, refs, fb := projections.NewCompletion(), projections.NewReferrals(), projections.NewFeedback()
			f := feed(t, comp, refs, fb)
			f.actionPoint("AP1", tc.at, "")
			f.suspectedCase("R1", tc.at, tc.at.Add(-time.Hour))
			f.feedback("F1", "question", tc.at, time.Time{})
			want := 0
			if tc.in {
				want = 1
			}
			filter := projections.Filter{From: from, To: to, Now: to.AddDate(0, 1, 0)}
			if got := comp.Stats(filter, false).Total; got != want {
				t.Errorf("completion total %d, want %d", got, want)
			}
			if got := refs.Stats(filter).Total; got != want {
				t.Errorf("referrals total %d, want %d", got, want)
			}
			if got := fb.Stats(filter, false).Received; got != want {
				t.Errorf("feedback received %d, want %d", got, want)
			}
		})
	}

	t.Run("series_weeks", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			from, to time.Time
			weeks    []string
		}{
			{"mid_week_bounds", from, to, []string{"2015-W10", "2015-W11", "2015-W12"}},
			{"to_on_a_monday_excludes_that_week", winW10, winW10.AddDate(0, 0, 14), []string{"2015-W10", "2015-W11"}},
			{"to_one_second_past_a_monday", winW10, winW10.AddDate(0, 0, 14).Add(time.Second), []string{"2015-W10", "2015-W11", "2015-W12"}},
			{"from_on_the_last_second_of_a_week", winW10.Add(-time.Second), winW10.AddDate(0, 0, 7), []string{"2015-W09", "2015-W10"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				trust, comp, fb := projections.NewTrust([4]float64{}), projections.NewCompletion(), projections.NewFeedback()
				f := feed(t, trust, comp, fb)
				f.community("C1", winW10.AddDate(0, -2, 0))
				for d := -21; d < 42; d += 7 {
					at := winW10.AddDate(0, 0, d).Add(time.Hour)
					f.visit("C1", at, 4)
					f.feedback(fmt.Sprintf("F%d", d+21), "question", at, time.Time{})
					f.actionPoint(fmt.Sprintf("AP%d", d+21), at, "")
				}
				filter := projections.Filter{From: tc.from, To: tc.to, Now: winW10.AddDate(1, 0, 0)}
				series := map[string][]string{}
				for _, w := range trust.Stats(filter).Series {
					series["trust"] = append(series["trust"], w.Week)
				}
				for _, w := range comp.Stats(filter, true).Series {
					series["completion"] = append(series["completion"], w.Week)
				}
				for _, w := range fb.Stats(filter, true).Series {
					series["feedback"] = append(series["feedback"], w.Week)
				}
				for _, name := range []string{"trust", "completion", "feedback"} {
					if fmt.Sprint(series[name]) != fmt.Sprint(tc.weeks) {
						t.Errorf("%s series %v, want %v", name, series[name], tc.weeks)
					}
				}
			})
		}
	})
}

// TestOverdueDayEdge: an action point is overdue from the day after its due
// date (UTC), unless achieved or dropped.
func TestOverdueDayEdge(t *testing.T) {
	raised := time.Date(2015, 3, 2, 9, 0, 0, 0, time.UTC)
	due := domain.Date("2015-03-10")
	for _, tc := range []struct {
		name    string
		now     time.Time
		steps   []domain.Event
		overdue bool
	}{
		{"due_day_first_second", time.Date(2015, 3, 10, 0, 0, 0, 0, time.UTC), nil, false},
		{"due_day_last_second", time.Date(2015, 3, 10, 23, 59, 59, 0, time.UTC), nil, false},
		{"day_after_first_second", time.Date(2015, 3, 11, 0, 0, 0, 0, time.UTC), nil, true},
		{"day_after_in_progress", time.Date(2015, 3, 11, 0, 0, 0, 0, time.UTC), []domain.Event{&domain.ActionPointStarted{}}, true},
		{"achieved_is_never_overdue", time.Date(2015, 4, 1, 0, 0, 0, 0, time.UTC), []domain.Event{&domain.ActionPointStarted{}, &domain.ActionPointAchieved{}}, false},
		{"dropped_is_never_overdue", time.Date(2015, 4, 1, 0, 0, 0, 0, time.UTC), []domain.Event{&domain.ActionPointDropped{Reason: "r"}}, false},
		{"utc_day_not_local_day", time.Date(2015, 3, 11, 0, 30, 0, 0, time.FixedZone("+1", 3600)), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comp, lists := projections.NewCompletion(), projections.NewLists()
			feed(t, comp, lists).actionPoint("AP1", raised, due, tc.steps...)
			want := 0
			if tc.overdue {
				want = 1
			}
			filter := projections.Filter{Now: tc.now}
			if got := comp.Stats(filter, false).Overdue; got != want {
				t.Errorf("overdue %d, want %d", got, want)
			}
			items := lists.ActionPoints(projections.ActionPointQuery{Filter: filter, Overdue: true, Limit: 10}).Items
			if len(items) != want {
				t.Errorf("overdue list has %d items, want %d", len(items), want)
			}
		})
	}

	// A weekly point's "today" is the last day of its week: due on a
	// Sunday, not overdue that week; overdue at the end of the next.
	t.Run("series_week_end", func(t *testing.T) {
		comp := projections.NewCompletion()
		feed(t, comp).actionPoint("AP1", raised, "2015-03-08")
		st := comp.Stats(projections.Filter{From: winW10, To: winW10.AddDate(0, 0, 14), Now: winW10.AddDate(0, 1, 0)}, true)
		if len(st.Series) != 2 || st.Series[0].Overdue != 0 || st.Series[1].Overdue != 1 {
			t.Errorf("series %+v: want 2015-W10 not overdue, 2015-W11 overdue", st.Series)
		}
	})
}

// TestEngineOverdueTurnsAtMidnight: through the engine (its query cache
// included), an action point due on the 20th is not overdue at 23:59:59 on
// the 20th and is at 00:00:00 on the 21st, by the engine's clock.
func TestEngineOverdueTurnsAtMidnight(t *testing.T) {
	w := newWorld(t)
	pos := w.actionPoint("AP1", t0) // due 2015-02-20
	var mu sync.Mutex
	now := time.Date(2015, 2, 20, 23, 59, 59, 0, time.UTC)
	e := w.engine(projections.Config{Clock: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	run(t, e)
	waitFor(t, e, pos)
	for _, tc := range []struct {
		at      time.Time
		overdue int
	}{
		{time.Date(2015, 2, 20, 23, 59, 59, 0, time.UTC), 0},
		{time.Date(2015, 2, 21, 0, 0, 0, 0, time.UTC), 1},
		{time.Date(2015, 2, 20, 12, 0, 0, 0, time.UTC), 0},
	} {
		mu.Lock()
		now = tc.at
		mu.Unlock()
		st, _ := e.CompletionStats(projections.Filter{District: "Kenema"}, false)
		page, _ := e.ActionPoints(projections.ActionPointQuery{Filter: projections.Filter{District: "Kenema"}, Overdue: true, Limit: 10})
		if st.Overdue != tc.overdue || len(page.Items) != tc.overdue {
			t.Errorf("at %s: overdue %d, overdue list %d; want %d", tc.at, st.Overdue, len(page.Items), tc.overdue)
		}
	}
}

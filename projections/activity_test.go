package projections_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/actionledger/actionledger/projections"
)

// Last seen is the latest recorded_at of each actor's events, kept across a
// snapshot.
func TestActivityLastSeen(t *testing.T) {
	t0 := time.Date(2015, 2, 1, 8, 0, 0, 0, time.UTC)
	m := projections.NewActivity()
	for _, ev := range []projections.Event{
		{Position: 1, ActorID: "u-1", RecordedAt: t0},
		{Position: 2, ActorID: "u-2", RecordedAt: t0.Add(time.Hour)},
		{Position: 3, ActorID: "u-1", RecordedAt: t0.Add(2 * time.Hour)},
		{Position: 4, ActorID: "", RecordedAt: t0.Add(3 * time.Hour)},
	} {
		if err := m.Apply(&ev); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored := projections.NewActivity()
	if err := restored.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	// One more write after the snapshot moves u-2 on.
	if err := restored.Apply(&projections.Event{Position: 5, ActorID: "u-2", RecordedAt: t0.Add(4 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b2, _ := restored.MarshalBinary()
	again := projections.NewActivity()
	if err := again.UnmarshalBinary(b2); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    *projections.Activity
		id   string
		want time.Time
	}{
		{"u1_latest_of_two", restored, "u-1", t0.Add(2 * time.Hour)},
		{"u2_after_snapshot", again, "u-2", t0.Add(4 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := projections.ActivityLastSeen(tc.m, tc.id); !got.Equal(tc.want) {
				t.Errorf("last seen %v; want %v", got, tc.want)
			}
		})
	}
}

// Items this week: each actor's events by the ISO week (UTC) they were
// recorded in, kept across a snapshot. Sunday night and Monday morning are
// different weeks; the year turns by the ISO calendar, not January 1st.
func TestActivityEventsInWeek(t *testing.T) {
	sun := time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC) // Sunday, ISO week 49
	mon := sun.Add(time.Hour)                             // Monday 00:30, week 50
	m := projections.NewActivity()
	for i, ev := range []projections.Event{
		{ActorID: "mob-1", RecordedAt: sun},
		{ActorID: "mob-1", RecordedAt: sun.Add(-48 * time.Hour)},
		{ActorID: "mob-1", RecordedAt: mon},
		{ActorID: "mob-2", RecordedAt: mon.In(time.FixedZone("WAT", 3600))},
		{ActorID: "mob-3", RecordedAt: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}, // ISO 2026-W01
		{ActorID: "", RecordedAt: mon},
	} {
		ev.Position = uint64(i + 1)
		if err := m.Apply(&ev); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored := projections.NewActivity()
	if err := restored.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   string
		at   time.Time
		want int
	}{
		{"two_in_the_week_ending_sunday", "mob-1", sun, 2},
		{"one_in_the_week_starting_monday", "mob-1", mon.Add(72 * time.Hour), 1},
		{"offset_time_counts_in_its_utc_week", "mob-2", mon, 1},
		{"nothing_the_week_before", "mob-2", sun, 0},
		{"iso_week_one_spans_new_year", "mob-3", time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC), 1},
		{"no_actor_counts_for_nobody", "", mon, 0},
		{"unknown_actor", "mob-9", mon, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, a := range map[string]*projections.Activity{"live": m, "restored": restored} {
				if got := a.InWeek(tc.id, tc.at); got != tc.want {
					t.Errorf("%s: InWeek(%q, %v) = %d; want %d", name, tc.id, tc.at, got, tc.want)
				}
			}
		})
	}
}

// The week each event counts in is the ISO week of its recorded_at (UTC)
// whatever came before it: Apply remembers the last week's span, and times
// that go back, jump years or fall on a week's first and last instants
// must not land in the remembered week.
func TestActivityCountsEachEventInItsOwnWeek(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2014, 12, 28, 0, 0, 0, 0, time.UTC) // a Sunday: ISO 2014-W52
	var times []time.Time
	for range 3000 {
		switch r.IntN(4) {
		case 0: // a week's edges
			monday := base.AddDate(0, 0, 1+7*r.IntN(160))
			times = append(times, monday, monday.Add(-time.Nanosecond))
		case 1: // back in time
			times = append(times, base.Add(-time.Duration(r.Int64N(int64(3*365*24*time.Hour)))))
		default:
			times = append(times, base.Add(time.Duration(r.Int64N(int64(3*365*24*time.Hour)))))
		}
	}
	m := projections.NewActivity()
	want := map[int32]int{}
	for i, at := range times {
		if err := m.Apply(&projections.Event{Position: uint64(i + 1), ActorID: "mob-1", RecordedAt: at}); err != nil {
			t.Fatal(err)
		}
		y, w := at.ISOWeek()
		want[int32(y*100+w)]++
	}
	for _, at := range times {
		y, w := at.ISOWeek()
		if got := m.InWeek("mob-1", at); got != want[int32(y*100+w)] {
			t.Fatalf("InWeek(%v) = %d, want %d (ISO %d-W%02d)", at, got, want[int32(y*100+w)], y, w)
		}
	}
}

package projections_test

import (
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

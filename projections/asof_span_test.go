package projections_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/actionledger/actionledger/projections"
)

// As-of reads a record whose every event is in the cut as the live model
// holds it, and walks the history of the others. On a CLEA-shaped history —
// action points alive for months, referrals and feedback for a few weeks,
// visits every week, one in ten synced a week late, recorded_at a week
// behind the field — a time in the middle splits every kind of record
// between the two, and a time near the end leaves most of them whole. At
// many random times on both bases, and at the field and server times of
// random events a nanosecond either side, the answer is the full replay's
// for every filter.
func TestAsOfMatchesTheReplayOnACLEAShapedHistory(t *testing.T) {
	store, spec := smallHistory(t)
	eng, err := projections.Open(context.Background(), projections.Config{Store: store, Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	run(t, eng)
	head, _ := store.Head(context.Background())
	waitFor(t, eng, head)
	all, err := store.ReadAll(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}

	n := 40
	if testing.Short() {
		n = 10
	}
	r := rand.New(rand.NewPCG(13, 17))
	first, last := spec.start.Add(-7*24*time.Hour), spec.start.AddDate(0, 0, 7*spec.weeks+14)
	span := last.Sub(first)
	var recorded, occurred []time.Time
	for range n {
		recorded = append(recorded, first.Add(time.Duration(r.Int64N(int64(span)))))
		occurred = append(occurred, first.Add(time.Duration(r.Int64N(int64(span)))))
		ev := all[r.IntN(len(all))]
		d := time.Duration(r.IntN(3) - 1) // -1, 0 or +1 ns
		recorded = append(recorded, ev.RecordedAt.Add(d))
		occurred = append(occurred, ev.Meta.OccurredAt.Add(d))
		// In the last week, some communities have had their last visit
		// and the others not yet: the trust model adds up the place's
		// weekly sums for the first and reads only the others.
		occurred = append(occurred, spec.start.AddDate(0, 0, 7*(spec.weeks-1)).Add(time.Duration(r.Int64N(int64(8*24*time.Hour)))))
	}
	filters := []projections.Filter{
		{},
		{District: "Kenema"},
		{District: "Bo", Chiefdom: "Chiefdom 01"},
		{CommunityID: "C00021"},
		{District: "Kailahun", Category: "hygiene"},
		{From: spec.start.AddDate(0, 0, 7*5), To: spec.start.AddDate(0, 0, 7*25)},
	}
	for _, tc := range []struct {
		basis string
		times []time.Time
	}{
		{projections.BasisOccurred, occurred},
		{projections.BasisRecorded, recorded},
	} {
		t.Run(tc.basis, func(t *testing.T) {
			for _, at := range tc.times {
				want, err := eng.AsOfReplay(context.Background(), at, tc.basis, filters...)
				if err != nil {
					t.Fatal(err)
				}
				for i, f := range filters {
					got, err := eng.AsOf(context.Background(), at, tc.basis, f)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want[i]) {
						t.Fatalf("%s as of %s, filter %+v:\n%s", tc.basis, at.Format(time.RFC3339Nano), f, asOfDiff(got, want[i]))
					}
				}
			}
		})
	}
}

package projections_test

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// feedMany folds a few thousand records of every kind into m, across
// communities and both places, so that its snapshot is a few hundred KB.
func feedMany(t *testing.T, m projections.Model) {
	t.Helper()
	bo := domain.Place{District: "Bo", Chiefdom: "Kakua", Section: "Sewa"}
	var pos uint64
	add := func(stream string, at time.Time, data domain.Event) {
		t.Helper()
		pos++
		if err := m.Apply(&projections.Event{Position: pos, Stream: stream, Revision: 1, OccurredAt: at, RecordedAt: at,
			ActorID: fmt.Sprintf("u%d", pos%40), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	for c := range 300 {
		id, place := fmt.Sprintf("C%03d", c), kenema
		if c%2 == 1 {
			place = bo
		}
		add(domain.CommunityStream(id), t0, &domain.CommunityRegistered{ID: id, Name: "Community " + id, Place: place, Population: 100 + c})
		for i := range 10 {
			at := t0.Add(time.Duration(c*10+i) * time.Hour)
			add(domain.CommunityStream(id), at, &domain.VisitRecorded{Kind: "follow_up", TrustRating: 1 + i%5,
				Concerns: []domain.Concern{{Need: "basic", Text: "water"}}})
			item := fmt.Sprintf("%s-%d", id, i)
			add(domain.ActionPointStream("AP"+item), at, &domain.ActionPointRaised{ID: "AP" + item, CommunityID: id, Place: place,
				Title: "Title " + item, Category: "hygiene", Kind: "one_off", DueDate: "2015-03-01"})
			add(domain.ReferralStream("R"+item), at, &domain.ReferralRaised{ID: "R" + item, CommunityID: id, Place: place,
				Kind: "suspected_case", Channel: "mobilizer", PersonRef: "person " + item, SymptomOnset: at.Add(-time.Hour)})
			add(domain.FeedbackStream("F"+item), at, &domain.FeedbackReceived{ID: "F" + item, CommunityID: id, Place: place,
				Type: "rumour", NeedCategory: "basic", Channel: "meeting"})
		}
	}
}

// allocatedBy is how many bytes fn allocates after prepare, the least of
// three tries, so that what another goroutine allocates meanwhile is not
// counted.
func allocatedBy(prepare, fn func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		prepare()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// A model restored from a snapshot saves as a model that has saved before
// does: its buffers sized once from the snapshot it was restored from, not
// grown from empty (which allocated about twice what a sized save does, in
// the server's first save after every restart: hundreds of megabytes at ten
// times CLEA, where the server runs near its memory limit).
func TestRestoredModelsFirstSaveIsSized(t *testing.T) {
	cases := []struct {
		name string
		new  func() projections.Model
	}{
		{"referrals", func() projections.Model { return projections.NewReferrals() }},
		{"feedback", func() projections.Model { return projections.NewFeedback() }},
		{"completion", func() projections.Model { return projections.NewCompletion() }},
		{"trust", func() projections.Model { return projections.NewTrustMin([4]float64{}, 1) }},
		{"lists", func() projections.Model { return projections.NewLists() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.new()
			feedMany(t, m)
			data, err := m.MarshalBinary() // its first save: grown from empty
			if err != nil {
				t.Fatal(err)
			}
			var again []byte
			saved := allocatedBy(func() {}, func() { again, err = m.MarshalBinary() })
			if err != nil {
				t.Fatal(err)
			}
			// Each try restores a copy: only a restored model's first save
			// is measured.
			var restored projections.Model
			var first []byte
			restoredSave := allocatedBy(func() {
				restored = tc.new()
				if err := restored.UnmarshalBinary(data); err != nil {
					t.Fatal(err)
				}
			}, func() { first, err = restored.MarshalBinary() })
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != len(again) {
				t.Fatalf("the restored model's snapshot is %d bytes, the model's %d", len(first), len(again))
			}
			if restoredSave > saved+saved/4 {
				t.Errorf("a %d-byte save allocated %d bytes after a restore, %d after a save", len(first), restoredSave, saved)
			}
		})
	}
}

package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// nationalLists folds a CLEA-national set of records straight into a Lists
// model (12,000 communities in 16 districts of 12 chiefdoms, 40 visits
// each with a concern at every third, 63,110 action points, 100,000
// referrals and 100,000 feedback items), without a store: the benchmarks
// measure the queries, not the log.
func nationalLists(b *testing.B) *projections.Lists {
	b.Helper()
	m := projections.NewLists()
	var pos uint64
	apply := func(stream string, at time.Time, e domain.Event) {
		pos++
		if err := m.Apply(&projections.Event{Position: pos, Stream: stream, Revision: 1, OccurredAt: at, ActorID: "u", Data: e}); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Date(2014, 10, 6, 0, 0, 0, 0, time.UTC)
	const communities = 12000
	places := make([]domain.Place, communities)
	for i := range communities {
		places[i] = domain.Place{District: fmt.Sprintf("District %d", i%16), Chiefdom: fmt.Sprintf("Chiefdom %d", (i/16)%12)}
		id := fmt.Sprintf("C%05d", i)
		apply(domain.CommunityStream(id), start, &domain.CommunityRegistered{ID: id, Name: fmt.Sprintf("Village %d", i), Place: places[i]})
		apply(domain.CommunityStream(id), start.Add(24*time.Hour), &domain.CommunityTriggered{Attendance: 50})
		for w := range 40 {
			v := &domain.VisitRecorded{Kind: "follow_up", TrustRating: 1 + (i+w)%5}
			if (i+w)%3 == 0 {
				v.Concerns = []domain.Concern{{Need: domain.Needs[(i+w)%6], Text: "x"}}
			}
			apply(domain.CommunityStream(id), start.AddDate(0, 0, 7*w+2), v)
		}
	}
	for i := range 63110 {
		c := i % communities
		id := fmt.Sprintf("AP%06d", i)
		apply(domain.ActionPointStream(id), start.Add(time.Duration(i)*time.Minute), &domain.ActionPointRaised{ID: id, CommunityID: fmt.Sprintf("C%05d", c),
			Place: places[c], Title: "Hand-washing station", Category: "hygiene", Kind: "one_off", DueDate: domain.Date(start.AddDate(0, 0, i%300).Format(time.DateOnly))})
		if i%10 < 9 {
			apply(domain.ActionPointStream(id), start.Add(time.Duration(i)*time.Minute+time.Hour), &domain.ActionPointStarted{})
		}
	}
	for i := range 100000 {
		c := i % communities
		id := fmt.Sprintf("R%06d", i)
		apply(domain.ReferralStream(id), start.Add(time.Duration(i)*4*time.Minute), &domain.ReferralRaised{ID: id, CommunityID: fmt.Sprintf("C%05d", c), Place: places[c], Kind: "other"})
		if i%5 > 0 {
			apply(domain.ReferralStream(id), start.Add(time.Duration(i)*4*time.Minute+time.Hour), &domain.ReferralAcknowledged{})
		}
		id = fmt.Sprintf("F%06d", i)
		apply(domain.FeedbackStream(id), start.Add(time.Duration(i)*4*time.Minute), &domain.FeedbackReceived{ID: id, CommunityID: fmt.Sprintf("C%05d", c), Place: places[c], Type: "question"})
	}
	return m
}

// BenchmarkListPages times one page of 100 of each work list at national
// scale, national and for one district, and reports the model's live heap.
//
//	go test ./projections -run '^$' -bench ListPages -benchtime 20x
func BenchmarkListPages(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := nationalLists(b)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
	now := time.Date(2015, 7, 20, 12, 0, 0, 0, time.UTC)
	no := false
	for _, bc := range []struct {
		name string
		run  func(f projections.Filter) int
	}{
		{"communities/no-visit-7d", func(f projections.Filter) int {
			return len(m.Communities(projections.CommunityQuery{Filter: f, NoVisitSince: now.AddDate(0, 0, -7), Limit: 100}).Items)
		}},
		{"communities/search", func(f projections.Filter) int {
			return len(m.Communities(projections.CommunityQuery{Filter: f, Search: "village 11", Limit: 100}).Items)
		}},
		{"action-points/default", func(f projections.Filter) int {
			return len(m.ActionPoints(projections.ActionPointQuery{Filter: f, Limit: 100}).Items)
		}},
		{"referrals/raised-24h", func(f projections.Filter) int {
			return len(m.Referrals(projections.ReferralQuery{Filter: f, Status: domain.StatusRaised, RaisedBefore: now.Add(-24 * time.Hour), Limit: 100}).Items)
		}},
		{"feedback/open-7d", func(f projections.Filter) int {
			return len(m.Feedback(projections.FeedbackQuery{Filter: f, LoopClosed: &no, ReceivedBefore: now.AddDate(0, 0, -7), Limit: 100}).Items)
		}},
		{"concerns", func(f projections.Filter) int { return m.Concerns(f).Visits }},
	} {
		for _, sc := range []struct {
			name string
			f    projections.Filter
		}{{"national", projections.Filter{Now: now}}, {"district", projections.Filter{District: "District 3", Now: now}}} {
			b.Run(bc.name+"/"+sc.name, func(b *testing.B) {
				for b.Loop() {
					if bc.run(sc.f) == 0 {
						b.Fatal("nothing listed")
					}
				}
				b.ReportMetric(heap, "model-MB")
			})
		}
	}
}

// BenchmarkListsHeap reports the live heap the lists model holds once it
// has folded the CLEA-national history of BenchmarkAsOf (same cache), next
// to that of the four indicator models (BenchmarkModelsHeap).
//
//	go test ./projections -run '^$' -bench ListsHeap -benchtime 1x
func BenchmarkListsHeap(b *testing.B) {
	spec := cleaSpec(benchCommunities(b))
	store, _ := cachedHistory(b, spec)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		eng, err := projections.Open(context.Background(), projections.Config{Store: store, Path: filepath.Join(b.TempDir(), "p.db"),
			Models: []projections.Definition{{Name: projections.NameLists, New: func() projections.Model { return projections.NewLists() }}}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Rebuild(context.Background()); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "live-MB")
		eng.Close()
	}
}

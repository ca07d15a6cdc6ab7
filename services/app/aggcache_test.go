package app_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore"
)

// The write path keeps aggregates between commands and reads only what was
// appended to their streams since. These tests hold it to the store: what
// another replica (or process) appended in between is seen, at once, by the
// next command, and a repeated key is answered as the first time, over a
// store that finds events by id (the embedded one) and over one that cannot
// (as KurrentDB's adapter), where repeats are found in the kept records of
// the stream.
var locating = []struct {
	name string
	hide bool
}{
	{"store finds events by id", false},
	{"store cannot find events by id", true},
}

// noLocator is a store that does not say it can find events by id.
type noLocator struct{ eventstore.Store }

// onTwoReplicas runs test once for each entry of locating, on two replicas
// over one store, seeded.
func onTwoReplicas(t *testing.T, test func(t *testing.T, f *fixture, a, b *app.Application)) {
	for _, lc := range locating {
		t.Run(lc.name, func(t *testing.T) {
			f := newFixture(t)
			var s eventstore.Store = f.store
			if lc.hide {
				s = noLocator{f.store}
			}
			a, _ := f.replicaOver(t, s)
			b, _ := f.replicaOver(t, s)
			seed(t, a)
			test(t, f, a, b)
		})
	}
}

func TestKeptAggregatesSeeOtherWriters(t *testing.T) { onTwoReplicas(t, seeOtherWriters) }

func seeOtherWriters(t *testing.T, _ *fixture, a, b *app.Application) {
	ctx := context.Background()
	visit := func(x *app.Application, key string, rating int) app.Result {
		t.Helper()
		h := sha256.Sum256([]byte(fmt.Sprint(rating)))
		res, err := x.RecordVisit.Handle(ctx, app.RecordVisit{Meta: app.Meta{Actor: mobilizer, IdempotencyKey: key, RequestHash: h[:]},
			CommunityID: "C1", Kind: "follow_up", TrustRating: ptr(rating)})
		if err != nil {
			t.Fatalf("visit %s: %v", key, err)
		}
		return res
	}
	steps := []struct {
		name     string
		on       *app.Application
		key      string
		revision uint64
		replayed bool
	}{
		{"a writes", a, "k1", 3, false},
		{"b writes after a", b, "k2", 4, false},
		{"a writes after b", a, "k3", 5, false},
		{"a replays what b wrote", a, "k2", 4, true},
		{"b replays what a wrote", b, "k3", 5, true},
		{"b writes again", b, "k4", 6, false},
	}
	for _, s := range steps {
		res := visit(s.on, s.key, 3)
		if res.Revision != s.revision || res.Replayed != s.replayed {
			t.Errorf("%s: revision %d replayed %v, want %d %v", s.name, res.Revision, res.Replayed, s.revision, s.replayed)
		}
	}
	// The same key with another request is refused, whoever wrote it.
	h := sha256.Sum256([]byte("other"))
	_, err := a.RecordVisit.Handle(ctx, app.RecordVisit{Meta: app.Meta{Actor: mobilizer, IdempotencyKey: "k4", RequestHash: h[:]},
		CommunityID: "C1", Kind: "follow_up", TrustRating: ptr(1)})
	if domain.ErrorCode(err) != domain.CodeIdempotencyMismatch {
		t.Errorf("reused key: %v", err)
	}
	// A community created by one replica can take action points raised on
	// the other.
	must(t)(b.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: app.Meta{Actor: mobilizer}, ID: "AP2", CommunityID: "C1",
		Title: "Soap", Category: "hygiene", Kind: "continuous"}))
}

// TestKeptAggregatesConcurrentWriters drives many commands on one stream
// from two replicas at once, each sent twice: every command lands exactly
// once, at a revision of its own, and its repeat answers the same.
func TestKeptAggregatesConcurrentWriters(t *testing.T) { onTwoReplicas(t, concurrentWriters) }

func concurrentWriters(t *testing.T, f *fixture, a, b *app.Application) {
	ctx := context.Background()
	const n = 40
	visit := func(x *app.Application, i int) (app.Result, error) {
		h := sha256.Sum256([]byte(fmt.Sprint("visit", i)))
		return x.RecordVisit.Handle(ctx, app.RecordVisit{Meta: app.Meta{Actor: mobilizer, IdempotencyKey: fmt.Sprintf("c%d", i), RequestHash: h[:]},
			CommunityID: "C1", Kind: "follow_up", TrustRating: ptr(1 + i%5)})
	}
	// Action points raised in C1 meanwhile read the community (kept
	// between commands too) while the visits change it.
	raise := func(x *app.Application, i int) (app.Result, error) {
		return x.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: app.Meta{Actor: mobilizer, IdempotencyKey: fmt.Sprintf("r%d", i)},
			ID: fmt.Sprintf("AP-C%d", i), CommunityID: "C1", Title: "Soap", Category: "hygiene", Kind: "continuous"})
	}
	revs := make([]uint64, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		x, y := a, b
		if i%2 == 1 {
			x, y = b, a
		}
		wg.Go(func() {
			res, err := visit(x, i)
			if err != nil {
				t.Errorf("visit %d: %v", i, err)
				return
			}
			revs[i] = res.Revision
		})
		wg.Go(func() {
			if _, err := raise(y, i); err != nil {
				t.Errorf("raise %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i, r := range revs {
		if r < 3 || r > 2+2*n || seen[r] {
			t.Errorf("visit %d at revision %d", i, r)
		}
		seen[r] = true
	}
	// Each again, on the other replica: the first answers, nothing new.
	for i := range 2 * n {
		wg.Go(func() {
			x := b
			if i%2 == 1 {
				x = a
			}
			res, err := visit(x, i)
			if err != nil || !res.Replayed || res.Revision != revs[i] {
				t.Errorf("visit %d again: %+v, %v; want a replay at revision %d", i, res, err, revs[i])
			}
			if res, err := raise(x, i); err != nil || !res.Replayed || res.Revision != 1 {
				t.Errorf("raise %d again: %+v, %v; want a replay at revision 1", i, res, err)
			}
		})
	}
	wg.Wait()
	if head, _ := f.store.Head(ctx); head != 4+2*n+2*n {
		t.Errorf("head %d after the repeats, want %d (the seed's 4 events, %d visits, %d raises)", head, 4+2*n+2*n, 2*n, 2*n)
	}
}

// A key names one request: sent again for another record, even with the
// same request hash, it is refused rather than answered with the first
// record's result.
func TestKeyReusedOnAnotherRecordIsRefused(t *testing.T) {
	onTwoReplicas(t, func(t *testing.T, _ *fixture, a, _ *app.Application) {
		ctx := context.Background()
		h := sha256.Sum256([]byte("same request"))
		m := app.Meta{Actor: mobilizer, IdempotencyKey: "shared", RequestHash: h[:]}
		must(t)(a.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: app.Meta{Actor: mobilizer}, ID: "AP2", CommunityID: "C1",
			Title: "Soap", Category: "hygiene", Kind: "continuous"}))
		first, err := a.NoteProgress.Handle(ctx, app.NoteProgress{Meta: m, ID: "AP1", Note: "n"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.NoteProgress.Handle(ctx, app.NoteProgress{Meta: m, ID: "AP2", Note: "n"})
		if domain.ErrorCode(err) != domain.CodeIdempotencyMismatch {
			t.Errorf("the key of AP1's note (%+v) on AP2: %+v, %v; want %s", first, res, err, domain.CodeIdempotencyMismatch)
		}
	})
}

// The cache of kept aggregates is bounded per shard by count and, for
// stores that need stream records kept, by records; the least recently
// kept goes first, one used again with a long stream (protected) only
// after every other (probation), and the last one kept always stays.
func TestKeptAggregatesAreBounded(t *testing.T) {
	const aggregates = 32 * 4 // four a shard
	perShardRecs := app.MaxKeptRecords / 32
	for _, tc := range []struct {
		name     string
		short    bool  // streams of fewer than ProtectFrom events
		recs     []int // records of each stream kept, in order
		reused   []int // streams used again right after being kept
		wantKept []bool
	}{
		{"under the bound", false, []int{0, 0, 0, 0}, nil, []bool{true, true, true, true}},
		{"one over the count", false, []int{0, 0, 0, 0, 0}, nil, []bool{false, true, true, true, true}},
		{"records over the bound", false, []int{perShardRecs / 2, perShardRecs / 2, 1}, nil, []bool{false, true, true}},
		{"one stream over the records bound stays", false, []int{0, perShardRecs + 1}, nil, []bool{false, true}},
		{"used again, it outlives newer ones kept once", false, []int{0, 0, 0, 0, 0, 0}, []int{0}, []bool{true, false, false, true, true, true}},
		{"used again but short, it goes first", true, []int{0, 0, 0, 0, 0, 0}, []int{0}, []bool{false, false, true, true, true, true}},
		// Four a shard, three of them protected: the fourth used pushes the
		// first used onto probation, where it goes before those used since.
		{"protected beyond its share, the oldest used goes on probation", false, []int{0, 0, 0, 0, 0, 0}, []int{0, 1, 2, 3},
			[]bool{false, true, true, true, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := app.NewKeptCache(aggregates)
			// Names of one shard, so that they compete.
			var names []string
			for i := 0; len(names) < len(tc.recs); i++ {
				if n := fmt.Sprintf("community-%d", i); c.Shard(n) == 0 {
					names = append(names, n)
				}
			}
			for i, n := range names {
				rev := uint64(app.ProtectFrom)
				if tc.short {
					rev--
				}
				c.Keep(n, app.StandIn(rev), tc.recs[i])
				if slices.Contains(tc.reused, i) {
					c.Reuse(n)
				}
			}
			for i, n := range names {
				if got := c.Take(n); got != tc.wantKept[i] {
					t.Errorf("stream %d (%d records) kept: %v, want %v", i, tc.recs[i], got, tc.wantKept[i])
				}
			}
		})
	}
}

// BenchmarkKeptCommunities keeps b.N communities, each registered,
// triggered and visited 40 times (a CLEA year), and reports the heap each
// takes in the cache: what DefaultKeptAggregates costs.
func BenchmarkKeptCommunities(b *testing.B) {
	c := app.NewKeptCache(max(b.N, 1))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("KAI-LUA-%06d", i)
		com, _ := domain.LoadCommunity(nil)
		err := com.Register(domain.RegisterCommunity{ID: id, Name: "Village " + id, Population: 800,
			Place: domain.Place{District: "Kailahun", Chiefdom: "Luawa", Section: fmt.Sprintf("Section %d", i%50)}})
		if err == nil {
			err = com.Trigger(120)
		}
		for v := 0; v < 40 && err == nil; v++ {
			err = com.RecordVisit(domain.RecordVisit{Kind: "follow_up", TrustRating: 1 + v%5})
		}
		if err != nil {
			b.Fatal(err)
		}
		com.Stored()
		c.Keep(domain.CommunityStream(id), com, 0)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/community")
	runtime.KeepAlive(c)
}

package boltstore_test

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// TestStreamTableMatchesMap: the index's stream table (names and positions
// packed without a pointer per stream) answers every stream's revision,
// each revision's position and every window of positions exactly as a plain
// map of slices does, through thousands of appends spread over streams of
// every length, whether names hash apart or all to one value, and across
// the pages the table keeps its streams, positions and names in.
func TestStreamTableMatchesMap(t *testing.T) {
	// Names that are prefixes of each other, and the empty name, so that a
	// lookup that compares too little is caught.
	few := []string{"", "a", "ab", "abc", "community-KEN-1", "community-KEN-10", "community-KEN-1x"}
	for i := range 40 {
		few = append(few, "actionpoint-AP-"+strconv.Itoa(i))
	}
	// Enough streams, chunks and name bytes to fill several pages of each,
	// and a name longer than a page of names.
	many := slices.Clone(few)
	for i := range 9000 {
		many = append(many, "referral-KEN-NON-"+strconv.Itoa(i))
	}
	many = append(many, strings.Repeat("long-", 20_000))
	for _, tc := range []struct {
		name    string
		collide bool
		names   []string
		appends int
	}{
		{"names hash apart", false, few, 3000},
		{"every name one hash", true, few, 3000},
		{"many pages", false, many, 40_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := tc.names
			rng := rand.New(rand.NewPCG(3, 4))
			table := boltstore.NewStreamTable(tc.collide)
			want := map[string][]uint64{}
			check := func(when string) {
				t.Helper()
				if got := table.Streams(); got != len(want) {
					t.Fatalf("%s: %d streams, want %d", when, got, len(want))
				}
				for _, name := range names {
					ps := want[name]
					n := uint64(len(ps))
					if got := table.Revision(name); got != n {
						t.Fatalf("%s: %q at revision %d, want %d", when, name, got, n)
					}
					for rev := uint64(0); rev <= n+1; rev++ {
						got, ok := table.At(name, rev)
						if wantOK := rev >= 1 && rev <= n; ok != wantOK || (ok && got != ps[rev-1]) {
							t.Fatalf("%s: %q revision %d at %d (%v), want %v", when, name, rev, got, ok, wantOK)
						}
					}
					for range 8 {
						after, limit := uint64(rng.IntN(int(n)+3)), 1+rng.IntN(int(n)+3)
						var exp []uint64
						if after < n {
							exp = ps[after:min(n, after+uint64(limit))]
						}
						if got := table.Positions(name, after, limit); !slices.Equal(got, exp) {
							t.Fatalf("%s: %q after %d, limit %d: %v, want %v", when, name, after, limit, got, exp)
						}
					}
				}
			}
			check("empty")
			// The last name first: the long one, in the many-pages case.
			pos := uint64(1)
			table.Add(names[len(names)-1], pos)
			want[names[len(names)-1]] = []uint64{pos}
			for i := range tc.appends {
				// Skewed: a few streams grow long, most stay short.
				name := names[min(rng.IntN(len(names)), rng.IntN(len(names)))]
				pos += 1 + uint64(rng.IntN(3))
				table.Add(name, pos)
				want[name] = append(want[name], pos)
				if i%(tc.appends/12) == 0 {
					check("after " + strconv.Itoa(i+1) + " appends")
				}
			}
			check("at the end")
		})
	}
}

// BenchmarkStreamTableAdd indexes b.N events over b.N/6 streams (the shape
// of a national history: 16 million events, 2.8 million streams at ten times
// CLEA); B/op is what the table allocated in all, per event, growth
// included, and live-B/event what it holds at the end.
func BenchmarkStreamTableAdd(b *testing.B) {
	names := make([]string, max(b.N/6, 1))
	for i := range names {
		names[i] = "referral-KEN-NON-" + strconv.Itoa(i)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	table := boltstore.NewStreamTable(false)
	for i := range b.N {
		table.Add(names[i%len(names)], uint64(i+1))
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "live-B/event")
	runtime.KeepAlive(table)
}

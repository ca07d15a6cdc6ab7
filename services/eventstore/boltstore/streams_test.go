package boltstore_test

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// TestStreamTableMatchesMap: the index's stream table (names and positions
// packed without a pointer per stream) answers every stream's revision,
// each revision's position and every window of positions exactly as a plain
// map of slices does, through thousands of appends spread over streams of
// every length, whether names hash apart or all to one value.
func TestStreamTableMatchesMap(t *testing.T) {
	// Names that are prefixes of each other, and the empty name, so that a
	// lookup that compares too little is caught.
	names := []string{"", "a", "ab", "abc", "community-KEN-1", "community-KEN-10", "community-KEN-1x"}
	for i := range 40 {
		names = append(names, "actionpoint-AP-"+strconv.Itoa(i))
	}
	for _, tc := range []struct {
		name    string
		collide bool
	}{
		{"names hash apart", false},
		{"every name one hash", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			pos := uint64(0)
			for i := range 3000 {
				// Skewed: a few streams grow long, most stay short.
				name := names[min(rng.IntN(len(names)), rng.IntN(len(names)))]
				pos += 1 + uint64(rng.IntN(3))
				table.Add(name, pos)
				want[name] = append(want[name], pos)
				if i%250 == 0 {
					check("after " + strconv.Itoa(i+1) + " appends")
				}
			}
			check("at the end")
		})
	}
}

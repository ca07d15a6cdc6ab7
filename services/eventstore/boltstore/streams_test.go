package boltstore_test

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/eventstore"
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

// TestStreamCounts: the store counts its streams by category (the name up
// to its first '-'), not its events, the same after a reopen from the index
// image and from the index bucket, and refuses once closed.
func TestStreamCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path, boltstore.Options{})
	for _, stream := range []string{"community-C1", "community-C2", "community-C1", "actionpoint-AP-1",
		"feedback-F-1-2", "users", "users", "referral-R1"} {
		if _, err := s.Append(context.Background(), stream, eventstore.Any, ev("E.v1", stream)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"community": 2, "actionpoint": 1, "feedback": 1, "users": 1, "referral": 1}
	check := func(s *boltstore.Store, when string) {
		t.Helper()
		got, err := s.StreamCounts(context.Background())
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: counts %v (%v), want %v", when, got, err, want)
		}
	}
	check(s, "as written")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StreamCounts(context.Background()); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("closed store: err %v, want ErrClosed", err)
	}
	for _, from := range []string{"the image", "the index bucket"} {
		if from == "the index bucket" {
			if err := os.Remove(boltstore.ImagePath(path)); err != nil {
				t.Fatal(err)
			}
		}
		s := openStore(t, path, boltstore.Options{})
		if got := boltstore.FromImage(s); got != (from == "the image") {
			t.Fatalf("opened from the image: %v, want it from %s", got, from)
		}
		check(s, "reopened from "+from)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

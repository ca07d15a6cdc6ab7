package boltstore_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// twin returns an id other than id with the same fingerprint: the id index
// keys its sorted run by 64 bits of the id, and must tell such ids apart.
func twin(t *testing.T, id uuid.UUID, rng *rand.Rand) uuid.UUID {
	t.Helper()
	lo, hi := binary.LittleEndian.Uint64(id[:8]), binary.LittleEndian.Uint64(id[8:])
	hi2 := rng.Uint64()
	lo2 := lo ^ bits.RotateLeft64(hi, 32) ^ bits.RotateLeft64(hi2, 32)
	var out uuid.UUID
	binary.LittleEndian.PutUint64(out[:8], lo2)
	binary.LittleEndian.PutUint64(out[8:], hi2)
	if out == id || boltstore.Fingerprint(out) != boltstore.Fingerprint(id) {
		t.Fatalf("twin of %s: %s", id, out)
	}
	return out
}

// TestIDIndexSharedFingerprints: ids that share a fingerprint are stored,
// found, retried and refused each as itself, whether they sit in the map of
// recent ids, in the sorted run, or one in each, and after a reopen.
func TestIDIndexSharedFingerprints(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path, boltstore.Options{})
	ctx := t.Context()

	type stored struct {
		id     uuid.UUID
		stream string
		pos    uint64
	}
	var all []stored
	put := func(stream string, id uuid.UUID) {
		t.Helper()
		res, err := s.Append(ctx, stream, eventstore.Any, eventstore.EventData{ID: id, Type: "T", Data: []byte(stream)})
		if err != nil {
			t.Fatalf("append %s to %s: %v", id, stream, err)
		}
		if res.Duplicate {
			t.Fatalf("append %s to %s: answered as a duplicate of an event with the same fingerprint", id, stream)
		}
		all = append(all, stored{id, stream, res.FirstPosition})
	}
	check := func(when string) {
		t.Helper()
		for _, e := range all {
			got, ok, err := s.LocateEvent(ctx, e.id)
			if err != nil || !ok || got.Position != e.pos || got.Stream != e.stream {
				t.Errorf("%s: locate %s: at %d in %q, found %v, %v; want %d in %q", when, e.id, got.Position, got.Stream, ok, err, e.pos, e.stream)
			}
			res, err := s.Append(ctx, e.stream, eventstore.Any, eventstore.EventData{ID: e.id, Type: "T", Data: []byte(e.stream)})
			if err != nil || !res.Duplicate || res.FirstPosition != e.pos {
				t.Errorf("%s: retry of %s: %+v, %v; want a duplicate at %d", when, e.id, res, err, e.pos)
			}
			if _, err := s.Append(ctx, "other", eventstore.Any, eventstore.EventData{ID: e.id, Type: "T"}); !errors.Is(err, eventstore.ErrDuplicateEventID) {
				t.Errorf("%s: %s in another stream: %v, want ErrDuplicateEventID", when, e.id, err)
			}
		}
		// A third id with the same fingerprint is stored nowhere.
		if _, ok, err := s.LocateEvent(ctx, twin(t, all[0].id, rng)); ok || err != nil {
			t.Errorf("%s: an unstored id sharing a fingerprint was found (%v, %v)", when, ok, err)
		}
	}

	a := uuid.New()
	put("s-a", a)
	put("s-b", twin(t, a, rng)) // both recent
	check("both recent")

	boltstore.MergeIDs(s)
	check("both in the run")

	c := uuid.New()
	put("s-c", c)
	boltstore.MergeIDs(s)
	put("s-d", twin(t, c, rng)) // one in the run, one recent
	put("s-e", twin(t, a, rng)) // a third twin, recent
	check("run and recent")

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, boltstore.Options{})
	check("after reopen")
}

// TestIDIndexMatchesMap: ids appended in random batches, merged at random
// points and reopened, are found exactly where a plain map says they are,
// and unstored ids are not found.
func TestIDIndexMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path, boltstore.Options{})
	ctx := t.Context()
	want := map[uuid.UUID]uint64{}
	for round := range 40 {
		evs := make([]eventstore.EventData, 1+rng.IntN(50))
		for i := range evs {
			evs[i] = eventstore.EventData{ID: uuid.New(), Type: "T"}
		}
		res, err := s.Append(ctx, "s-"+string(rune('a'+round%7)), eventstore.Any, evs...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			want[evs[i].ID] = res.FirstPosition + uint64(i)
		}
		switch rng.IntN(5) {
		case 0:
			boltstore.MergeIDs(s)
		case 1:
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, path, boltstore.Options{})
		}
	}
	for id, pos := range want {
		got, ok, err := s.LocateEvent(ctx, id)
		if err != nil || !ok || got.Position != pos {
			t.Fatalf("locate %s: %d, %v, %v; want %d", id, got.Position, ok, err, pos)
		}
	}
	for range 100 {
		if _, ok, err := s.LocateEvent(ctx, uuid.New()); ok || err != nil {
			t.Fatalf("an unstored id was found (%v, %v)", ok, err)
		}
	}
}

// BenchmarkIDLookup: looking up an id that is not stored (what every new
// event costs the store's single writer) among a national history's ids,
// in the id index and, for comparison, in the map it replaced.
//
//	go test ./services/eventstore/boltstore -run '^$' -bench IDLookup
func BenchmarkIDLookup(b *testing.B) {
	const n = 1_600_000
	ids := make([][16]byte, n)
	m := make(map[[16]byte]uint64, n)
	for i := range ids {
		ids[i] = uuid.New()
		m[ids[i]] = uint64(i + 1)
	}
	misses := make([][16]byte, 1<<16)
	for i := range misses {
		misses[i] = uuid.New()
	}
	b.Run("index", func(b *testing.B) {
		lookup := boltstore.IDLookup(ids)
		i := 0
		for b.Loop() {
			if _, ok := lookup(misses[i&(len(misses)-1)]); ok {
				b.Fatal("found an unstored id")
			}
			i++
		}
	})
	b.Run("map", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, ok := m[misses[i&(len(misses)-1)]]; ok {
				b.Fatal("found an unstored id")
			}
			i++
		}
	})
}

// BenchmarkIDIndexOpen: indexing the ids of a national history as an open
// does (each appended in log order, then sorted and checked once).
//
//	go test ./services/eventstore/boltstore -run '^$' -bench IDIndexOpen
func BenchmarkIDIndexOpen(b *testing.B) {
	ids := make([][16]byte, 1_600_000)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for b.Loop() {
		boltstore.IDLookup(ids)
	}
}

// TestIDIndexTable: however the index was built — loaded at open and
// sealed, added by the writer and merged in batches, both, across many
// pages of its run and directories of several sizes, with ids that share a
// fingerprint in the run and among the recent ones — every stored id is
// found at its position and no unstored one is found.
func TestIDIndexTable(t *testing.T) {
	type build struct {
		load, add  int  // ids loaded at open, then added by the writer
		mergeEvery int  // explicit merge after this many adds (0: only as the writer merges)
		twins      bool // every tenth id is a twin of an earlier one
	}
	cases := []struct {
		name string
		b    build
	}{
		{"loaded at open, one page", build{load: 1_000}},
		{"loaded at open, many pages", build{load: 20_000}},
		{"added and merged in batches", build{add: 30_000, mergeEvery: 1_777}},
		{"added past the writer's own merge", build{add: 70_000}},
		{"loaded, then added and merged", build{load: 10_000, add: 12_000, mergeEvery: 5_000}},
		{"twins loaded, added, merged and recent", build{load: 9_000, add: 9_000, mergeEvery: 4_000, twins: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(c.b.load+c.b.add)))
			x := boltstore.NewIDIndex()
			var ids []uuid.UUID
			next := func() uuid.UUID {
				if c.b.twins && len(ids) > 0 && len(ids)%10 == 0 {
					return twin(t, ids[rng.IntN(len(ids))], rng)
				}
				return uuid.New()
			}
			for range c.b.load {
				ids = append(ids, next())
				x.Load(uint64(len(ids)), ids[len(ids)-1])
			}
			if err := x.Seal(); err != nil {
				t.Fatalf("seal: %v", err)
			}
			for i := range c.b.add {
				ids = append(ids, next())
				x.Add(uint64(len(ids)), ids[len(ids)-1])
				if c.b.mergeEvery > 0 && (i+1)%c.b.mergeEvery == 0 {
					x.Merge()
				}
			}
			if x.Len() != len(ids) {
				t.Fatalf("Len = %d, want %d", x.Len(), len(ids))
			}
			for i, id := range ids {
				pos, ok, err := x.Lookup(id)
				if err != nil || !ok || pos != uint64(i+1) {
					t.Fatalf("lookup of id %d: %d, %v, %v; want %d", i+1, pos, ok, err, i+1)
				}
				if !x.MayHold(id) {
					t.Fatalf("MayHold(id %d) = false for a stored id", i+1)
				}
			}
			for range 500 {
				for _, id := range []uuid.UUID{uuid.New(), twin(t, ids[rng.IntN(len(ids))], rng)} {
					if pos, ok, err := x.Lookup(id); ok || err != nil {
						t.Fatalf("an unstored id was found at %d (%v, %v)", pos, ok, err)
					}
				}
			}
		})
	}
}

// TestIDIndexSealRefusesRepeatedID: an id the index bucket names twice
// (damage) is refused at open, naming the later position, whether the two
// are neighbours in the log or far apart.
func TestIDIndexSealRefusesRepeatedID(t *testing.T) {
	for _, c := range []struct {
		name       string
		n, at, dup int // dup repeats the id at position at
	}{
		{"neighbours", 100, 50, 51},
		{"pages apart", 10_000, 3, 9_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := boltstore.NewIDIndex()
			ids := make([]uuid.UUID, c.n+1)
			for pos := 1; pos <= c.n; pos++ {
				ids[pos] = uuid.New()
				if pos == c.dup {
					ids[pos] = ids[c.at]
				}
				x.Load(uint64(pos), ids[pos])
			}
			err := x.Seal()
			if want := fmt.Sprintf("at position %d was already at an earlier one", c.dup); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("seal: %v, want an error saying %q", err, want)
			}
		})
	}
}

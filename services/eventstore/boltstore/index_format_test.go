package boltstore_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// fixtureID is the id of the n-th event (from 1) in testdata/format1.db.gz.
func fixtureID(n uint64) uuid.UUID {
	var u uuid.UUID
	u[0] = 0xf1
	binary.BigEndian.PutUint64(u[8:], n)
	return u
}

// format1Store copies testdata/format1.db.gz into a temporary file. It was
// written by the boltstore of commit 642363e (format version 1, one index
// entry per event), with the clock at 2026-12-06 18:00:01 UTC plus a second
// per commit and event ids fixtureID(1..10), in two rounds of: one event to
// s-0, three to s-1 in one append, one to s-2.
func format1Store(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "format1.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "events.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// indexLayout reads a closed store's format version, its index keys' lengths
// and whether the index bucket loads on its own (no rebuild from records).
func indexLayout(t *testing.T, path string) (version uint64, keyLens []int, indexed int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		version, _ = binary.Uvarint(tx.Bucket(boltstore.BucketMeta).Get(boltstore.KeyVersion))
		if err := tx.Bucket(boltstore.BucketIndex).ForEach(func(k, _ []byte) error {
			keyLens = append(keyLens, len(k))
			return nil
		}); err != nil {
			return err
		}
		var err error
		if indexed, err = boltstore.LoadIndexBucket(tx); err != nil {
			return fmt.Errorf("index bucket does not load: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return version, keyLens, indexed
}

// TestFormat1StoreOpensAndUpgrades checks that a store written before group
// index entries (format 1) opens with its index as it is, serves retries and
// reads, verifies, and takes new appends, after which its index holds both
// kinds of entries and the file says format 2, so that an older build refuses
// it instead of reporting the group entries as damage.
func TestFormat1StoreOpensAndUpgrades(t *testing.T) {
	path := format1Store(t)
	version, keyLens, indexed := indexLayout(t, path)
	if version != 1 || len(keyLens) != 10 || keyLens[0] != 8 || indexed != 10 {
		t.Fatalf("fixture: version %d, index keys %v, %d indexed; want a format-1 store of 10 events", version, keyLens, indexed)
	}

	s := openStore(t, path, boltstore.Options{})
	checkStreams := func(t *testing.T, want map[string][]uuid.UUID) {
		t.Helper()
		for stream, ids := range want {
			evs, err := s.ReadStream(t.Context(), stream, 0, 100)
			if err != nil {
				t.Fatalf("read %s: %v", stream, err)
			}
			var got []uuid.UUID
			for _, e := range evs {
				got = append(got, e.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(ids) {
				t.Errorf("stream %s holds %v, want %v", stream, got, ids)
			}
		}
	}
	checkVerify := func(t *testing.T, count uint64) {
		t.Helper()
		res, err := s.Verify(t.Context())
		if err != nil || !res.Intact() || res.Count != count {
			t.Fatalf("verify: %+v, %v; want %d intact events", res, err, count)
		}
	}
	checkRetry := func(t *testing.T, stream string, expected uint64, id uuid.UUID, position uint64) {
		t.Helper()
		res, err := s.Append(t.Context(), stream, eventstore.Exact(expected), eventstore.EventData{ID: id, Type: "Again"})
		if err != nil || !res.Duplicate || res.FirstPosition != position {
			t.Fatalf("retry of event %s: %+v, %v; want a duplicate at position %d", id, res, err, position)
		}
	}
	old := map[string][]uuid.UUID{
		"s-0": {fixtureID(1), fixtureID(6)},
		"s-1": {fixtureID(2), fixtureID(3), fixtureID(4), fixtureID(7), fixtureID(8), fixtureID(9)},
		"s-2": {fixtureID(5), fixtureID(10)},
	}
	checkStreams(t, old)
	checkVerify(t, 10)
	checkRetry(t, "s-1", 3, fixtureID(7), 7)

	added := []eventstore.EventData{ev("Four", "{}"), ev("Five", "{}"), ev("Six", "{}")}
	if _, err := s.Append(t.Context(), "s-1", eventstore.Exact(6), added...); err != nil {
		t.Fatalf("append to a format-1 store: %v", err)
	}
	if _, err := s.Append(t.Context(), "s-3", eventstore.Exact(0), ev("One", "{}")); err != nil {
		t.Fatalf("append to a format-1 store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	version, keyLens, indexed = indexLayout(t, path)
	if version != 2 || len(keyLens) != 11 || keyLens[9] != 8 || keyLens[10] != 16 || indexed != 14 {
		t.Fatalf("after appends: version %d, index keys %v, %d indexed; want format 2, ten per-event entries then the group entry written at close", version, keyLens, indexed)
	}

	s = openStore(t, path, boltstore.Options{})
	old["s-1"] = append(old["s-1"], added[0].ID, added[1].ID, added[2].ID)
	checkStreams(t, old)
	checkVerify(t, 14)
	checkRetry(t, "s-0", 0, fixtureID(1), 1)
	checkRetry(t, "s-1", 7, added[1].ID, 12)
}

// TestGroupIndexEntryDamage checks Verify and the rebuild at open against
// damage inside an index entry that holds a run of events, in the middle of
// the index.
func TestGroupIndexEntryDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b *bolt.Bucket, k, v []byte) error
		// brokenAt is where Verify must report the break, given the
		// positions first..last the damaged entry holds.
		brokenAt func(first, last uint64) uint64
		// rebuilt: open sees the damage and rebuilds the lookups from the
		// records. A well-formed but wrong entry is only caught by Verify.
		rebuilt bool
	}{
		{
			name:     "entry missing",
			damage:   func(b *bolt.Bucket, k, _ []byte) error { return b.Delete(k) },
			brokenAt: func(first, _ uint64) uint64 { return first },
			rebuilt:  true,
		},
		{
			name: "stream of the second grouped event changed",
			damage: func(b *bolt.Bucket, k, v []byte) error {
				v = bytes.Clone(v)
				i := bytes.Index(v, []byte("grouped"))
				i = bytes.Index(v[i+1:], []byte("grouped")) + i + 1
				v[i] = 'G'
				return b.Put(k, v)
			},
			brokenAt: func(uint64, uint64) uint64 { return groupedFirst + 1 },
		},
		{
			// The id index keys its sorted run by 64 bits of each id and
			// checks shared ones against the records at open: an entry
			// repeating another event's id must not leave the event that
			// is really stored there out of the lookups.
			name: "id of the second grouped event repeats the first's",
			damage: func(b *bolt.Bucket, k, v []byte) error {
				v = bytes.Clone(v)
				at := map[uint64]int{} // where each position's id starts in v
				rest := 0
				for pos := binary.BigEndian.Uint64(k[:8]); rest < len(v); pos++ {
					at[pos] = rest
					n, w := binary.Uvarint(v[rest+16:])
					rest += 16 + w + int(n)
				}
				copy(v[at[groupedFirst+1]:at[groupedFirst+1]+16], v[at[groupedFirst]:at[groupedFirst]+16])
				return b.Put(k, v)
			},
			brokenAt: func(uint64, uint64) uint64 { return groupedFirst + 1 },
			rebuilt:  true,
		},
		{
			name: "entry cut short",
			damage: func(b *bolt.Bucket, k, v []byte) error {
				return b.Put(k, bytes.Clone(v[:len(v)-3]))
			},
			brokenAt: func(_, last uint64) uint64 { return last },
			rebuilt:  true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.db")
			s := openStore(t, path, boltstore.Options{})
			appendN(t, s, "a", groupedFirst-1)
			if _, err := s.Append(t.Context(), "grouped", eventstore.Exact(0), ev("T", "1"), ev("T", "2"), ev("T", "3")); err != nil {
				t.Fatal(err)
			}
			appendN(t, s, "b", 60)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var first, last uint64
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				b := tx.Bucket(boltstore.BucketIndex)
				k := boltstore.IndexEntryKey(tx, groupedFirst+1)
				if !bytes.Equal(k, boltstore.IndexEntryKey(tx, groupedFirst)) || !bytes.Equal(k, boltstore.IndexEntryKey(tx, groupedFirst+2)) || len(k) != 16 {
					return fmt.Errorf("the grouped events are not in one group entry (key %x)", k)
				}
				first, last = binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(k[8:])
				if next, _ := b.Cursor().Last(); bytes.Equal(next, k) {
					return fmt.Errorf("the grouped events are in the last index entry, want one in the middle")
				}
				return tc.damage(b, k, b.Get(k))
			})

			s = openStore(t, path, boltstore.Options{})
			if tc.rebuilt {
				evs, err := s.ReadStream(t.Context(), "grouped", 0, 10)
				if err != nil || len(evs) != 3 {
					t.Fatalf("stream after index damage: %d events, %v; want 3", len(evs), err)
				}
				for _, ev := range evs {
					if got, ok, err := s.LocateEvent(t.Context(), ev.ID); err != nil || !ok || got.Position != ev.Position {
						t.Fatalf("locate %s after index damage: at %d, %v, %v; want %d", ev.ID, got.Position, ok, err, ev.Position)
					}
				}
				if _, err := s.Append(t.Context(), "grouped", eventstore.Exact(3), ev("T", "4")); err != nil {
					t.Fatalf("append after rebuilding the index: %v", err)
				}
			}
			res, err := s.Verify(t.Context())
			if want := tc.brokenAt(first, last); err != nil || res.BrokenAt != want {
				t.Fatalf("verify: %+v, %v; want broken at %d (the entry holds %d-%d)", res, err, want, first, last)
			}
		})
	}
}

// groupedFirst is where TestGroupIndexEntryDamage's three-event append lands.
const groupedFirst = 41

package boltstore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// history remembers what a test appended, to check a reopened store by.
type history struct {
	ids map[string][]uuid.UUID // per stream, in revision order
	pos map[uuid.UUID]uint64
}

func newHistory() *history {
	return &history{ids: map[string][]uuid.UUID{}, pos: map[uuid.UUID]uint64{}}
}

// appendSome appends about n events over streams named prefix-0 …
// prefix-(k-1), mostly four at a time and every fifth append one, so that
// streams span several chunks of the stream table, not always from a
// chunk's start.
func (h *history) appendSome(t *testing.T, s *boltstore.Store, prefix string, n, k int) {
	t.Helper()
	for i, a := 0, 0; i < n; a++ {
		stream := fmt.Sprintf("%s-%d", prefix, a%k)
		evs := []eventstore.EventData{ev("T", "w")}
		if a%5 != 0 {
			evs = append(evs, ev("T", "x"), ev("T", "y"), ev("T", "z"))
		}
		res, err := s.Append(t.Context(), stream, eventstore.Exact(uint64(len(h.ids[stream]))), evs...)
		if err != nil {
			t.Fatalf("append %d to %s: %v", i, stream, err)
		}
		for j, e := range evs {
			h.ids[stream] = append(h.ids[stream], e.ID)
			h.pos[e.ID] = res.FirstPosition + uint64(j)
		}
		i += len(evs)
	}
}

// check reads every stream back, retries a few stored events (each must be
// found where it is, writing nothing), appends to a stream at a stale
// revision (refused) and at its own, and verifies the store: the index
// answers as the log says.
func (h *history) check(t *testing.T, s *boltstore.Store) {
	t.Helper()
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for stream, ids := range h.ids {
		got, err := s.ReadStream(t.Context(), stream, 0, len(ids)+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) {
			t.Fatalf("%s: %d events, want %d", stream, len(got), len(ids))
		}
		for i, e := range got {
			if e.ID != ids[i] || e.Revision != uint64(i+1) || e.Position != h.pos[e.ID] {
				t.Fatalf("%s revision %d: %s at %d, want %s at %d", stream, i+1, e.ID, e.Position, ids[i], h.pos[ids[i]])
			}
		}
		if n++; n%50 == 0 {
			last := got[len(got)-1]
			res, err := s.Append(t.Context(), stream, eventstore.Exact(last.Revision-1), last.EventData)
			if err != nil || !res.Duplicate || res.FirstPosition != last.Position {
				t.Fatalf("%s: retrying its last event gave %+v, %v; want the event where it is", stream, res, err)
			}
		}
	}
	if again, _ := s.Head(t.Context()); again != head {
		t.Fatalf("retries moved the head from %d to %d", head, again)
	}
	for stream, ids := range h.ids {
		if _, err := s.Append(t.Context(), stream, eventstore.Exact(uint64(len(ids)-1)), ev("T", "late")); err == nil {
			t.Fatalf("%s: an append at a stale revision was taken", stream)
		}
		e := ev("T", "next")
		res, err := s.Append(t.Context(), stream, eventstore.Exact(uint64(len(ids))), e)
		if err != nil || res.FirstRevision != uint64(len(ids)+1) {
			t.Fatalf("%s: next append gave %+v, %v", stream, res, err)
		}
		h.ids[stream], h.pos[e.ID] = append(ids, e.ID), res.FirstPosition
		break
	}
	// The index bucket and the chain still agree with the records (the
	// open hands the writer the entries the bucket lacks).
	if res, err := s.Verify(t.Context()); err != nil || !res.Intact() {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// anotherStoresImage puts beside a store the image of another store of n
// events over k streams: the image of a store as long as the test's (n
// 20,000) ends at the head, one of a shorter store inside the log. use is
// whether the open is to take it.
func anotherStoresImage(n, k int, use bool) func(*testing.T, string, *history) bool {
	return func(t *testing.T, path string, _ *history) bool {
		other := filepath.Join(t.TempDir(), "other.db")
		s := openStore(t, other, boltstore.Options{})
		newHistory().appendSome(t, s, "s", n, k)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		copyFile(t, other+boltstore.ImageSuffix, path+boltstore.ImageSuffix)
		return use
	}
}

// editedImage rewrites the image beside a store with edit.
func editedImage(edit func([]byte) []byte) func(*testing.T, string, *history) bool {
	return func(t *testing.T, path string, _ *history) bool {
		b, err := os.ReadFile(path + boltstore.ImageSuffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+boltstore.ImageSuffix, edit(b), 0o600); err != nil {
			t.Fatal(err)
		}
		return false
	}
}

// A closed store leaves an image of its index, and the next open reads it
// instead of the index bucket when it matches the file, with the events
// appended after it indexed from the file. An image that does not match is
// ignored: the index is rebuilt from the file as without one.
func TestIndexImage(t *testing.T) {
	cases := []struct {
		name string
		// prepare runs on a closed store with history h (closed with its
		// image written) and returns whether the next open is to use the
		// image.
		prepare func(t *testing.T, path string, h *history) bool
	}{
		{"as the store left it", func(*testing.T, string, *history) bool { return true }},
		{"older than the log", func(t *testing.T, path string, h *history) bool {
			copyFile(t, path+boltstore.ImageSuffix, path+".old")
			s := openStore(t, path, boltstore.Options{})
			h.appendSome(t, s, "later", 3000, 500)
			h.appendSome(t, s, "s", 400, 100)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			copyFile(t, path+".old", path+boltstore.ImageSuffix)
			return true
		}},
		{"older than a store that stopped without closing", func(t *testing.T, path string, h *history) bool {
			copyFile(t, path+boltstore.ImageSuffix, path+".old")
			s := openStore(t, path, boltstore.Options{})
			h.appendSome(t, s, "later", 300, 50)
			h.appendSome(t, s, "s", 100, 25)
			// The file as a crash would leave it: every append committed,
			// the index bucket behind the log (the writer flushes it
			// every so often and at close).
			copyFile(t, path, path+".crashed")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			copyFile(t, path+".crashed", path)
			copyFile(t, path+".old", path+boltstore.ImageSuffix)
			return true
		}},
		{"missing", func(t *testing.T, path string, _ *history) bool {
			if err := os.Remove(path + boltstore.ImageSuffix); err != nil {
				t.Fatal(err)
			}
			return false
		}},
		{"ahead of the log (a file restored from a backup)", func(t *testing.T, path string, h *history) bool {
			copyFile(t, path, path+".backup")
			s := openStore(t, path, boltstore.Options{})
			newHistory().appendSome(t, s, "lost", 100, 10)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			copyFile(t, path+".backup", path)
			return false
		}},
		// An empty log starts every log: the open takes it and indexes
		// the whole index bucket after it.
		{"of an empty store", anotherStoresImage(0, 1, true)},
		{"of another store", anotherStoresImage(20000, 5000, false)},
		{"of another store, shorter than this one", anotherStoresImage(8000, 2000, false)},
		{"cut short", editedImage(func(b []byte) []byte { return b[:len(b)/2] })},
		{"a byte changed", editedImage(func(b []byte) []byte { b[len(b)/3] ^= 1; return b })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "events.db")
			h := newHistory()
			s := openStore(t, path, boltstore.Options{})
			// Over 4,096 ids, streams and chunks: more than a page of
			// each of the index's arrays.
			h.appendSome(t, s, "s", 20000, 5000)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path + boltstore.ImageSuffix); err != nil {
				t.Fatalf("no index image after Close: %v", err)
			}
			want := tc.prepare(t, path, h)
			s = openStore(t, path, boltstore.Options{})
			if got := boltstore.FromImage(s); got != want {
				t.Errorf("index read from the image: %v, want %v", got, want)
			}
			h.check(t, s)
			// Closed and opened again, from the image it leaves now.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, path, boltstore.Options{})
			if !boltstore.FromImage(s) {
				t.Error("the image the last Close wrote was not used")
			}
			h.check(t, s)
		})
	}
}

package boltstore

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
)

// Test-only access to the layout, so that tests can damage a closed file
// with bbolt directly and the production API stays free of test hooks.
var (
	BucketEvents = bucketEvents
	BucketIndex  = bucketIndex
	BucketMeta   = bucketMeta
	KeyVersion   = keyVersion
)

// ImageSuffix names the index image beside a store's file.
const ImageSuffix = imageSuffix

// FromImage reports whether s read its index from the image at open.
func FromImage(s *Store) bool { return s.fromImage }

// PosKey is the events-bucket key of pos.
func PosKey(pos uint64) []byte { return posKey(nil, pos) }

// QueueLen reports how many appends wait for the writer.
func QueueLen(s *Store) int { return len(s.reqs) }

// RecordSize is the stored size of ev, for benchmark baselines that write
// values of the same size: recorded now, at an instant whose nanoseconds take
// nine digits (as three in four do: a 5-byte varint) and at a revision of two
// varint bytes, like most of a benchmark's (64 writers' streams pass revision
// 127 within the first 8,192 events). A zero RecordedAt and revision 1
// understated it by 4 to 5 bytes, enough for the baseline to fit seven values
// in a 4 KB page where the store fits six of its records: 15% fewer pages to
// write per commit.
func RecordSize(stream string, ev eventstore.EventData) int {
	recordedAt := time.Unix(time.Now().Unix(), 999_999_999)
	rec := eventstore.RecordedEvent{EventData: ev, Stream: stream, Revision: 1000, Position: 1, RecordedAt: recordedAt}
	return len(appendRecord(nil, &rec))
}

// IndexEntryKey returns the key of the index-bucket entry that holds pos, so
// that tests can damage it whichever kind of entry it is.
func IndexEntryKey(tx *bolt.Tx, pos uint64) []byte {
	x := indexCursor{c: tx.Bucket(bucketIndex).Cursor()}
	k, _ := x.seek(pos)
	return append([]byte(nil), k...)
}

// LoadIndexBucket rebuilds the lookups from the index bucket alone, without
// the fallback to the records that Open takes when it fails, and returns how
// many events it indexed.
func LoadIndexBucket(tx *bolt.Tx) (int, error) {
	head, err := decodeHead(tx.Bucket(bucketMeta).Get(keyHead))
	if err != nil {
		return 0, err
	}
	x, err := loadFromIndexBucket(tx, head, func() {})
	if err != nil {
		return 0, err
	}
	return x.ids.len(), nil
}

// DecodeRecord and DecodeShared are the two decoders of a stored record:
// each copied field apart, and one copy shared by all fields.
func DecodeRecord(pos uint64, b []byte) (eventstore.RecordedEvent, error) {
	return decodeRecord(pos, b)
}
func DecodeShared(pos uint64, b []byte) (eventstore.RecordedEvent, error) {
	return decodeShared(pos, b)
}

// MergeIDs merges the ids added since open (or the last merge) into the id
// index's sorted run, as the writer does once enough have come: tests reach
// both halves of the index without appending tens of thousands of events.
func MergeIDs(s *Store) {
	s.index.mu.Lock()
	defer s.index.mu.Unlock()
	s.index.ids.merge()
}

// Fingerprint is the id index's 64-bit key of an id.
func Fingerprint(id [16]byte) uint64 { return fingerprint(id) }

// RecentWindow is the window of events subscriptions share (recentReads),
// for tests of its bookkeeping.
type RecentWindow struct{ c recentReads }

// RecentMax is the window's bound.
const RecentMax = recentMax

func (w *RecentWindow) Put(evs []eventstore.RecordedEvent) { w.c.put(evs) }
func (w *RecentWindow) Get(after uint64, limit int) ([]eventstore.RecordedEvent, bool) {
	return w.c.get(after, limit, nil)
}

// IDLookup builds the id index over ids (at positions 1..n, sealed as at
// open) and returns its lookup, for benchmarks: nothing shares a
// fingerprint there, so no stored id is read.
func IDLookup(ids [][16]byte) func(id [16]byte) (uint64, bool) {
	x := newIDIndex()
	for i, id := range ids {
		x.load(uint64(i+1), id)
	}
	byPos := func(pos uint64) ([16]byte, error) { return ids[pos-1], nil }
	if err := x.seal(byPos); err != nil {
		panic(err)
	}
	return func(id [16]byte) (uint64, bool) {
		pos, ok, _ := x.lookup(id, byPos)
		return pos, ok
	}
}

// StreamTable is the index's stream table, for its table test; collide
// gives every name the same hash, so that every lookup walks the chain.
type StreamTable struct{ t *streamTable }

func NewStreamTable(collide bool) *StreamTable {
	t := newStreamTable()
	if collide {
		t.hash = func([]byte) uint64 { return 7 }
	}
	return &StreamTable{t}
}

func (s *StreamTable) Add(name string, pos uint64)               { s.t.add(bytesOf(name), pos) }
func (s *StreamTable) Revision(name string) uint64               { return s.t.revision(name) }
func (s *StreamTable) Streams() int                              { return s.t.slots.len() }
func (s *StreamTable) At(name string, rev uint64) (uint64, bool) { return s.t.at(name, rev) }
func (s *StreamTable) Positions(name string, after uint64, limit int) []uint64 {
	return s.t.positions(nil, name, after, limit)
}

// IDIndex is the store's event-id index on its own, for its table test:
// the ids it must tell apart are read back from Stored, by position.
type IDIndex struct {
	x      idIndex
	Stored map[uint64][16]byte
}

func NewIDIndex() *IDIndex { return &IDIndex{x: newIDIndex(), Stored: map[uint64][16]byte{}} }

func (t *IDIndex) idAt(pos uint64) ([16]byte, error) {
	id, ok := t.Stored[pos]
	if !ok {
		return id, fmt.Errorf("nothing stored at %d", pos)
	}
	return id, nil
}

// Load adds an entry as open reads it; Seal sorts and checks them.
func (t *IDIndex) Load(pos uint64, id [16]byte) { t.Stored[pos] = id; t.x.load(pos, id) }
func (t *IDIndex) Seal() error                  { return t.x.seal(t.idAt) }

// Add records a committed event as the writer does (merging when due);
// Merge merges the recent ids now.
func (t *IDIndex) Add(pos uint64, id [16]byte) { t.Stored[pos] = id; t.x.add(pos, id) }
func (t *IDIndex) Merge()                      { t.x.merge() }
func (t *IDIndex) Len() int                    { return t.x.len() }
func (t *IDIndex) MayHold(id [16]byte) bool    { return t.x.mayHold(id) }
func (t *IDIndex) Lookup(id [16]byte) (uint64, bool, error) {
	return t.x.lookup(id, t.idAt)
}

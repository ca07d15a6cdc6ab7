package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/domain/wire"
	"github.com/actionledger/actionledger/services/eventstore"
)

// formatVersion is stored in the meta bucket. Bump it on any change of the
// bucket layout or the record encoding: an old binary must refuse a newer
// file rather than misread it, and vice versa.
//
// Version 2 writes one index-bucket entry per run of events instead of one
// per event, late (see indexFlushBytes and keyIndexed); records are
// unchanged. This build reads versions 1 and 2, and a version-1 file becomes
// version 2 in its first commit from this build (see txWriter.markFormat), so
// an older build refuses it from then on instead of taking the group entries
// for a damaged index.
const (
	formatVersion       = 2
	oldestFormatVersion = 1
)

var (
	bucketEvents = []byte("events")
	bucketIndex  = []byte("index")
	bucketMeta   = []byte("meta")

	keyVersion = []byte("version")
	// keyHead holds position(8) | hash(32) | recorded_at unix nanos(8), so a
	// commit needs no scan to continue the log, the chain and the clock.
	keyHead = []byte("head")
	// keyIndexed holds the position (8 bytes BE) the index bucket covers the
	// log up to: the writer writes index entries late (see indexFlushBytes),
	// and a bucket that ends anywhere else is damaged. A file without it
	// (format 1, or a new one before its first commit) is indexed up to its
	// head.
	keyIndexed = []byte("indexed")
)

const headValueLen = 8 + 32 + 8

// headState is the tail of the global log as the writer continues it.
type headState struct {
	pos        uint64
	hash       [32]byte
	recordedAt int64 // unix nanos of the last event; RecordedAt never goes below it
}

func (h headState) encode(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, h.pos)
	dst = append(dst, h.hash[:]...)
	return binary.BigEndian.AppendUint64(dst, uint64(h.recordedAt))
}

func decodeHead(b []byte) (headState, error) {
	var h headState
	if b == nil {
		return h, nil
	}
	if len(b) != headValueLen {
		return h, fmt.Errorf("boltstore: meta head has %d bytes, want %d", len(b), headValueLen)
	}
	h.pos = binary.BigEndian.Uint64(b[:8])
	copy(h.hash[:], b[8:40])
	h.recordedAt = int64(binary.BigEndian.Uint64(b[40:]))
	return h, nil
}

// posKey is the events-bucket key of a position: big-endian so that byte
// order is log order and appends always land at the right edge of the B+tree.
func posKey(dst []byte, pos uint64) []byte { return binary.BigEndian.AppendUint64(dst, pos) }

// The index bucket holds, for every event, its id and its stream: all that
// is needed to rebuild the lookups at open. Two kinds of entries, told apart
// by the length of the key, may follow each other in one file:
//
//	format 1, one per event:        position (8 bytes BE) -> id (16) | stream
//	format 2, one per run of events: first | last position (8+8 bytes BE) ->
//	                                for each event: id (16) | uvarint len(stream) | stream
//
// Both sort by their first position, so a cursor meets them in log order.
//
// Format 2 also lets the bucket lag the log: the writer keeps the entries of
// recent commits in memory and writes them once they reach indexFlushBytes,
// in the commit that happens to cross that size, and open reads the events
// after the bucket's last entry from the records themselves (at most that
// many bytes' worth: about two thousand events, a millisecond's read). The records are the truth and the
// bucket only spares open from reading all of them, so nothing is lost with
// the lagging entries. Writing a B+tree entry per event made the single writer
// dirty an index leaf and branch in every commit besides the log's own pages
// (18-19 page writes per commit of 64 events against raw bbolt's 13).
const (
	indexKeyLen      = 8
	indexGroupKeyLen = 16

	// indexFlushBytes is how many bytes of entries wait before they are
	// written: sixteen pages, so that they fill leaves rather than rewrite
	// one, and a flush (a commit of 64 events writes 16 pages, a flushing one
	// about 36) comes every thirty-odd such commits.
	indexFlushBytes = 64 << 10
	// indexChunkBytes is the size after which a group entry ends and the
	// next begins: bbolt splits a leaf only once it holds more than four
	// entries, so entries of a page or more would make overflowing leaves
	// that every flush rewrites whole.
	indexChunkBytes = 512
)

// indexChunks are index entries waiting to be written, cut into group
// entries of about indexChunkBytes.
type indexChunks struct {
	buf    []byte
	chunks []indexChunk
}

// indexChunk is one group entry: positions first..last, value buf[start:end].
type indexChunk struct {
	first, last uint64
	start, end  int
}

func (c *indexChunks) add(pos uint64, id [16]byte, stream string) {
	n := len(c.chunks)
	if n == 0 || c.chunks[n-1].end-c.chunks[n-1].start >= indexChunkBytes {
		c.chunks = append(c.chunks, indexChunk{first: pos, start: len(c.buf)})
		n++
	}
	c.buf = appendIndexGroupEntry(c.buf, id, stream)
	last := &c.chunks[n-1]
	last.last, last.end = pos, len(c.buf)
}

// reset empties c once its entries are committed, dropping a buffer that one
// huge commit grew.
func (c *indexChunks) reset() {
	if cap(c.buf) > 4*indexFlushBytes {
		c.buf = nil
	}
	c.buf, c.chunks = c.buf[:0], c.chunks[:0]
}

// indexGroupKey appends the key of a group entry for positions first..last.
func indexGroupKey(dst []byte, first, last uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, first)
	return binary.BigEndian.AppendUint64(dst, last)
}

// appendIndexGroupEntry appends one event's part of a group entry's value.
func appendIndexGroupEntry(dst []byte, id [16]byte, stream string) []byte {
	dst = append(dst, id[:]...)
	dst = binary.AppendUvarint(dst, uint64(len(stream)))
	return append(dst, stream...)
}

// indexEntries walks the events of one index-bucket entry, of either kind.
type indexEntries struct {
	next, last uint64 // positions of the next event and of the entry's last
	perEvent   bool   // a format-1 entry: the stream is the rest of the value
	rest       []byte
}

// indexedUpTo returns the position the index bucket covers the log up to.
func indexedUpTo(tx *bolt.Tx, head uint64) (uint64, error) {
	v := tx.Bucket(bucketMeta).Get(keyIndexed)
	if v == nil {
		return head, nil
	}
	pos, err := decodeUint64(v)
	if err != nil || pos > head {
		return 0, fmt.Errorf("boltstore: meta says the index covers position %x, head is %d", v, head)
	}
	return pos, nil
}

// parseIndexEntry reads an index-bucket key and prepares to walk its value.
func parseIndexEntry(k, v []byte) (indexEntries, error) {
	switch len(k) {
	case indexKeyLen:
		pos := binary.BigEndian.Uint64(k)
		return indexEntries{next: pos, last: pos, perEvent: true, rest: v}, nil
	case indexGroupKeyLen:
		first, last := binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(k[8:])
		if first == 0 || last < first {
			return indexEntries{}, fmt.Errorf("boltstore: index entry %x covers no positions", k)
		}
		return indexEntries{next: first, last: last, rest: v}, nil
	}
	return indexEntries{}, fmt.Errorf("boltstore: index key %x has %d bytes", k, len(k))
}

// more reports whether the entry has events left.
func (e *indexEntries) more() bool { return e.next <= e.last && e.next != 0 }

// take returns the next event's position, id and stream; stream aliases the
// value. Call it only while more().
func (e *indexEntries) take() (pos uint64, id [16]byte, stream []byte, err error) {
	pos = e.next
	if len(e.rest) < 17 {
		return pos, id, nil, fmt.Errorf("boltstore: index entry for position %d has %d bytes", pos, len(e.rest))
	}
	copy(id[:], e.rest[:16])
	if e.perEvent {
		stream, e.rest = e.rest[16:], nil
	} else {
		n, w := binary.Uvarint(e.rest[16:])
		if w <= 0 || n == 0 || n > uint64(len(e.rest)-16-w) {
			return pos, id, nil, fmt.Errorf("boltstore: index entry for position %d has a bad stream length", pos)
		}
		stream = e.rest[16+w : 16+w+int(n)]
		e.rest = e.rest[16+w+int(n):]
	}
	e.next++
	if e.next > e.last && len(e.rest) != 0 {
		return pos, id, nil, fmt.Errorf("boltstore: index entry ending at position %d has %d bytes too many", pos, len(e.rest))
	}
	return pos, id, stream, nil
}

func decodeUint64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("boltstore: key has %d bytes, want 8", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// recordOverhead bounds the fixed part of an encoded record: id, hashes,
// two times, revision and the length prefixes.
const recordOverhead = 16 + 32 + 32 + 3*binary.MaxVarintLen64 + 10*binary.MaxVarintLen64

func recordSizeHint(stream string, ev *eventstore.EventData) int {
	m := &ev.Meta
	return recordOverhead + len(ev.Type) + len(stream) + len(m.ActorID) + len(m.ActorRole) +
		len(m.CorrelationID) + len(m.CausationID) + len(m.IdempotencyKey) + len(m.RequestHash) + len(ev.Data)
}

// appendRecord appends the stored form of ev. The position is the key, so it
// is not repeated in the value. After the record's head come the event's
// metadata and data exactly as the chain hash covers them
// (eventstore.AppendCanonicalTail), so that an append encodes them once, in
// the caller's goroutine, for both the record and the hash (see prepare).
func appendRecord(dst []byte, ev *eventstore.RecordedEvent) []byte {
	dst = appendRecordHead(dst, ev)
	dst = eventstore.AppendCanonicalTail(dst, &ev.EventData)
	dst = append(dst, ev.PrevHash[:]...)
	return append(dst, ev.Hash[:]...)
}

// appendRecordHead appends what a record holds before the canonical tail.
func appendRecordHead(dst []byte, ev *eventstore.RecordedEvent) []byte {
	e := wire.NewEncoder(dst)
	e.Raw(ev.ID[:])
	e.String(ev.Type)
	e.String(ev.Stream)
	e.Uvarint(ev.Revision)
	e.Time(ev.RecordedAt)
	return e.Bytes()
}

// decodeRecord decodes the value stored at pos. Everything it returns is a
// copy: b points into bbolt's mmap and is only valid inside the transaction.
func decodeRecord(pos uint64, b []byte) (eventstore.RecordedEvent, error) {
	return decodeFields(pos, b, (*wire.Decoder).String, (*wire.Decoder).Blob)
}

// decodeFields decodes the record b stored at pos, reading its strings and
// byte strings with str and blob: copies of them (decodeRecord), or views
// of b itself (decodeShared).
func decodeFields(pos uint64, b []byte, str func(*wire.Decoder) string, blob func(*wire.Decoder) []byte) (eventstore.RecordedEvent, error) {
	var ev eventstore.RecordedEvent
	d := wire.NewDecoder(b)
	copy(ev.ID[:], d.Raw(16))
	ev.Type = str(d)
	ev.Stream = str(d)
	ev.Revision = d.Uvarint()
	ev.RecordedAt = d.Time()
	ev.Meta.OccurredAt = d.Time()
	ev.Meta.ActorID = str(d)
	ev.Meta.ActorRole = str(d)
	ev.Meta.CorrelationID = str(d)
	ev.Meta.CausationID = str(d)
	ev.Meta.IdempotencyKey = str(d)
	ev.Meta.RequestHash = nilIfEmpty(blob(d))
	ev.Data = nilIfEmpty(blob(d))
	copy(ev.PrevHash[:], d.Raw(32))
	copy(ev.Hash[:], d.Raw(32))
	if err := d.Done(); err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("boltstore: record at position %d: %w", pos, err)
	}
	ev.Position = pos
	return ev, nil
}

// decodeRecordHeader decodes only the identifying fields, without copying the
// payload: enough to rebuild the lookups when the index bucket cannot be used.
func decodeRecordHeader(pos uint64, b []byte) (id [16]byte, stream string, rev uint64, err error) {
	d := wire.NewDecoder(b)
	copy(id[:], d.Raw(16))
	_ = d.String() // type
	stream = d.String()
	rev = d.Uvarint()
	if err := d.Err(); err != nil {
		return id, "", 0, fmt.Errorf("boltstore: record at position %d: %w", pos, err)
	}
	return id, stream, rev, nil
}

// An empty byte string is stored the same whether it was nil or not; reading
// it back as nil is the least surprising choice for callers.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Times travel as int64 Unix nanoseconds (see wire.Encoder.Time), which
// silently wrap outside these bounds; an append carrying such a time is
// refused instead of being stored as a different instant.
var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

var errTimeRange = errors.New("occurred_at outside the years 1678–2262")

func checkTime(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return errTimeRange
	}
	return nil
}

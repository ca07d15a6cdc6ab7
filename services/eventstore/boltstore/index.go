package boltstore

import (
	"encoding/binary"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// index holds the lookups an append and a stream read need: event id ->
// position, and stream -> positions by revision. It lives in memory, rebuilt
// at open from the index bucket, because as B+tree buckets keyed by event id
// and by stream both would take a random leaf write per event: measured on
// the 2-core target, those two writes cut durable throughput with 64 writers
// from ~53,000 to ~15,000 events/s (the log alone is sequential and cheap).
// The cost is memory, 16 bytes per event for the ids (idIndex) plus the
// streams' positions (streamTable: 20.7 bytes an event in all at six events
// a stream, names, slots and hash entries included, BenchmarkStreamTableAdd;
// 30 with clea10's longer real names, a heap profile half way through its
// import),
// and an open that scans the compact index bucket (~35 bytes per event) and
// sorts the ids. Neither holds a pointer per event or per stream, so the
// garbage collector does not walk them.
//
// Only the writer goroutine mutates it, under mu, after a commit; it reads
// without mu, since nothing else writes. Readers take mu.RLock.
type index struct {
	mu      sync.RWMutex
	ids     idIndex
	streams *streamTable

	// tail holds the entries of the events open read from the records
	// because the index bucket did not cover them yet (see indexFlushBytes);
	// the writer takes them over, so that the bucket stays contiguous.
	tail indexChunks
}

func newIndex() *index {
	return &index{ids: newIDIndex(), streams: newStreamTable()}
}

// add records an event read back at open; events arrive in log order, so the
// revision is implied. An id stored twice is found by seal, once all are in.
func (x *index) add(pos uint64, id [16]byte, stream []byte) {
	x.ids.load(pos, id)
	x.streams.add(stream, pos)
}

// release drops the lookups of a closed store, which may stay referenced
// long after Close.
func (x *index) release() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ids, x.streams = newIDIndex(), newStreamTable()
}

// revision returns the committed revision of stream.
func (x *index) revision(stream string) uint64 { return x.streams.revision(stream) }

// streamPositions returns a copy of the positions of stream's revisions in
// (after, after+limit].
func (x *index) streamPositions(stream string, after uint64, limit int) []uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.streams.positions(nil, stream, after, limit)
}

// loadIndex rebuilds the index from the index bucket, or, if that bucket
// does not agree with the head, from the records themselves (slower: it reads
// the whole log), so that a damaged index bucket costs time, not data.
// releaseOpenEvery is how many entries the index load at open reads between
// releases of the memory map (see mapped.Release): opening a 1.6-million-event
// store then keeps tens of megabytes of the file resident, not all of it.
const releaseOpenEvery = 1 << 16

// When path is not empty and the index image beside it (image.go) matches
// the file, the index is read from the image instead, and only the events
// after it are indexed from the bucket and the records.
func loadIndex(tx *bolt.Tx, head headState, release func(), path string) (x *index, fromImage bool, err error) {
	if path != "" {
		if x, err := loadFromImage(tx, path, head, release); err == nil {
			return x, true, nil
		}
	}
	x, err = loadFromIndexBucket(tx, head, release)
	if err == nil {
		if err = x.ids.seal(storedID(tx)); err == nil {
			return x, false, nil
		}
	}
	x, err2 := loadFromRecords(tx, head, release)
	if err2 == nil {
		err2 = x.ids.seal(storedID(tx))
	}
	if err2 != nil {
		return nil, false, fmt.Errorf("rebuild index: %w (index bucket: %v)", err2, err)
	}
	return x, false, nil
}

func loadFromIndexBucket(tx *bolt.Tx, head headState, release func()) (*index, error) {
	indexed, err := indexedUpTo(tx, head.pos)
	if err != nil {
		return nil, err
	}
	x := newIndex()
	c := tx.Bucket(bucketIndex).Cursor()
	var last, released uint64
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if last-released >= releaseOpenEvery {
			release()
			released = last
		}
		e, err := parseIndexEntry(k, v)
		if err != nil {
			return nil, err
		}
		if e.next != last+1 {
			return nil, fmt.Errorf("index entry %x after position %d", k, last)
		}
		for e.more() {
			pos, id, stream, err := e.take()
			if err != nil {
				return nil, err
			}
			x.add(pos, id, stream)
			last = pos
		}
	}
	if last != indexed {
		return nil, fmt.Errorf("index ends at position %d, it should cover %d (head %d)", last, indexed, head.pos)
	}
	// The bucket lags the log by the entries the writer had not flushed
	// (see indexFlushBytes): those events are read from the records.
	if err := addFromRecords(tx, x, last, head, release, &x.tail, 0, x.add); err != nil {
		return nil, err
	}
	return x, nil
}

func loadFromRecords(tx *bolt.Tx, head headState, release func()) (*index, error) {
	x := newIndex()
	if err := addFromRecords(tx, x, 0, head, release, nil, 0, x.add); err != nil {
		return nil, err
	}
	return x, nil
}

// loadFromImage reads the index image beside path and indexes the events
// after it from the index bucket and the records, as loadFromIndexBucket
// does from the first event. The ids of those events join the recent ids
// (the image's run is sorted already), each checked first against the ids
// indexed, as seal checks a load's.
func loadFromImage(tx *bolt.Tx, path string, head headState, release func()) (*index, error) {
	x, from, err := readImage(tx, path, head)
	if err != nil {
		return nil, err
	}
	indexed, err := indexedUpTo(tx, head.pos)
	if err != nil {
		return nil, err
	}
	idAt := storedID(tx)
	var dup error
	checked := func(pos uint64, id [16]byte, stream []byte) {
		if dup != nil {
			return
		}
		if x.ids.mayHold(id) {
			if at, found, err := x.ids.lookup(id, idAt); err != nil || found {
				dup = fmt.Errorf("event id %x at position %d was already at %d (%v)", id, pos, at, err)
				return
			}
		}
		x.ids.add(pos, id)
		x.streams.add(stream, pos)
	}
	next := from + 1
	if from < indexed {
		// The entry holding from+1 starts at it or before it: the seek
		// finds the first entry after it (or none), so the walk starts
		// at the one before that, or at the first.
		c := tx.Bucket(bucketIndex).Cursor()
		c.Seek(posKey(nil, next))
		k, v := c.Prev()
		if k == nil {
			k, v = c.First()
		}
		for ; k != nil && next <= indexed; k, v = c.Next() {
			e, err := parseIndexEntry(k, v)
			if err != nil {
				return nil, err
			}
			for e.more() {
				pos, id, stream, err := e.take()
				if err != nil {
					return nil, err
				}
				switch {
				case pos < next:
				case pos == next:
					checked(pos, id, stream)
					next++
				default:
					return nil, fmt.Errorf("index entry %x after position %d", k, next-1)
				}
			}
		}
		if next != indexed+1 {
			return nil, fmt.Errorf("index ends at position %d, it should cover %d (head %d)", next-1, indexed, head.pos)
		}
	}
	// The records after the bucket's end are read for the writer's next
	// flush (tail) whether or not the image holds them.
	if err := addFromRecords(tx, x, indexed, head, release, &x.tail, from, checked); err != nil {
		return nil, err
	}
	if dup != nil {
		return nil, dup
	}
	return x, nil
}

// addFromRecords indexes (add) the events after position last, up to the
// head, from the records, and adds their index entries to tail unless it is
// nil. Events up to skip are already indexed: they only go to tail.
func addFromRecords(tx *bolt.Tx, x *index, last uint64, head headState, release func(), tail *indexChunks, skip uint64,
	add func(pos uint64, id [16]byte, stream []byte)) error {
	c := tx.Bucket(bucketEvents).Cursor()
	for k, v := c.Seek(posKey(nil, last+1)); k != nil; k, v = c.Next() {
		if last%releaseOpenEvery == releaseOpenEvery-1 {
			release()
		}
		if len(k) != 8 || binary.BigEndian.Uint64(k) != last+1 {
			return fmt.Errorf("event key %x after position %d", k, last)
		}
		last++
		id, stream, rev, err := decodeRecordHeader(last, v)
		if err != nil {
			return err
		}
		if last > skip {
			add(last, id, []byte(stream))
			if got := x.revision(stream); got != rev {
				return fmt.Errorf("record at position %d has revision %d of %q, its place in the log says %d", last, rev, stream, got)
			}
		}
		if tail != nil {
			tail.add(last, id, stream)
		}
	}
	if last != head.pos {
		return fmt.Errorf("log ends at position %d, head is %d", last, head.pos)
	}
	return nil
}

// storedID returns a reader of the event id stored at a position, for the
// id index to tell apart ids that share a fingerprint.
func storedID(tx *bolt.Tx) func(pos uint64) ([16]byte, error) {
	b := tx.Bucket(bucketEvents)
	return func(pos uint64) ([16]byte, error) {
		v := b.Get(posKey(nil, pos))
		if v == nil {
			return [16]byte{}, fmt.Errorf("the id index names position %d, which holds no event", pos)
		}
		id, _, _, err := decodeRecordHeader(pos, v)
		return id, err
	}
}

// overlay holds what the batch being committed adds to the index. It is
// merged after the commit succeeds and dropped if it fails, so the index only
// ever describes committed events.
type overlay struct {
	ids     map[[16]byte]uint64
	streams map[string][]uint64 // positions appended in this batch
}

func newOverlay() *overlay {
	return &overlay{ids: make(map[[16]byte]uint64), streams: make(map[string][]uint64)}
}

func (o *overlay) reset() {
	clear(o.ids)
	clear(o.streams)
}

// view is the index as the writer sees it inside a batch: committed state
// plus the batch's own writes.
type view struct {
	x *index
	o *overlay
}

// lookupID finds id among the batch's events and the committed ones;
// idAt reads an id from the transaction (see idIndex.lookup).
func (v view) lookupID(id [16]byte, idAt func(pos uint64) ([16]byte, error)) (uint64, bool, error) {
	if pos, ok := v.o.ids[id]; ok {
		return pos, true, nil
	}
	return v.x.ids.lookup(id, idAt)
}

func (v view) revision(stream string) uint64 {
	return v.x.revision(stream) + uint64(len(v.o.streams[stream]))
}

// positionAt returns the position of stream's revision rev, if it exists.
func (v view) positionAt(stream string, rev uint64) (uint64, bool) {
	if rev == 0 {
		return 0, false
	}
	committed := v.x.streams.revision(stream)
	if rev <= committed {
		return v.x.streams.at(stream, rev)
	}
	pending := v.o.streams[stream]
	if i := rev - 1 - committed; i < uint64(len(pending)) {
		return pending[i], true
	}
	return 0, false
}

func (v view) add(pos uint64, id [16]byte, stream string) {
	v.o.ids[id] = pos
	v.o.streams[stream] = append(v.o.streams[stream], pos)
}

// merge publishes a committed batch.
func (x *index) merge(o *overlay) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, pos := range o.ids {
		x.ids.add(pos, id)
	}
	for stream, ps := range o.streams {
		for _, pos := range ps {
			x.streams.add(bytesOf(stream), pos)
		}
	}
}

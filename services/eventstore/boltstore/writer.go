package boltstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"runtime"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
)

// request is one Append waiting for the writer's verdict.
type request struct {
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData

	// tails holds each event's canonical tail (eventstore.AppendCanonicalTail),
	// encoded by the caller before queueing; ends[i] is where event i's ends.
	// The tail is most of a record's bytes and of what the chain hash
	// covers, and nothing in it depends on where the event lands, so the
	// callers encode it in parallel and the single writer only copies it.
	tails []byte
	ends  []int
	end1  [1]int // ends of a one-event append, without an allocation

	res eventstore.AppendResult
	err error
	// done receives one token once res and err are set. Buffered and sent
	// to rather than closed, so that a recycled request keeps it.
	done chan struct{}
}

// prepare encodes the events' tails; see request.tails.
func (r *request) prepare() {
	size := 0
	for i := range r.events {
		size += recordSizeHint(r.stream, &r.events[i])
	}
	r.tails = slices.Grow(r.tails[:0], size)
	r.ends = r.end1[:0]
	if len(r.events) > 1 {
		r.ends = make([]int, 0, len(r.events))
	}
	for i := range r.events {
		r.tails = eventstore.AppendCanonicalTail(r.tails, &r.events[i])
		r.ends = append(r.ends, len(r.tails))
	}
}

// tail returns event i's canonical tail.
func (r *request) tail(i int) []byte {
	start := 0
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.tails[start:r.ends[i]]
}

// maxArenaKeep bounds the scratch memory the writer keeps between commits, so
// that one huge append does not pin its size for the life of the store.
const maxArenaKeep = 4 << 20

// Append implements eventstore.Store. See the package comment for why it
// queues instead of writing.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := checkLimits(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := s.failed(); err != nil {
		return eventstore.AppendResult{}, err
	}
	r, _ := s.requests.Get().(*request)
	if r == nil {
		r = new(request)
	}
	if r.done == nil {
		r.done = make(chan struct{}, 1)
	}
	r.stream, r.expected, r.events = stream, expected, events
	r.prepare()
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		// Not enqueued, so nothing can commit: failing is truthful.
		s.mu.RUnlock()
		return eventstore.AppendResult{}, ctx.Err()
	}
	s.mu.RUnlock()
	// Once queued the append may commit, so its outcome is waited for
	// whatever ctx does: reporting a failure for a write that then lands would
	// make the caller retry into a duplicate or give up on a stored event.
	<-r.done
	res, err := r.res, r.err
	s.recycle(r)
	return res, err
}

// maxTailsKeep bounds the encoded tails a recycled request keeps, so that
// one large append does not pin its size in the pool.
const maxTailsKeep = 16 << 10

// recycle returns an answered request to the pool. The writer no longer
// touches a request once it has answered on done, and everything the commit
// kept (keys, values, the stream name) is a copy or immutable.
func (s *Store) recycle(r *request) {
	tails := r.tails[:0]
	if cap(tails) > maxTailsKeep {
		tails = nil
	}
	*r = request{tails: tails, done: r.done}
	s.requests.Put(r)
}

// checkLimits refuses what bbolt would reject at Put time. Caught here, a bad
// append fails alone instead of aborting the whole group commit it joined.
func checkLimits(stream string, events []eventstore.EventData) error {
	for i := range events {
		if recordSizeHint(stream, &events[i]) > bolt.MaxValueSize {
			return fmt.Errorf("%w: event %d is too large", eventstore.ErrInvalid, i)
		}
		if err := checkTime(events[i].Meta.OccurredAt); err != nil {
			return fmt.Errorf("%w: event %d: %v", eventstore.ErrInvalid, i, err)
		}
	}
	return nil
}

// writerState is what the writer goroutine keeps between commits.
type writerState struct {
	batch []*request
	// arena holds every key and value put in one transaction: bbolt
	// references them until commit, so it is reused only after.
	arena []byte
	// unindexed holds the index entries of committed events not yet in the
	// index bucket (see indexFlushBytes), in chunks that each become one
	// group entry; bbolt references them until commit, like arena.
	unindexed indexChunks
	// scratch is for lookup keys and the canonical head, which nobody
	// retains.
	scratch []byte
	// formatCurrent is set once the file is known to be at formatVersion
	// with its indexed position written (see markFormat).
	formatCurrent bool
	hasher        hash.Hash
	sum           [sha256.Size]byte

	// expect is how many requests were in flight when the last commit
	// ended: those it answered plus those queued meanwhile (see gather).
	expect int
	// lastCommit is how long the last commit took, which bounds how long
	// gather waits for the expected requests.
	lastCommit time.Duration
	wait       *time.Timer
}

// maxGatherWait caps gather's timed wait whatever the last commit took, and
// maxGatherYields its yields: under CPU load one yield can let many other
// goroutines run first.
const (
	maxGatherWait   = time.Millisecond
	maxGatherYields = 3
)

// writer owns every write transaction. It takes one request, gathers the
// group that is on its way (see gather) and commits it in one transaction.
func (s *Store) writer() {
	defer close(s.writerDone)
	ws := &writerState{hasher: sha256.New(), wait: time.NewTimer(time.Hour)}
	ws.wait.Stop()
	// The entries open read from the records come first in the next flush.
	ws.unindexed, s.index.tail = s.index.tail, indexChunks{}
	for {
		open := s.gather(ws)
		if len(ws.batch) > 0 {
			start := time.Now()
			s.commit(ws)
			ws.lastCommit = time.Since(start)
			ws.expect = len(ws.batch) + len(s.reqs)
			if cap(ws.arena) > maxArenaKeep {
				ws.arena = nil
			}
			clear(ws.batch)
		}
		if !open {
			s.flushIndexAtClose(ws)
			return
		}
	}
}

// gather blocks for one request, then collects the group to commit with it,
// and reports whether reqs is still open.
//
// Taking only what is already queued halves the events per fsync under
// steady load: the callers answered by the last commit come straight back
// with their next append, but the first of them to be scheduled wakes the
// writer, which would commit a sliver of them alone while the rest queue for
// the commit after; the two cohorts then alternate for good (measured with 64
// writers: 32 events per commit instead of 64). So the writer expects as many
// requests as were in flight when the last commit ended and waits for them:
// first by yielding to the goroutines that are ready to run (which costs
// nothing when there are none), then for at most an eighth of the last
// commit's time. A caller who does not come back costs that wait once, after
// which the expectation follows what arrived; a lone writer never waits.
func (s *Store) gather(ws *writerState) (open bool) {
	ws.batch = ws.batch[:0]
	r, ok := <-s.reqs
	if !ok {
		return false
	}
	ws.batch = append(ws.batch, r)
	n := len(r.events)
	yields, timing := 0, false
	defer func() {
		if timing {
			ws.wait.Stop()
		}
	}()
	for n < s.maxBatch {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return false
			}
			ws.batch = append(ws.batch, r)
			n += len(r.events)
			continue
		default:
		}
		if len(ws.batch) >= ws.expect {
			return true
		}
		if yields < maxGatherYields {
			yields++
			runtime.Gosched()
			continue
		}
		if !timing {
			timing = true
			ws.wait.Reset(min(max(ws.lastCommit/8, 20*time.Microsecond), maxGatherWait))
		}
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return false
			}
			ws.batch = append(ws.batch, r)
			n += len(r.events)
		case <-ws.wait.C:
			return true
		}
	}
	return true
}

// commit runs one transaction for ws.batch and answers every request.
func (s *Store) commit(ws *writerState) {
	batch := ws.batch
	if err := s.failed(); err != nil {
		for _, r := range batch {
			r.res, r.err = eventstore.AppendResult{}, err
			r.done <- struct{}{}
		}
		return
	}
	var before, after headState
	s.pending.reset()
	ws.arena = ws.arena[:0]
	flushed, marked := false, false
	// A fault on a damaged page fails the commit (and stops the store)
	// instead of the process.
	err := guard(s.path, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			w, err := newTxWriter(tx, ws, view{s.index, s.pending})
			if err != nil {
				return err
			}
			before = w.head
			ns := s.clock().UnixNano()
			if ns < w.head.recordedAt {
				ns = w.head.recordedAt
			}
			w.head.recordedAt = ns
			w.recordedAt = time.Unix(0, ns).UTC()
			for _, r := range batch {
				var abort error
				r.res, r.err, abort = w.apply(r)
				if abort != nil {
					return abort
				}
			}
			if w.head.pos == before.pos {
				return nil
			}
			after = w.head
			if !ws.formatCurrent {
				if err := w.markFormat(before.pos); err != nil {
					return err
				}
				marked = true
			}
			if len(ws.unindexed.buf) >= indexFlushBytes {
				if err := w.flushIndex(); err != nil {
					return err
				}
				flushed = true
			}
			if err := w.meta.Put(keyHead, after.encode(nil)); err != nil {
				return fmt.Errorf("write head: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		err = fmt.Errorf("%w: boltstore: commit: %w", eventstore.ErrFailed, err)
		s.failure.CompareAndSwap(nil, &err)
		for _, r := range batch {
			r.res, r.err = eventstore.AppendResult{}, err
		}
	} else if after.pos > before.pos {
		if marked {
			ws.formatCurrent = true
		}
		if flushed {
			ws.unindexed.reset()
		}
		// Index before head: a reader that sees the new head must find
		// the new events in the index.
		s.index.merge(s.pending)
		s.publish(after.pos)
	}
	for _, r := range batch {
		r.done <- struct{}{}
	}
}

// txWriter applies requests inside one write transaction.
type txWriter struct {
	*writerState
	events, index, meta *bolt.Bucket
	view                view
	idAt                func(pos uint64) ([16]byte, error)

	head       headState
	recordedAt time.Time
}

func newTxWriter(tx *bolt.Tx, ws *writerState, v view) (*txWriter, error) {
	w := &txWriter{
		writerState: ws,
		events:      tx.Bucket(bucketEvents),
		index:       tx.Bucket(bucketIndex),
		meta:        tx.Bucket(bucketMeta),
		view:        v,
		idAt:        storedID(tx),
	}
	if w.events == nil || w.index == nil || w.meta == nil {
		return nil, fmt.Errorf("bucket missing")
	}
	// Keys are appended in order: full pages halve the file size.
	w.events.FillPercent = 1.0
	w.index.FillPercent = 1.0
	h, err := decodeHead(w.meta.Get(keyHead))
	if err != nil {
		return nil, err
	}
	w.head = h
	return w, nil
}

// take returns the bytes appended to the arena since start, capped so that
// nobody can append into the next value.
func (w *txWriter) take(start int) []byte { return w.arena[start:len(w.arena):len(w.arena)] }

// apply checks and writes one request. reqErr is the request's own verdict,
// given before anything is written; abort is a failed write after which the
// transaction cannot be trusted and must be rolled back for the whole batch.
func (w *txWriter) apply(r *request) (res eventstore.AppendResult, reqErr, abort error) {
	evs := r.events
	pos, found, err := w.view.lookupID(evs[0].ID, w.idAt)
	if err != nil {
		return res, nil, err
	}
	if found {
		res, err := w.retry(r, pos)
		return res, err, nil
	}
	for i := 1; i < len(evs); i++ {
		_, found, err := w.view.lookupID(evs[i].ID, w.idAt)
		if err != nil {
			return res, nil, err
		}
		if found {
			return res, fmt.Errorf("%w: event %s (index %d) is already stored, but event %s is not",
				eventstore.ErrDuplicateEventID, evs[i].ID, i, evs[0].ID), nil
		}
	}
	cur := w.view.revision(r.stream)
	if !r.expected.Allows(cur) {
		return res, &eventstore.WrongRevisionError{Stream: r.stream, Expected: r.expected, Actual: cur}, nil
	}

	n := uint64(len(evs))
	res = eventstore.AppendResult{
		FirstRevision: cur + 1,
		LastRevision:  cur + n,
		FirstPosition: w.head.pos + 1,
		LastPosition:  w.head.pos + n,
	}
	for i := range evs {
		rec := eventstore.RecordedEvent{
			EventData:  evs[i],
			Stream:     r.stream,
			Revision:   cur + 1 + uint64(i),
			Position:   w.head.pos + 1,
			RecordedAt: w.recordedAt,
			PrevHash:   w.head.hash,
		}
		// eventstore.ChainHash, from the tail the caller encoded.
		tail := r.tail(i)
		w.scratch = eventstore.AppendCanonicalHead(w.scratch[:0], &rec)
		w.hasher.Reset()
		// Not rec.PrevHash: a slice of rec given to the hasher would move
		// rec to the heap, an allocation per event.
		w.hasher.Write(w.head.hash[:])
		w.hasher.Write(w.scratch)
		w.hasher.Write(tail)
		rec.Hash = [32]byte(w.hasher.Sum(w.sum[:0]))

		a := len(w.arena)
		w.arena = posKey(w.arena, rec.Position)
		pk := w.take(a)
		a = len(w.arena)
		w.arena = appendRecordHead(w.arena, &rec)
		w.arena = append(w.arena, tail...)
		w.arena = append(w.arena, rec.PrevHash[:]...)
		w.arena = append(w.arena, rec.Hash[:]...)
		val := w.take(a)
		w.unindexed.add(rec.Position, rec.ID, r.stream)

		if err := w.events.Put(pk, val); err != nil {
			return res, nil, fmt.Errorf("put event %d: %w", rec.Position, err)
		}
		w.view.add(rec.Position, rec.ID, r.stream)
		w.head.pos, w.head.hash = rec.Position, rec.Hash
	}
	return res, nil, nil
}

// flushIndex writes the pending index entries, one group entry per chunk,
// and the position the index bucket now covers.
func (w *txWriter) flushIndex() error {
	for _, c := range w.unindexed.chunks {
		a := len(w.arena)
		w.arena = indexGroupKey(w.arena, c.first, c.last)
		if err := w.index.Put(w.take(a), w.unindexed.buf[c.start:c.end:c.end]); err != nil {
			return fmt.Errorf("put index entry %d-%d: %w", c.first, c.last, err)
		}
	}
	last := w.unindexed.chunks[len(w.unindexed.chunks)-1].last
	if err := w.meta.Put(keyIndexed, posKey(nil, last)); err != nil {
		return fmt.Errorf("write indexed position: %w", err)
	}
	return nil
}

// markFormat makes a file that has no indexed position yet (a new one, or
// one of format 1, whose index is complete) say that its index covers the
// log up to head, and that it is of format 2, before the first commit that
// may leave events out of the index.
func (w *txWriter) markFormat(head uint64) error {
	if w.meta.Get(keyIndexed) != nil {
		return nil
	}
	if err := w.meta.Put(keyIndexed, posKey(nil, head)); err != nil {
		return fmt.Errorf("write indexed position: %w", err)
	}
	if err := w.meta.Put(keyVersion, binary.AppendUvarint(nil, formatVersion)); err != nil {
		return fmt.Errorf("write format version: %w", err)
	}
	return nil
}

// flushIndexAtClose writes the index entries still pending, so that the next
// open finds the index complete and reads no records.
func (s *Store) flushIndexAtClose(ws *writerState) {
	if len(ws.unindexed.chunks) == 0 || s.failed() != nil {
		return
	}
	ws.arena = ws.arena[:0]
	err := guard(s.path, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			w, err := newTxWriter(tx, ws, view{s.index, s.pending})
			if err != nil {
				return err
			}
			return w.flushIndex()
		})
	})
	if err != nil {
		s.writerErr = fmt.Errorf("boltstore: write the index at close (no event is lost; the next open reads them from the log): %w", err)
	}
}

// retry decides whether a request whose first event id is already stored
// (at position first) is a retry of an earlier append, and if so returns that
// append's result.
func (w *txWriter) retry(r *request, first uint64) (eventstore.AppendResult, error) {
	evs := r.events
	w.scratch = posKey(w.scratch[:0], first)
	rec := w.events.Get(w.scratch)
	if rec == nil {
		return eventstore.AppendResult{}, fmt.Errorf("boltstore: index puts event %s at missing position %d", evs[0].ID, first)
	}
	id, stream, rev, err := decodeRecordHeader(first, rec)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if id != evs[0].ID {
		return eventstore.AppendResult{}, fmt.Errorf("boltstore: index puts event %s at position %d, which holds %x", evs[0].ID, first, id)
	}
	if stream != r.stream {
		return eventstore.AppendResult{}, fmt.Errorf("%w: event %s is stored in stream %q, not %q",
			eventstore.ErrDuplicateEventID, evs[0].ID, stream, r.stream)
	}
	last := first
	for i := 1; i < len(evs); i++ {
		got, found, err := w.view.lookupID(evs[i].ID, w.idAt)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		want, exists := w.view.positionAt(stream, rev+uint64(i))
		if !found || !exists || got != want {
			return eventstore.AppendResult{}, fmt.Errorf("%w: event %s is stored at %q/%d but event %s (index %d) is not stored at revision %d",
				eventstore.ErrDuplicateEventID, evs[0].ID, stream, rev, evs[i].ID, i, rev+uint64(i))
		}
		last = got
	}
	if exact, ok := r.expected.ExactRevision(); ok && exact != rev-1 {
		return eventstore.AppendResult{}, &eventstore.WrongRevisionError{
			Stream: r.stream, Expected: r.expected, Actual: w.view.revision(stream)}
	}
	return eventstore.AppendResult{
		FirstRevision: rev,
		LastRevision:  rev + uint64(len(evs)) - 1,
		FirstPosition: first,
		LastPosition:  last,
		Duplicate:     true,
	}, nil
}

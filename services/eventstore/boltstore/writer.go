package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
)

// request is one Append waiting for the writer's verdict.
type request struct {
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData

	res  eventstore.AppendResult
	err  error
	done chan struct{} // closed once res and err are set
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
	r := &request{stream: stream, expected: expected, events: events, done: make(chan struct{})}
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
	return r.res, r.err
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

// writer owns every write transaction. It blocks for one request, takes
// whatever else is already queued (no artificial delay: under load the queue
// fills while the previous commit fsyncs) and commits them together.
func (s *Store) writer() {
	defer close(s.writerDone)
	var (
		batch []*request
		arena []byte
	)
	for {
		r, ok := <-s.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		n := len(r.events)
		open := true
	drain:
		for n < s.maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, r)
				n += len(r.events)
			default:
				break drain
			}
		}
		arena = s.commit(batch, arena[:0])
		if cap(arena) > maxArenaKeep {
			arena = nil
		}
		clear(batch)
		if !open {
			return
		}
	}
}

// commit runs one transaction for the batch and answers every request. It
// returns the arena for reuse: bbolt keeps references to keys and values only
// until the transaction ends.
func (s *Store) commit(batch []*request, arena []byte) []byte {
	if err := s.failed(); err != nil {
		for _, r := range batch {
			r.res, r.err = eventstore.AppendResult{}, err
			close(r.done)
		}
		return arena
	}
	var before, after headState
	s.pending.reset()
	// A fault on a damaged page fails the commit (and stops the store)
	// instead of the process.
	err := guard(s.path, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			w, err := newTxWriter(tx, arena, view{s.index, s.pending})
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
			arena = w.arena
			if w.head.pos == before.pos {
				return nil
			}
			after = w.head
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
		// Index before head: a reader that sees the new head must find
		// the new events in the index.
		s.index.merge(s.pending)
		s.publish(after.pos)
	}
	for _, r := range batch {
		close(r.done)
	}
	return arena
}

// txWriter applies requests inside one write transaction.
type txWriter struct {
	events, index, meta *bolt.Bucket
	view                view

	head       headState
	recordedAt time.Time
	// arena holds every key and value put in this transaction: bbolt
	// references them until commit, so they must not be reused before then.
	arena []byte
	// scratch is for lookup keys, which bbolt does not retain.
	scratch []byte
}

func newTxWriter(tx *bolt.Tx, arena []byte, v view) (*txWriter, error) {
	w := &txWriter{
		events: tx.Bucket(bucketEvents),
		index:  tx.Bucket(bucketIndex),
		meta:   tx.Bucket(bucketMeta),
		view:   v,
		arena:  arena,
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
	if pos, found := w.view.lookupID(evs[0].ID); found {
		res, err := w.retry(r, pos)
		return res, err, nil
	}
	for i := 1; i < len(evs); i++ {
		if _, found := w.view.lookupID(evs[i].ID); found {
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
		rec.Hash = eventstore.ChainHash(rec.PrevHash, &rec)

		a := len(w.arena)
		w.arena = posKey(w.arena, rec.Position)
		pk := w.take(a)
		a = len(w.arena)
		w.arena = appendRecord(w.arena, &rec)
		val := w.take(a)
		a = len(w.arena)
		w.arena = appendIndexEntry(w.arena, rec.ID, r.stream)
		entry := w.take(a)

		if err := w.events.Put(pk, val); err != nil {
			return res, nil, fmt.Errorf("put event %d: %w", rec.Position, err)
		}
		if err := w.index.Put(pk, entry); err != nil {
			return res, nil, fmt.Errorf("put index entry %d: %w", rec.Position, err)
		}
		w.view.add(rec.Position, rec.ID, r.stream)
		w.head.pos, w.head.hash = rec.Position, rec.Hash
	}
	return res, nil, nil
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
		got, found := w.view.lookupID(evs[i].ID)
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

package boltstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/domain/wire"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/mapped"
)

// releaseEvery is how many events reads go through between releases of the
// memory map's pages (see mapped.Release): a full scan of the log (a rebuild, a
// verify) keeps at most about this many events' pages resident. Releasing
// more often costs scans their read-ahead (measured: a rebuild 25% slower at
// 1<<18).
const releaseEvery = 1 << 20

// readPrealloc caps the up-front allocation of a read, so that a huge limit
// costs nothing until the events are there. A scan's pages (a rebuild reads
// 4096 at a time) fit in it: growing the slice from 256 copied each page's
// records four times over, a third of what reading the log cost.
const readPrealloc = 4096

// ctxCheckEvery is how many events a read decodes between context checks.
const ctxCheckEvery = 256

func checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%w: read limit %d must be positive", eventstore.ErrInvalid, limit)
	}
	return nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.isClosed.Load() {
		return nil, eventstore.ErrClosed
	}
	positions := s.index.streamPositions(stream, after, limit)
	if len(positions) == 0 {
		return nil, nil
	}
	out := make([]eventstore.RecordedEvent, 0, len(positions))
	err := s.view(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		var key [8]byte
		for i, pos := range positions {
			if i%ctxCheckEvery == ctxCheckEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			rec := events.Get(posKey(key[:0], pos))
			if rec == nil {
				return fmt.Errorf("boltstore: stream %q revision %d: position %d is missing", stream, after+uint64(i)+1, pos)
			}
			// Copied field by field: the write path keeps a part of what
			// this returns (the request hash) for long.
			ev, err := decodeRecord(pos, rec)
			if err != nil {
				return err
			}
			// The in-memory index comes from the unhashed index bucket;
			// never hand out another stream's event because of it.
			if rev := after + uint64(i) + 1; ev.Stream != stream || ev.Revision != rev {
				return fmt.Errorf("boltstore: index puts %q revision %d at position %d, which holds %q revision %d",
					stream, rev, pos, ev.Stream, ev.Revision)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	return s.readAll(ctx, nil, after, limit)
}

// AppendAll is ReadAll appending to dst, so that a scan reading the log
// page after page can hand the same room back each time: a rebuild's
// pages of records (a few hundred bytes each, pointers the collector
// scans) were a sixth of what it allocated. The records keep their fields
// in a copy of their own, not in dst: only the slice is reused.
func (s *Store) AppendAll(ctx context.Context, dst []eventstore.RecordedEvent, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := checkLimit(limit); err != nil {
		return dst, err
	}
	return s.readAll(ctx, dst, after, limit)
}

func (s *Store) readAll(ctx context.Context, dst []eventstore.RecordedEvent, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	head := s.head.Load()
	if after >= head {
		return dst, s.closedErr()
	}
	// Positions are contiguous, so what is there to read is known: a live
	// subscription reading the one new event must not allocate room for a
	// page (four read models, every commit).
	out := slices.Grow(dst, int(min(uint64(limit), head-after, readPrealloc)))
	start := len(out)
	err := s.view(func(tx *bolt.Tx) error {
		// Scans go page by page (ReadAll in a loop): count what they read
		// and release the mapping now and then, inside the transaction.
		defer func() {
			if s.scanned.Add(uint64(len(out)-start)) >= releaseEvery {
				s.scanned.Store(0)
				mapped.Release(s.db.Info().Data, int(tx.Size()))
			}
		}()
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(posKey(nil, after+1)); k != nil && len(out)-start < limit; k, v = c.Next() {
			if (len(out)-start)%ctxCheckEvery == ctxCheckEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			pos, err := decodeUint64(k)
			if err != nil {
				return fmt.Errorf("boltstore: events key: %w", err)
			}
			ev, err := decodeShared(pos, v)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (s *Store) closedErr() error {
	if s.isClosed.Load() {
		return eventstore.ErrClosed
	}
	return nil
}

// subscribeBatch is how many events a subscription reads per transaction:
// large enough to amortise the transaction, small enough that a slow reader
// holds little memory.
const subscribeBatch = 512

// Subscribe implements eventstore.Store. A subscription owns no goroutine: Recv
// reads in batches and, once caught up, waits on the store's head broadcast.
func (s *Store) Subscribe(ctx context.Context, after uint64) (eventstore.Subscription, error) {
	if s.isClosed.Load() {
		return nil, eventstore.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &subscription{s: s, ctx: ctx, after: after, closed: make(chan struct{})}, nil
}

type subscription struct {
	s     *Store
	ctx   context.Context
	after uint64
	// buf[next:] are read and not yet handed out.
	buf  []eventstore.RecordedEvent
	next int

	closeOnce sync.Once
	closed    chan struct{}
}

func (sub *subscription) stopped() error {
	select {
	case <-sub.closed:
		return eventstore.ErrClosed
	case <-sub.s.closing:
		return eventstore.ErrClosed
	default:
	}
	return sub.ctx.Err()
}

// Recv implements eventstore.Subscription. It is meant for one goroutine;
// Close may be called from any.
func (sub *subscription) Recv() (eventstore.RecordedEvent, error) {
	for {
		if err := sub.stopped(); err != nil {
			sub.buf, sub.next = nil, 0
			return eventstore.RecordedEvent{}, err
		}
		if sub.next < len(sub.buf) {
			ev := sub.buf[sub.next]
			sub.buf[sub.next] = eventstore.RecordedEvent{}
			sub.next++
			sub.after = ev.Position
			return ev, nil
		}
		// Take the broadcast channel before looking at the head: a commit
		// after this point closes it, so the wait below cannot miss it.
		changed := sub.s.headChanged()
		if sub.s.head.Load() > sub.after {
			// The drained buffer's array is reused: its events were
			// handed out by value (and cleared).
			evs, err := sub.s.subscriptionRead(sub.ctx, sub.after, subscribeBatch, sub.buf[:0])
			if err != nil {
				if stop := sub.stopped(); stop != nil {
					return eventstore.RecordedEvent{}, stop
				}
				return eventstore.RecordedEvent{}, err
			}
			if len(evs) == 0 {
				// The head says there is more, the log says not: spinning
				// would hide a damaged file.
				return eventstore.RecordedEvent{}, fmt.Errorf("boltstore: log ends before head %d (after %d)", sub.s.head.Load(), sub.after)
			}
			sub.buf, sub.next = evs, 0
			continue
		}
		select {
		case <-changed:
		case <-sub.ctx.Done():
		case <-sub.closed:
		case <-sub.s.closing:
		}
	}
}

// Buffered is how many events Recv hands out before it reads again: a
// consumer may take them together (pubsub.SubscriberConfig.MaxBatch).
func (sub *subscription) Buffered() int { return len(sub.buf) - sub.next }

// Close implements eventstore.Subscription.
func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() { close(sub.closed) })
	return nil
}

// LocateEvent implements eventstore.EventLocator: the event with id, found
// through the in-memory id index.
func (s *Store) LocateEvent(ctx context.Context, id uuid.UUID) (eventstore.RecordedEvent, bool, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.RecordedEvent{}, false, err
	}
	if s.isClosed.Load() {
		return eventstore.RecordedEvent{}, false, eventstore.ErrClosed
	}
	// Every command with an idempotency key asks this first, and nearly
	// always for an id that is not stored: the in-memory index says so
	// without a read transaction (opening one took a lock every reader
	// shares, and allocations, for each new command).
	s.index.mu.RLock()
	maybe := s.index.ids.mayHold(id)
	s.index.mu.RUnlock()
	if !maybe {
		return eventstore.RecordedEvent{}, false, nil
	}
	var ev eventstore.RecordedEvent
	var found bool
	// One transaction for the lookup (which may read stored ids) and the
	// event.
	err := s.view(func(tx *bolt.Tx) error {
		s.index.mu.RLock()
		pos, ok, err := s.index.ids.lookup(id, storedID(tx))
		s.index.mu.RUnlock()
		if err != nil || !ok {
			return err
		}
		rec := tx.Bucket(bucketEvents).Get(posKey(nil, pos))
		if rec == nil {
			return fmt.Errorf("boltstore: index names position %d for event %s, which is missing", pos, id)
		}
		if ev, err = decodeRecord(pos, rec); err != nil {
			return err
		}
		if ev.ID != id {
			return fmt.Errorf("boltstore: index names position %d for event %s, which holds another event", pos, id)
		}
		found = true
		return nil
	})
	if err != nil {
		return eventstore.RecordedEvent{}, false, err
	}
	return ev, found, nil
}

// decodeShared decodes a record as decodeRecord does, in one allocation: it
// copies the record out of the memory map once and points the event's
// strings and byte strings into that copy, which nothing writes to again
// (Data and RequestHash are disjoint slices of it). Copying each of the
// nine apart was more than half of what a full read of the log allocated
// (a rebuild: 9 of its 16 allocations per event). What holds on to one of
// the fields holds the record's few hundred bytes: log scans (rebuilds,
// subscriptions) use it, whose readers keep an actor id once per actor and
// nothing per event; ReadStream, whose results the write path caches,
// copies each field.
func decodeShared(pos uint64, v []byte) (eventstore.RecordedEvent, error) {
	b := make([]byte, len(v))
	copy(b, v)
	return decodeFields(pos, b, sharedString, sharedBlob)
}

// sharedBlob reads a length-prefixed byte string without copying it.
func sharedBlob(d *wire.Decoder) []byte {
	n := d.Uvarint()
	if d.Err() != nil {
		return nil
	}
	if n > uint64(d.Remaining()) {
		d.Raw(-1) // fails the decoder: truncated
		return nil
	}
	return d.Raw(int(n))
}

// sharedString reads a length-prefixed string without copying it: only
// for bytes nothing will write to again (decodeShared's copy).
func sharedString(d *wire.Decoder) string {
	b := sharedBlob(d)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

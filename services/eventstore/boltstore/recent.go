package boltstore

import (
	"context"
	"sync"

	"github.com/actionledger/actionledger/services/eventstore"
)

// recentReads keeps the events subscriptions last read from the log,
// decoded, so that the other subscriptions following the same part of the
// log take them from here instead of each opening a transaction and
// decoding the same records. A server runs one subscription per read model
// (six), all waiting at the head: every commit was read and decoded six
// times, about a seventh of what a command allocated.
//
// The window is one run of consecutive positions, at most recentMax long.
// Subscriptions get copies whose Data and Meta.RequestHash are their own, as a
// read from the log gives them: a consumer may change the bytes it was
// given without changing what another one sees.
type recentReads struct {
	// fill is held by the subscription reading the log for the window, so
	// that the others wait for its events instead of reading them too.
	fill sync.Mutex

	mu    sync.Mutex
	first uint64 // position of evs[0]
	evs   []eventstore.RecordedEvent
}

// recentMax bounds the window; subscribeBatch fits in it several times.
const recentMax = 4 * subscribeBatch

// get appends to dst copies of up to limit events after position after
// from the window, and reports whether the window had the next one.
func (c *recentReads) get(after uint64, limit int, dst []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.evs) == 0 || after+1 < c.first || after+1 >= c.first+uint64(len(c.evs)) {
		return dst, false
	}
	from := c.evs[after+1-c.first:]
	return copyEvents(dst, from[:min(limit, len(from))]), true
}

// copyEvents appends to dst copies of evs whose Data and Meta.RequestHash
// are their own; one allocation holds every copied byte slice.
func copyEvents(dst, evs []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	n := 0
	for i := range evs {
		n += len(evs[i].Data) + len(evs[i].Meta.RequestHash)
	}
	arena := make([]byte, 0, n)
	for _, ev := range evs {
		ev.Data, arena = own(arena, ev.Data)
		ev.Meta.RequestHash, arena = own(arena, ev.Meta.RequestHash)
		dst = append(dst, ev)
	}
	return dst
}

// own copies b to the end of arena, which has room for it, and returns the
// copy (its capacity capped, so appending to it cannot reach the next one).
func own(arena, b []byte) ([]byte, []byte) {
	if b == nil {
		return nil, arena
	}
	start := len(arena)
	arena = append(arena, b...)
	return arena[start:len(arena):len(arena)], arena
}

// put adds events just read from the log, in order and with consecutive
// positions, to the window: after its end if they reach past it, instead of
// it if they are past it altogether; older ones are left out.
func (c *recentReads) put(evs []eventstore.RecordedEvent) {
	if len(evs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.first + uint64(len(c.evs)) // next position the window lacks
	first := evs[0].Position
	last := evs[len(evs)-1].Position
	switch {
	case len(c.evs) == 0 || first > end:
		c.evs = append(c.evs[:0], evs...)
		c.first = first
	case last >= end:
		c.evs = append(c.evs, evs[end-first:]...)
	default:
		return
	}
	if len(c.evs) > recentMax {
		// Keep the newer half, in a new array: the old one would keep
		// every event it ever held.
		keep := c.evs[len(c.evs)-recentMax/2:]
		c.evs = append(make([]eventstore.RecordedEvent, 0, recentMax+subscribeBatch), keep...)
		c.first = keep[0].Position
	}
}

// reset empties the window (the store closes).
func (c *recentReads) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs, c.first = nil, 0
}

// subscriptionRead reads up to limit events after position after for a
// subscription, appending them to dst: from the window when it has them,
// else from the log (and into the window).
func (s *Store) subscriptionRead(ctx context.Context, after uint64, limit int, dst []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	if out, ok := s.recent.get(after, limit, dst); ok {
		return out, nil
	}
	s.recent.fill.Lock()
	defer s.recent.fill.Unlock()
	if out, ok := s.recent.get(after, limit, dst); ok {
		return out, nil
	}
	evs, err := s.readAll(ctx, nil, after, limit)
	if err != nil {
		return nil, err
	}
	s.recent.put(evs)
	// The decoded records may now be in the window, all or some of them
	// (it keeps the newest when it overflows): hand out copies, as to every
	// other subscription.
	if out, ok := s.recent.get(after, limit, dst); ok {
		return out, nil
	}
	return copyEvents(dst, evs), nil
}

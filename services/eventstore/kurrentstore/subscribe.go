package kurrentstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/actionledger/actionledger/services/eventstore"
)

// Subscribe implements eventstore.Store with a catch-up subscription to $all
// filtered on the namespace's stream prefix on the server, so neither system
// events nor claims cross the network. It starts after the given position
// (the consumer's own checkpoint) and follows the log live.
//
// A dropped subscription (a node lost, a leader change) ends with an error;
// the pubsub subscriber reopens it from its last position.
func (s *Store) Subscribe(ctx context.Context, after uint64) (eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := s.conn()
	if err != nil {
		return nil, err
	}
	subCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closeCtx, cancel)
	var from esdb.AllPosition = esdb.Start{}
	if after > 0 {
		from = esdb.Position{Commit: after, Prepare: after}
	}
	inner, err := c.SubscribeToAll(subCtx, esdb.SubscribeToAllOptions{
		From:   from,
		Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{s.names.app}},
	})
	if err != nil {
		stop()
		cancel()
		if s.closeCtx.Err() != nil {
			return nil, eventstore.ErrClosed
		}
		return nil, s.check(ctx, c, fmt.Sprintf("subscribing to $all after %d", after), err)
	}
	return &subscription{s: s, ctx: ctx, inner: inner, cancel: cancel, stop: stop, last: after}, nil
}

type subscription struct {
	s      *Store
	ctx    context.Context // the caller's
	inner  *esdb.Subscription
	cancel context.CancelFunc
	stop   func() bool
	closed atomic.Bool
	last   uint64 // position of the last event delivered; only Recv's goroutine uses it
}

// Recv implements eventstore.Subscription.
func (sub *subscription) Recv() (eventstore.RecordedEvent, error) {
	for {
		if sub.closed.Load() || sub.s.closeCtx.Err() != nil {
			return eventstore.RecordedEvent{}, eventstore.ErrClosed
		}
		if err := sub.ctx.Err(); err != nil {
			return eventstore.RecordedEvent{}, err
		}
		e := sub.inner.Recv()
		switch {
		case e.SubscriptionDropped != nil:
			switch {
			case sub.closed.Load() || sub.s.closeCtx.Err() != nil:
				return eventstore.RecordedEvent{}, eventstore.ErrClosed
			case sub.ctx.Err() != nil:
				return eventstore.RecordedEvent{}, sub.ctx.Err()
			}
			err := e.SubscriptionDropped.Error
			if err == nil {
				err = errors.New("dropped by the server")
			}
			return eventstore.RecordedEvent{}, fmt.Errorf("kurrentstore: subscription after %d: %w", sub.last, sub.s.red.error(err))
		case e.EventAppeared != nil:
			ev := e.EventAppeared.Event
			if ev == nil || ev.Position.Commit <= sub.last {
				// A subscription from a position may include the
				// event at that position; never deliver one twice.
				continue
			}
			stream, ok := sub.s.names.appStream(ev.StreamID)
			if !ok {
				continue
			}
			sub.last = ev.Position.Commit
			return decodeEvent(stream, ev), nil
		}
		// Checkpoints, caught-up and fell-behind notices carry no event.
	}
}

// Close implements eventstore.Subscription.
func (sub *subscription) Close() error {
	if sub.closed.Swap(true) {
		return nil
	}
	sub.stop()
	sub.cancel()
	return sub.inner.Close()
}

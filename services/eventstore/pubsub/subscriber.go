package pubsub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/actionledger/actionledger/services/eventstore"
)

// SubscriberConfig tunes a Subscriber. The zero value is usable.
type SubscriberConfig struct {
	// StartAfter returns the consumer's own checkpoint for topic: the
	// position of the last event it has processed. Delivery starts with the
	// first matching event after it. Nil means 0: from the first event.
	StartAfter func(ctx context.Context, topic string) (uint64, error)
	// NackResendSleep is how long a nacked message waits before it is sent
	// again. Default 100ms.
	NackResendSleep time.Duration
	// ReconnectBackoff is the first wait before the subscriber reopens a
	// store subscription that failed with an error other than closing or
	// cancellation (a read error, a dropped connection to a remote store).
	// It doubles on each consecutive failure up to 30s. Default 1s.
	ReconnectBackoff time.Duration
	// EventInContext makes messages for a consumer in this process that
	// reads them with EventFromMessage and nothing else: each carries its
	// event in its context, with no envelope metadata (the map is empty).
	// A server's six read models take every event once each: formatting
	// eleven metadata values per message and parsing them back cost 4-6% of
	// a server's CPU and allocation per command (scripts/commands-load.sh at
	// 2,000 commands/s). Messages published through Publisher are handed
	// over as the raw stored event (MessageEventType).
	EventInContext bool
	// MaxBatch, with EventInContext, lets one message carry up to that many
	// events that the store's subscription has already read (it must say
	// how many: Buffered() int), for a consumer that reads them with
	// EventsFromMessage. Each read model takes every event: a Watermill
	// message, its contexts and the router's log fields were about a
	// quarter of what a server allocated a command. A batch that is nacked
	// is sent again as one message per event, each resent after its own
	// nacks as usual, so that a consumer can tell which event fails.
	// 0 or 1: one event a message.
	MaxBatch int
}

// buffered is a store subscription that can say how many events it has
// read and not yet handed out: Recv returns those without waiting.
type buffered interface{ Buffered() int }

const (
	defaultNackResendSleep  = 100 * time.Millisecond
	defaultReconnectBackoff = time.Second
	maxReconnectBackoff     = 30 * time.Second
)

// ErrSubscriberClosed is returned by Subscribe after Close.
var ErrSubscriberClosed = errors.New("pubsub: subscriber closed")

// Subscriber is a Watermill message.Subscriber over the event store's global
// log. Each Subscribe call is an independent reader: there are no consumer
// groups, every subscription gets every matching event.
type Subscriber struct {
	store  eventstore.Store
	cfg    SubscriberConfig
	logger watermill.LoggerAdapter

	// closeCtx is cancelled by Close; every subscription's context is tied
	// to it.
	closeCtx context.Context
	cancel   context.CancelFunc

	mu     sync.Mutex // guards closed and wg.Add against Close's wg.Wait
	closed bool
	wg     sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber reading store. The subscriber does not
// own the store: Close leaves it open.
func NewSubscriber(store eventstore.Store, cfg SubscriberConfig, logger watermill.LoggerAdapter) (*Subscriber, error) {
	if store == nil {
		return nil, errors.New("pubsub: nil store")
	}
	if cfg.NackResendSleep <= 0 {
		cfg.NackResendSleep = defaultNackResendSleep
	}
	if cfg.ReconnectBackoff <= 0 {
		cfg.ReconnectBackoff = defaultReconnectBackoff
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Subscriber{store: store, cfg: cfg, logger: logger, closeCtx: ctx, cancel: cancel}, nil
}

// Subscribe delivers the events of the streams that topic selects, from the
// consumer's checkpoint (SubscriberConfig.StartAfter) on, catching up and then
// following the log live. topic "" or "$all" selects every stream; any other
// topic selects the stream named topic and every stream named topic+"-...".
//
// Messages come one at a time in log order: the next is sent only after the
// previous one was acked. A nacked message is sent again, with the same UUID,
// metadata and payload, after NackResendSleep; a nacked batch (MaxBatch) is
// sent again as one message per event. Each message's context is
// derived from ctx and is cancelled once the message is acked or nacked, or
// the subscription ends. The channel is closed when ctx is done, the
// subscriber is closed, or the store is closed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic != "" && topic != allTopic {
		if err := validateTopic(topic); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrSubscriberClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()

	// The subscription ends with ctx or with Close, whichever comes first.
	subCtx, cancel := context.WithCancel(ctx)
	stopAfter := context.AfterFunc(s.closeCtx, cancel)
	release := func() {
		stopAfter()
		cancel()
		s.wg.Done()
	}

	var after uint64
	if s.cfg.StartAfter != nil {
		var err error
		if after, err = s.cfg.StartAfter(subCtx, topic); err != nil {
			release()
			return nil, fmt.Errorf("pubsub: checkpoint of topic %q: %w", topic, err)
		}
	}
	storeSub, err := s.store.Subscribe(subCtx, after)
	if err != nil {
		release()
		return nil, fmt.Errorf("pubsub: subscribe to topic %q after %d: %w", topic, after, err)
	}

	out := make(chan *message.Message)
	r := &run{
		s:      s,
		ctx:    subCtx,
		topic:  topic,
		out:    out,
		after:  after,
		logger: s.logger.With(watermill.LogFields{"topic": topic, "subscriber": "eventstore"}),
	}
	go func() {
		defer release()
		defer close(out)
		r.loop(storeSub)
	}()
	return out, nil
}

// Close ends every subscription, waits for their goroutines to finish and
// releases their store subscriptions. The store stays open. Calling it again
// does nothing.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// run is one subscription's state; only its goroutine touches it.
type run struct {
	s      *Subscriber
	ctx    context.Context
	topic  string
	out    chan *message.Message
	after  uint64 // position of the last event read from the store
	logger watermill.LoggerAdapter
	batch  []eventstore.RecordedEvent // reused by consumeBatch
}

func (r *run) matches(stream string) bool {
	if r.topic == "" || r.topic == allTopic {
		return true
	}
	return strings.HasPrefix(stream, r.topic) &&
		(len(stream) == len(r.topic) || stream[len(r.topic)] == '-')
}

// loop delivers events until the subscription ends. A store error other than
// closing or cancellation reopens the store subscription after a backoff,
// from the last event delivered, so a long-running consumer survives a
// transient failure of a remote store.
func (r *run) loop(sub eventstore.Subscription) {
	backoff := r.s.cfg.ReconnectBackoff
	for {
		from := r.after
		err := r.consume(sub)
		_ = sub.Close()
		if r.ended(err) {
			return
		}
		if r.after != from {
			// It worked for a while: a new failure starts a new backoff.
			backoff = r.s.cfg.ReconnectBackoff
		}
		r.logger.Error("Event store subscription failed; reopening", err, watermill.LogFields{
			"after": r.after, "backoff": backoff.String(),
		})
		for {
			if !r.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, maxReconnectBackoff)
			sub, err = r.s.store.Subscribe(r.ctx, r.after)
			if err == nil {
				break
			}
			if r.ended(err) {
				return
			}
			r.logger.Error("Cannot reopen event store subscription", err, watermill.LogFields{
				"after": r.after, "backoff": backoff.String(),
			})
		}
	}
}

// ended reports whether err (nil: the subscription's context is done) ends
// the subscription, logging why.
func (r *run) ended(err error) bool {
	if r.ctx.Err() != nil {
		r.logger.Debug("Subscription ended", watermill.LogFields{"after": r.after})
		return true
	}
	if errors.Is(err, eventstore.ErrClosed) {
		r.logger.Info("Event store closed; subscription ended", watermill.LogFields{"after": r.after})
		return true
	}
	return false
}

// consume reads and delivers events until the context is done (nil) or the
// store subscription fails.
func (r *run) consume(sub eventstore.Subscription) error {
	buf, _ := sub.(buffered)
	if !r.s.cfg.EventInContext || r.s.cfg.MaxBatch < 2 {
		buf = nil
	}
	for {
		ev, err := sub.Recv()
		if err != nil {
			if r.ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ev.Position <= r.after {
			// A store must not deliver a position twice; a reopened remote
			// subscription might. Never deliver out of order.
			continue
		}
		if buf != nil && buf.Buffered() > 0 && r.matches(ev.Stream) {
			err := r.consumeBatch(sub, buf, ev)
			if r.ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		if r.matches(ev.Stream) {
			// With EventInContext, deliver makes every message itself.
			var msg *message.Message
			var raw bool
			if !r.s.cfg.EventInContext {
				var err error
				msg, err = eventMessage(&ev)
				if raw = err != nil; raw {
					// A damaged envelope must not stall the consumer for
					// ever: hand over the raw event, whose event_type says
					// what it is, and let the handler (or poison queue) judge.
					r.logger.Error("Cannot decode published message; delivering the raw event", err, watermill.LogFields{
						"position": ev.Position, "stream": ev.Stream, "event_id": ev.ID.String(),
					})
					msg = domainMessage(&ev)
				}
			}
			if !r.deliver(&ev, msg, raw) {
				return nil
			}
		}
		r.after = ev.Position
	}
}

// consumeBatch delivers first and the events the store subscription holds
// after it (up to MaxBatch that match) in one message, and moves the
// checkpoint past them. An error reading them ends the batch there: what was
// read is delivered first, then the error is returned.
func (r *run) consumeBatch(sub eventstore.Subscription, buf buffered, first eventstore.RecordedEvent) error {
	evs := append(r.batch[:0], first)
	last := first.Position
	var readErr error
	for len(evs) < r.s.cfg.MaxBatch && buf.Buffered() > 0 {
		ev, err := sub.Recv()
		if err != nil {
			readErr = err
			break
		}
		if ev.Position <= last {
			continue
		}
		last = ev.Position
		if r.matches(ev.Stream) {
			evs = append(evs, ev)
		}
	}
	r.batch = evs
	ok := r.deliverBatch(evs)
	clear(evs)
	if !ok {
		return nil
	}
	r.after = last
	return readErr
}

// deliverBatch sends evs in one message and waits for its ack; after a
// nack it sends them again one message each (deliver), so that a consumer
// failing on one of them can retry and give up on that one alone. It
// returns false when the subscription ended first.
func (r *run) deliverBatch(evs []eventstore.RecordedEvent) bool {
	if len(evs) == 1 {
		return r.deliver(&evs[0], nil, false)
	}
	// The message hands out the events as read; a resend one by one is made
	// from copies kept before, as deliver keeps its own.
	in := make([]eventstore.RecordedEvent, len(evs))
	kept := make([]eventstore.RecordedEvent, len(evs))
	for i := range evs {
		in[i] = leanEvent(&evs[i])
		in[i].Data = evs[i].Data
		kept[i] = ownCopy(&evs[i])
	}
	m := message.NewMessage(evs[0].ID.String(), nil)
	mctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	m.SetContext(context.WithValue(mctx, batchKey{}, in))
	select {
	case r.out <- m:
	case <-r.ctx.Done():
		return false
	}
	select {
	case <-m.Acked():
		return true
	case <-m.Nacked():
		r.logger.Trace("Batch nacked; resending its events one by one", watermill.LogFields{"uuid": m.UUID, "events": len(kept)})
	case <-r.ctx.Done():
		return false
	}
	for i := range kept {
		if !r.deliver(&kept[i], nil, false) {
			return false
		}
	}
	return true
}

// deliver sends msg, made from ev (as the raw event when raw), and waits for
// its ack, resending it after every nack. It returns false when the
// subscription ended first. With EventInContext, msg is nil: deliver makes
// each message with the event in its context (leanMessage).
//
// Every attempt gets a message of its own: a Watermill message can be acked
// or nacked only once, and a handler may have changed the metadata or
// payload it was given. The first attempt hands out msg itself; a resend is
// made again from the event, with a copy of the payload kept from before
// the first attempt. Copying every message up front instead cost a second
// metadata map and payload per event and read model, for the rare resend.
func (r *run) deliver(ev *eventstore.RecordedEvent, msg *message.Message, raw bool) bool {
	kept := ownCopy(ev)
	for attempt := 0; ; attempt++ {
		m, src := msg, ev
		if attempt > 0 {
			again := ownCopy(&kept)
			src = &again
		}
		var inCtx *eventstore.RecordedEvent
		switch {
		case r.s.cfg.EventInContext:
			m, inCtx = leanMessage(src)
		case attempt > 0:
			var err error
			if m, err = eventMessage(src); raw || err != nil {
				m = domainMessage(src)
			}
		}
		mctx, cancel := context.WithCancel(r.ctx)
		if inCtx != nil {
			mctx = context.WithValue(mctx, eventKey{}, inCtx)
		}
		m.SetContext(mctx)
		if r.ctx.Err() != nil {
			cancel()
			return false
		}
		select {
		case r.out <- m:
		case <-r.ctx.Done():
			cancel()
			return false
		}
		select {
		case <-m.Acked():
			cancel()
			return true
		case <-m.Nacked():
			cancel()
			r.logger.Trace("Message nacked; resending", watermill.LogFields{"uuid": m.UUID})
			if !r.sleep(r.s.cfg.NackResendSleep) {
				return false
			}
		case <-r.ctx.Done():
			cancel()
			return false
		}
	}
}

// ownCopy is ev with a Data of its own, for a message that may be sent
// again after a handler changed the payload it was given.
func ownCopy(ev *eventstore.RecordedEvent) eventstore.RecordedEvent {
	c := *ev
	if ev.Data != nil {
		c.Data = bytes.Clone(ev.Data)
	}
	return c
}

// sleep waits d, returning false if the subscription ended first.
func (r *run) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.ctx.Done():
		return false
	}
}

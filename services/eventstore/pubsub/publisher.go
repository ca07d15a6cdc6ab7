package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
)

// ErrPublisherClosed is returned by Publish after Close.
var ErrPublisherClosed = errors.New("pubsub: publisher closed")

// topicIDNamespace derives the id of a message stored in a second topic; see
// Publish.
var topicIDNamespace = uuid.NewSHA1(MessageIDNamespace, []byte("topic-scoped message id"))

// Publisher is a Watermill message.Publisher that appends messages to the
// event store. The domain does not publish through it: domain events are
// appended by the application. It serves Watermill's conformance suite and
// integrations that want plain messages in the log.
type Publisher struct {
	store  eventstore.Store
	logger watermill.LoggerAdapter

	mu       sync.Mutex // guards closed and inflight.Add against Close
	closed   bool
	inflight sync.WaitGroup
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher appending to store. The publisher does not
// own the store: Close leaves it open.
func NewPublisher(store eventstore.Store, logger watermill.LoggerAdapter) (*Publisher, error) {
	if store == nil {
		return nil, errors.New("pubsub: nil store")
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &Publisher{store: store, logger: logger}, nil
}

// Publish appends msgs to the stream named topic, one event of type
// MessageEventType per message, in order, with eventstore.Any; it returns once
// they are durable. The topic must be 1–255 characters of letters, digits
// and - _ . : (not first), the alphabet of the domain's stream names. A
// subscriber gives each message back with exactly its UUID, metadata and
// payload (not its context).
//
// Event ids. A message's event id is its UUID when that is a canonical UUID
// string (as watermill.NewUUID makes), otherwise uuid.NewSHA1 of it in
// MessageIDNamespace. Watermill lets one message (one UUID) be published to
// several topics, but the store keeps an event id in one stream only, so in
// any further topic the message is stored under an id derived from (topic,
// UUID) instead.
//
// Republishing. Publishing a message again to the same topic stores nothing
// new, however many events the stream got in between and whether it is
// published alone or in a batch with new messages (which are stored): the
// store recognises a retried id, and Publish falls back to one append per
// message when a batch is only partly stored. Within one call, a message
// whose UUID occurs earlier in the same call is skipped. No duplicate
// therefore ever reaches a subscriber of that topic from publishing twice.
// The guarantee is per topic: the same message published to topics "a" and
// "b" is two events, and a subscriber of "" or of a common prefix gets both.
//
// Atomicity. When none of msgs was published before, they are appended
// atomically in one append. In the fallback they are appended one by one, and
// an error may leave a prefix stored; publishing the same call again
// completes it without duplicates.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if err := validateTopic(topic); err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPublisherClosed
	}
	p.inflight.Add(1)
	p.mu.Unlock()
	defer p.inflight.Done()

	if len(msgs) == 0 {
		return nil
	}
	events := make([]eventstore.EventData, 0, len(msgs))
	uuids := make([]string, 0, len(msgs))
	seen := make(map[uuid.UUID]struct{}, len(msgs))
	for _, msg := range msgs {
		if msg == nil {
			return errors.New("pubsub: nil message")
		}
		id := messageEventID(msg.UUID)
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		events = append(events, eventstore.EventData{ID: id, Type: MessageEventType, Data: encodeEnvelope(msg)})
		uuids = append(uuids, msg.UUID)
	}

	ctx := context.Background()
	res, err := p.store.Append(ctx, topic, eventstore.Any, events...)
	if err == nil {
		p.logger.Trace("Published messages", watermill.LogFields{
			"topic": topic, "count": len(events), "first_position": res.FirstPosition, "duplicate": res.Duplicate,
		})
		return nil
	}
	if !errors.Is(err, eventstore.ErrDuplicateEventID) {
		return fmt.Errorf("pubsub: publish %d messages to %q: %w", len(events), topic, err)
	}
	// Some of the messages are stored already, here or in another topic:
	// one append per message sorts each out on its own.
	for i := range events {
		if err := p.publishOne(ctx, topic, events[i], uuids[i]); err != nil {
			return err
		}
	}
	return nil
}

// publishOne appends a single message event. A single event whose id the
// store reports as stored elsewhere is stored in another stream: the message
// is then given its topic-scoped id, which is stored at most once in topic.
func (p *Publisher) publishOne(ctx context.Context, topic string, ev eventstore.EventData, msgUUID string) error {
	_, err := p.store.Append(ctx, topic, eventstore.Any, ev)
	if errors.Is(err, eventstore.ErrDuplicateEventID) {
		ev.ID = topicEventID(topic, msgUUID)
		_, err = p.store.Append(ctx, topic, eventstore.Any, ev)
	}
	if err != nil {
		return fmt.Errorf("pubsub: publish message %s to %q: %w", msgUUID, topic, err)
	}
	return nil
}

// Close refuses further publishing and waits for the Publish calls in flight.
// The store stays open. Calling it again does nothing.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.inflight.Wait()
	return nil
}

// messageEventID is the event id of a message UUID: the UUID itself when it
// is in canonical form (so that distinct strings never share an id), else a
// name-based UUID of it.
func messageEventID(msgUUID string) uuid.UUID {
	if id, err := uuid.Parse(msgUUID); err == nil && id != uuid.Nil && id.String() == msgUUID {
		return id
	}
	return uuid.NewSHA1(MessageIDNamespace, []byte(msgUUID))
}

// topicEventID is the id of a message in a topic other than the one its
// plain id is stored in. Topics hold no NUL, so the name is unambiguous.
func topicEventID(topic, msgUUID string) uuid.UUID {
	name := make([]byte, 0, len(topic)+1+len(msgUUID))
	name = append(append(append(name, topic...), 0), msgUUID...)
	return uuid.NewSHA1(topicIDNamespace, name)
}

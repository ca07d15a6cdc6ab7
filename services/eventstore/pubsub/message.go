// Package pubsub exposes the event store's global log as a Watermill
// message.Subscriber, and appends Watermill messages to it with a
// message.Publisher.
//
// The Subscriber is how the read side consumes the log: a Watermill router
// (with its retry, poison-queue and recoverer middleware) runs the
// projections' handlers on it. It delivers one message at a time, in log
// order, and moves on only after the handler acknowledged it, so a projection
// sees exactly the order of the log. A topic is a stream-name prefix: "" or
// "$all" is every stream, "actionpoint" is "actionpoint" and every
// "actionpoint-<id>".
//
// A domain event becomes a message whose UUID is the event id, whose payload
// is the event's data exactly as stored (the domain's binary encoding; this
// package never decodes it) and whose metadata carry the envelope (see the
// Meta* keys). EventFromMessage turns such a message back into a
// RecordedEvent. A subscriber with EventInContext (the read models', in the
// same process) skips the metadata: each message carries its event in its
// context, and EventFromMessage gives that back; with MaxBatch too, a message
// may carry several events read together (EventsFromMessage), and a nacked
// one comes back as one message per event.
//
// The Publisher exists so that Watermill's universal Pub/Sub suite can run
// against the subscriber, and for integrations that want to put plain
// Watermill messages on the log: each message becomes one event of type
// MessageEventType in the stream named by the topic, and the subscriber gives
// it back with exactly the published UUID, metadata and payload.
package pubsub

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"

	"github.com/actionledger/actionledger/domain/wire"
	"github.com/actionledger/actionledger/services/eventstore"
)

// Metadata keys of a message made from a domain event. Every key is set on
// every such message; a field the event does not have is the empty string.
const (
	MetaEventType      = "event_type"
	MetaStream         = "stream"
	MetaRevision       = "revision" // decimal
	MetaPosition       = "position" // decimal; the consumer's checkpoint
	MetaOccurredAt     = "occurred_at"
	MetaRecordedAt     = "recorded_at"
	MetaActorID        = "actor_id"
	MetaActorRole      = "actor_role"
	MetaCorrelationID  = middleware.CorrelationIDMetadataKey // "correlation_id"
	MetaCausationID    = "causation_id"
	MetaIdempotencyKey = "idempotency_key"
)

// TimeFormat is the layout of MetaOccurredAt and MetaRecordedAt (in UTC).
const TimeFormat = time.RFC3339Nano

// MessageEventType is the event type under which the Publisher stores a
// Watermill message.
const MessageEventType = "WatermillMessage.v1"

// MessageIDNamespace is the UUID namespace of the event ids the Publisher
// derives (with uuid.NewSHA1) from message UUIDs that are not canonical UUIDs,
// and from (topic, message UUID) pairs; see Publisher.Publish.
var MessageIDNamespace = uuid.MustParse("6f1f6c8e-4d0b-5b7a-9c2e-8a3d5e7b1f40")

// ErrNotEvent is returned by EventFromMessage for a message that does not
// carry an event envelope (for example one that was published as a plain
// Watermill message).
var ErrNotEvent = errors.New("pubsub: message carries no event envelope")

// envelopeVersion is the first value of a MessageEventType event's data.
const envelopeVersion = 1

// encodeEnvelope is the data of a MessageEventType event: version, the
// message UUID, the metadata as key/value pairs sorted by key (so that the
// same message always encodes to the same bytes), and the payload.
func encodeEnvelope(msg *message.Message) []byte {
	keys := make([]string, 0, len(msg.Metadata))
	size := 16 + len(msg.UUID) + len(msg.Payload)
	for k, v := range msg.Metadata {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	slices.Sort(keys)
	e := wire.NewEncoder(make([]byte, 0, size))
	e.Uvarint(envelopeVersion)
	e.String(msg.UUID)
	e.Uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.String(k)
		e.String(msg.Metadata[k])
	}
	e.Blob(msg.Payload)
	return e.Bytes()
}

// decodeEnvelope restores the message that encodeEnvelope encoded.
func decodeEnvelope(data []byte) (*message.Message, error) {
	d := wire.NewDecoder(data)
	if v := d.Uvarint(); d.Err() == nil && v != envelopeVersion {
		return nil, fmt.Errorf("pubsub: message envelope version %d not supported", v)
	}
	id := d.String()
	// Each pair takes at least two bytes, so Count's bound is generous but
	// still stops a hostile count from allocating.
	n := d.Count()
	var md message.Metadata
	if n > 0 {
		md = make(message.Metadata, n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		k := d.String()
		md[k] = d.String()
	}
	payload := d.Blob()
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("pubsub: message envelope: %w", err)
	}
	if len(payload) == 0 {
		payload = nil
	}
	msg := message.NewMessage(id, payload)
	if md != nil {
		msg.Metadata = md
	}
	return msg, nil
}

// eventMessage makes the message the subscriber delivers for ev. A
// MessageEventType event gives back the published message; any other event
// gives a message carrying the event's data and envelope.
func eventMessage(ev *eventstore.RecordedEvent) (*message.Message, error) {
	if ev.Type == MessageEventType {
		return decodeEnvelope(ev.Data)
	}
	return domainMessage(ev), nil
}

func domainMessage(ev *eventstore.RecordedEvent) *message.Message {
	msg := message.NewMessage(ev.ID.String(), ev.Data)
	msg.Metadata = message.Metadata{
		MetaEventType:      ev.Type,
		MetaStream:         ev.Stream,
		MetaRevision:       strconv.FormatUint(ev.Revision, 10),
		MetaPosition:       strconv.FormatUint(ev.Position, 10),
		MetaOccurredAt:     formatTime(ev.Meta.OccurredAt),
		MetaRecordedAt:     formatTime(ev.RecordedAt),
		MetaActorID:        ev.Meta.ActorID,
		MetaActorRole:      ev.Meta.ActorRole,
		MetaCorrelationID:  ev.Meta.CorrelationID,
		MetaCausationID:    ev.Meta.CausationID,
		MetaIdempotencyKey: ev.Meta.IdempotencyKey,
	}
	return msg
}

// eventKey is the context key of an EventInContext message's event.
type eventKey struct{}

// leanMessage is ev as an EventInContext message, and the event its context
// is to carry: the one EventFromMessage would read back from a metadata
// message (times in UTC, no RequestHash or hash chain). Its Data is left
// out: EventFromMessage gives the message's payload.
func leanMessage(ev *eventstore.RecordedEvent) (*message.Message, *eventstore.RecordedEvent) {
	msg := message.NewMessage(ev.ID.String(), ev.Data)
	in := new(eventstore.RecordedEvent)
	*in = leanEvent(ev)
	return msg, in
}

// leanEvent is ev as EventFromMessage would read it back from a metadata
// message, without its Data.
func leanEvent(ev *eventstore.RecordedEvent) eventstore.RecordedEvent {
	in := eventstore.RecordedEvent{
		EventData: eventstore.EventData{ID: ev.ID, Type: ev.Type, Meta: ev.Meta},
		Stream:    ev.Stream, Revision: ev.Revision, Position: ev.Position, RecordedAt: inUTC(ev.RecordedAt),
	}
	in.Meta.OccurredAt = inUTC(ev.Meta.OccurredAt)
	in.Meta.RequestHash = nil
	return in
}

// batchKey is the context key of a batch message's events.
type batchKey struct{}

// EventsFromMessage returns the events of a message that carries several
// (SubscriberConfig.MaxBatch), each as EventFromMessage gives one, in log
// order; ok is false for any other message. The slice and the events' Data
// belong to the message: a consumer reads them and keeps nothing of them.
func EventsFromMessage(msg *message.Message) (evs []eventstore.RecordedEvent, ok bool) {
	evs, ok = msg.Context().Value(batchKey{}).([]eventstore.RecordedEvent)
	return evs, ok
}

// ErrBatch is what EventFromMessage returns for a message that carries
// several events (EventsFromMessage reads them).
var ErrBatch = errors.New("pubsub: the message carries several events; read them with EventsFromMessage")

// inUTC is t in UTC as a metadata round trip gives it back: zero stays zero.
func inUTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

func parseTime(key, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(TimeFormat, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("pubsub: metadata %s: %w", key, err)
	}
	return t.UTC(), nil
}

// EventFromMessage restores the event a subscriber's message was made from:
// id, type, stream, revision, position, both times, the writer's metadata
// (except RequestHash, which messages do not carry) and Data, which shares
// msg.Payload's memory. The hash-chain fields stay zero.
//
// A message without an event_type (one published as a plain Watermill
// message, or a foreign one) fails with ErrNotEvent; a message whose envelope
// is present but malformed fails with a descriptive error. A message from
// a subscriber with EventInContext gives back the event its context
// carries, its Data msg.Payload.
func EventFromMessage(msg *message.Message) (eventstore.RecordedEvent, error) {
	if in, ok := msg.Context().Value(eventKey{}).(*eventstore.RecordedEvent); ok {
		ev := *in
		ev.Data = msg.Payload
		return ev, nil
	}
	if _, ok := EventsFromMessage(msg); ok {
		return eventstore.RecordedEvent{}, ErrBatch
	}
	var ev eventstore.RecordedEvent
	md := msg.Metadata
	ev.Type = md.Get(MetaEventType)
	if ev.Type == "" {
		return ev, ErrNotEvent
	}
	id, err := uuid.Parse(msg.UUID)
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("pubsub: message UUID %q is not an event id: %w", msg.UUID, err)
	}
	ev.ID = id
	ev.Stream = md.Get(MetaStream)
	if ev.Stream == "" {
		return eventstore.RecordedEvent{}, fmt.Errorf("pubsub: message %s has no %s metadata", msg.UUID, MetaStream)
	}
	if ev.Revision, err = parseUint(md, MetaRevision); err != nil {
		return eventstore.RecordedEvent{}, err
	}
	if ev.Position, err = parseUint(md, MetaPosition); err != nil {
		return eventstore.RecordedEvent{}, err
	}
	if ev.Meta.OccurredAt, err = parseTime(MetaOccurredAt, md.Get(MetaOccurredAt)); err != nil {
		return eventstore.RecordedEvent{}, err
	}
	if ev.RecordedAt, err = parseTime(MetaRecordedAt, md.Get(MetaRecordedAt)); err != nil {
		return eventstore.RecordedEvent{}, err
	}
	ev.Meta.ActorID = md.Get(MetaActorID)
	ev.Meta.ActorRole = md.Get(MetaActorRole)
	ev.Meta.CorrelationID = md.Get(MetaCorrelationID)
	ev.Meta.CausationID = md.Get(MetaCausationID)
	ev.Meta.IdempotencyKey = md.Get(MetaIdempotencyKey)
	ev.Data = msg.Payload
	return ev, nil
}

func parseUint(md message.Metadata, key string) (uint64, error) {
	v, err := strconv.ParseUint(md.Get(key), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("pubsub: metadata %s: %w", key, err)
	}
	return v, nil
}

// maxTopicLen bounds a topic: it becomes a stream name, and stream names end
// up in keys, URLs and log lines.
const maxTopicLen = 255

// allTopic and "" subscribe to every stream.
const allTopic = "$all"

// validateTopic accepts the names the domain uses for streams: letters and
// digits, then also - _ . : (domain.ValidateID's alphabet). Such a name needs
// no escaping in a URL (/v1/streams/{stream}/events), cannot be mistaken for
// "$all" or a KurrentDB system stream ("$..."), and is the same in every
// adapter.
func validateTopic(topic string) error {
	if topic == "" {
		return errors.New("pubsub: empty topic")
	}
	if len(topic) > maxTopicLen {
		return fmt.Errorf("pubsub: topic of %d bytes is longer than %d", len(topic), maxTopicLen)
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '-' || c == '_' || c == '.' || c == ':')
		if !ok {
			return fmt.Errorf("pubsub: topic %q: only letters, digits and - _ . : (not first) may be used in a stream name", topic)
		}
	}
	return nil
}

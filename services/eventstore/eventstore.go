// Package eventstore declares the event store port that the application and
// the projections depend on, and the types that cross it.
//
// The port is shaped after KurrentDB (EventStoreDB) so that the production
// store and the embedded one are interchangeable: streams with optimistic
// concurrency on an expected revision, a global log with a position, and
// catch-up subscriptions. Two deliberate differences from KurrentDB's wire
// numbering keep the API simple: a stream's first event has revision 1 (so a
// stream's revision is also its length and "no stream" is revision 0), and a
// global position is any strictly increasing number (contiguous in the
// embedded store, the commit position in KurrentDB).
//
// Adapters live in sub-packages; storetest holds the conformance suite every
// adapter must pass.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Store is the event store port.
type Store interface {
	// Append writes events to the end of stream atomically if the stream's
	// current revision satisfies expected, and returns where they landed.
	// Once Append returns nil the events are durable.
	//
	// Appending events whose ids are already stored at consecutive revisions of
	// that stream, starting right after expected (or anywhere, for Any), is a
	// retry: it writes nothing and returns the original result with Duplicate
	// set. An id stored anywhere else fails with ErrDuplicateEventID.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)

	// ReadStream returns up to limit events of stream with revision > after, in
	// revision order. A stream that does not exist reads as empty.
	ReadStream(ctx context.Context, stream string, after uint64, limit int) ([]RecordedEvent, error)

	// ReadAll returns up to limit events of the global log with position >
	// after, in position order.
	ReadAll(ctx context.Context, after uint64, limit int) ([]RecordedEvent, error)

	// Subscribe delivers every event with position > after, in order: first
	// those already stored (catch-up), then new ones as they are committed
	// (live), until ctx is done or the subscription is closed.
	Subscribe(ctx context.Context, after uint64) (Subscription, error)

	// Head returns the position of the last committed event (0 when empty).
	Head(ctx context.Context) (uint64, error)

	// Close releases the store. Appends in flight either complete or fail.
	Close() error
}

// EventLocator is implemented by stores that can find an event by its id
// anywhere in the log. The write path uses it to recognise a repeated
// idempotency key before anything else; stores without it fall back to
// finding the key's events in the target stream.
type EventLocator interface {
	LocateEvent(ctx context.Context, id uuid.UUID) (RecordedEvent, bool, error)
}

// Subscription is a catch-up-then-live stream of the global log.
type Subscription interface {
	// Recv blocks until the next event, or returns an error when the
	// subscription's context is done (ctx.Err()), it was closed (ErrClosed),
	// or the store failed.
	Recv() (RecordedEvent, error)
	// Close ends the subscription; a blocked Recv returns ErrClosed.
	Close() error
}

// EventData is an event to append.
type EventData struct {
	// ID identifies the event; derive it from the request's idempotency key so
	// that a retried request appends the very same ids.
	ID   uuid.UUID
	Type string
	Data []byte
	Meta Metadata
}

// Metadata is the part of the envelope chosen by the writer.
type Metadata struct {
	// OccurredAt is field time: when it happened, per the client.
	OccurredAt     time.Time
	ActorID        string
	ActorRole      string
	CorrelationID  string
	CausationID    string
	IdempotencyKey string
	// RequestHash fingerprints the request that produced the event, so that a
	// replay of the same idempotency key with a different body is detected.
	RequestHash []byte
}

// RecordedEvent is a stored event with its full envelope.
type RecordedEvent struct {
	EventData
	Stream   string
	Revision uint64
	Position uint64
	// RecordedAt is server time at commit; it never decreases along the log.
	RecordedAt time.Time
	// PrevHash and Hash chain the event to its predecessor in the global log
	// (see Canonical). Adapters that cannot chain leave them zero.
	PrevHash [32]byte
	Hash     [32]byte
}

// AppendResult says where an append landed.
type AppendResult struct {
	FirstRevision uint64
	LastRevision  uint64
	FirstPosition uint64
	LastPosition  uint64
	// Duplicate is true when the append was a retry of events already stored.
	Duplicate bool
}

// ExpectedRevision is the optimistic-concurrency condition of an append.
type ExpectedRevision struct {
	kind expectKind
	rev  uint64
}

type expectKind uint8

const (
	expectExact expectKind = iota
	expectAny
	expectExists
)

var (
	// Any appends whatever the stream's revision.
	Any = ExpectedRevision{kind: expectAny}
	// NoStream appends only to a stream that has no events yet.
	NoStream = ExpectedRevision{kind: expectExact}
	// StreamExists appends only to a stream with at least one event.
	StreamExists = ExpectedRevision{kind: expectExists}
)

// Exact appends only when the stream's last revision is rev (0: no stream).
func Exact(rev uint64) ExpectedRevision { return ExpectedRevision{kind: expectExact, rev: rev} }

// IsAny reports whether e is Any.
func (e ExpectedRevision) IsAny() bool { return e.kind == expectAny }

// IsStreamExists reports whether e is StreamExists.
func (e ExpectedRevision) IsStreamExists() bool { return e.kind == expectExists }

// ExactRevision returns the revision e demands and whether it demands one.
func (e ExpectedRevision) ExactRevision() (uint64, bool) { return e.rev, e.kind == expectExact }

// Allows reports whether a stream at revision current satisfies e.
func (e ExpectedRevision) Allows(current uint64) bool {
	switch e.kind {
	case expectAny:
		return true
	case expectExists:
		return current > 0
	default:
		return current == e.rev
	}
}

func (e ExpectedRevision) String() string {
	switch e.kind {
	case expectAny:
		return "any"
	case expectExists:
		return "stream-exists"
	default:
		if e.rev == 0 {
			return "no-stream"
		}
		return fmt.Sprintf("%d", e.rev)
	}
}

// Errors every adapter reports the same way; test them with errors.Is.
var (
	// ErrWrongRevision: the stream was not at the expected revision. The
	// concrete error is a *WrongRevisionError.
	ErrWrongRevision = errors.New("eventstore: wrong expected revision")
	// ErrDuplicateEventID: an event id is already stored somewhere that makes
	// the append not a plain retry.
	ErrDuplicateEventID = errors.New("eventstore: event id already stored elsewhere")
	// ErrClosed: the store or subscription was closed.
	ErrClosed = errors.New("eventstore: closed")
	// ErrInvalid: the append itself is malformed (no events, empty stream or
	// type name, zero event id).
	ErrInvalid = errors.New("eventstore: invalid append")
	// ErrFailed: the store met an error it cannot safely continue after
	// (a failed commit) and refuses further appends until it is reopened.
	ErrFailed = errors.New("eventstore: store failed; restart it")
)

// WrongRevisionError details an ErrWrongRevision.
type WrongRevisionError struct {
	Stream   string
	Expected ExpectedRevision
	Actual   uint64
}

func (e *WrongRevisionError) Error() string {
	return fmt.Sprintf("eventstore: stream %q is at revision %d, expected %s", e.Stream, e.Actual, e.Expected)
}

// Is makes errors.Is(err, ErrWrongRevision) true.
func (e *WrongRevisionError) Is(target error) bool { return target == ErrWrongRevision }

// ValidateAppend checks the parts of an append every adapter refuses alike.
func ValidateAppend(stream string, events []EventData) error {
	if stream == "" {
		return fmt.Errorf("%w: empty stream name", ErrInvalid)
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: no events", ErrInvalid)
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i, ev := range events {
		if ev.ID == uuid.Nil {
			return fmt.Errorf("%w: event %d has no id", ErrInvalid, i)
		}
		if ev.Type == "" {
			return fmt.Errorf("%w: event %d has no type", ErrInvalid, i)
		}
		if _, dup := seen[ev.ID]; dup {
			return fmt.Errorf("%w: event id %s twice in one append", ErrInvalid, ev.ID)
		}
		seen[ev.ID] = struct{}{}
	}
	return nil
}

package domain

import (
	"errors"
	"fmt"
	"sort"

	"github.com/actionledger/actionledger/domain/wire"
)

// Event is a fact recorded on an aggregate's stream. The unexported methods
// keep the set closed: only this package defines events, so the registry
// below is complete by construction.
type Event interface {
	// EventType is the stored, versioned name, e.g. "ActionPointRaised.v1".
	EventType() string
	encode(*wire.Encoder)
	decode(*wire.Decoder)
}

// ErrUnknownEventType is returned by Unmarshal for a type it does not know —
// typically a log written by a newer version.
var ErrUnknownEventType = errors.New("domain: unknown event type")

// registry maps each stored type name to a constructor of an empty event.
// Changing an event's fields means a new version with its own entry; old
// versions stay decodable forever because the log is never rewritten.
var registry = map[string]func() Event{}

func register(newEvent func() Event) {
	name := newEvent().EventType()
	if _, dup := registry[name]; dup {
		panic("domain: event type registered twice: " + name)
	}
	registry[name] = newEvent
}

func init() {
	for _, f := range []func() Event{
		func() Event { return new(CommunityRegistered) },
		func() Event { return new(CommunityTriggered) },
		func() Event { return new(VisitRecorded) },
		func() Event { return new(ActionPointRaised) },
		func() Event { return new(ActionPointStarted) },
		func() Event { return new(ActionPointProgressNoted) },
		func() Event { return new(ActionPointAchieved) },
		func() Event { return new(ActionPointDropped) },
		func() Event { return new(ActionPointReopened) },
		func() Event { return new(ReferralRaised) },
		func() Event { return new(ReferralAcknowledged) },
		func() Event { return new(ReferralCompleted) },
		func() Event { return new(ReferralClosed) },
		func() Event { return new(ReferralCancelled) },
		func() Event { return new(FeedbackReceived) },
		func() Event { return new(FeedbackReferred) },
		func() Event { return new(FeedbackAnswered) },
		func() Event { return new(FeedbackLoopClosed) },
		func() Event { return new(UserCreated) },
		func() Event { return new(UserDeactivated) },
		func() Event { return new(UserTokenIssued) },
		func() Event { return new(ExportRecorded) },
	} {
		register(f)
	}
}

// EventTypes lists every registered type name, sorted.
func EventTypes() []string {
	out := make([]string, 0, len(registry))
	for name := range registry {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Marshal returns e's type name and binary encoding.
func Marshal(e Event) (string, []byte) {
	enc := wire.NewEncoder(make([]byte, 0, 128))
	e.encode(enc)
	return e.EventType(), enc.Bytes()
}

// Unmarshal decodes a stored event of the named type. Unknown types and
// malformed bytes are errors, never panics.
func Unmarshal(eventType string, data []byte) (Event, error) {
	newEvent, ok := registry[eventType]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, eventType)
	}
	e := newEvent()
	d := wire.NewDecoder(data)
	e.decode(d)
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("domain: decoding %s: %w", eventType, err)
	}
	return e, nil
}

// root is embedded by every aggregate: the revision it was loaded at and the
// events recorded since.
type root struct {
	revision uint64
	changes  []Event
}

// Revision is the stream revision the aggregate was loaded at (0: new).
func (r *root) Revision() uint64 { return r.revision }

// Changes returns the events recorded since loading, to be appended.
func (r *root) Changes() []Event { return r.changes }

// Stored marks the recorded changes as appended to the stream, so that the
// aggregate stands where one loaded from the longer stream would and can
// serve the next command as it is (the write path keeps aggregates between
// commands rather than fold their streams again). Call it only after the
// append of Changes succeeded.
func (r *root) Stored() {
	r.revision += uint64(len(r.changes))
	r.changes = nil
}

// load replays history through apply; it refuses events that do not belong.
func load(r *root, history []Event, apply func(Event) bool) error {
	for _, e := range history {
		if !apply(e) {
			return fmt.Errorf("domain: event %s does not belong to this stream", e.EventType())
		}
		r.revision++
	}
	return nil
}

// record applies a new event and keeps it for appending.
func record(r *root, e Event, apply func(Event) bool) {
	if !apply(e) {
		// Only this package records events, so this is a programming error.
		panic("domain: recorded an event the aggregate cannot apply: " + e.EventType())
	}
	r.changes = append(r.changes, e)
}

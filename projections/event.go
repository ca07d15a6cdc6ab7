package projections

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
)

// Event is a decoded event with the parts of its envelope read models use.
type Event struct {
	Position   uint64
	Stream     string
	Revision   uint64
	OccurredAt time.Time
	RecordedAt time.Time
	// ActorID is who wrote the event (users' last writes; the work lists
	// show who raised what).
	ActorID string
	Data    domain.Event
}

// errSkip marks an event no read model is concerned with.
var errSkip = errors.New("projections: not a domain event")

// Decode turns a stored event into an Event. Messages published into the
// log through Watermill (pubsub.Publisher) are skipped (errSkip); any other type the domain does not know is
// an error, so that it ends in the poison queue, visible, instead of being
// silently ignored.
func Decode(rec *eventstore.RecordedEvent) (Event, error) {
	if rec.Type == pubsub.MessageEventType {
		return Event{}, errSkip
	}
	data, err := domain.Unmarshal(rec.Type, rec.Data)
	if err != nil {
		return Event{}, fmt.Errorf("event at position %d: %w", rec.Position, err)
	}
	return Event{
		Position: rec.Position, Stream: rec.Stream, Revision: rec.Revision,
		OccurredAt: rec.Meta.OccurredAt, RecordedAt: rec.RecordedAt, ActorID: rec.Meta.ActorID, Data: data,
	}, nil
}

// decodeSlots is how many recent events a decodeCache holds: the models'
// handlers run close behind one another, well within a few hundred events.
const decodeSlots = 1024

// decodeCache decodes each event once for all the read models. Every model
// has its own subscription and sees every event; decoding it once per model
// made the read side decode each command's events six times. A decoded
// event is shared as a rebuild's replay shares it: models only read it.
// A position names one event for good (the log is append-only), so a slot
// holding that position holds that event.
type decodeCache struct {
	mu    sync.Mutex
	slots [decodeSlots]decodedSlot
}

type decodedSlot struct {
	pos uint64
	ev  *Event
	err error
}

// decode returns Decode(rec), decoding it only if no other model did. The
// models get the one decoded event, not a copy each: a copy handed to a
// model's Apply escapes to the heap, six allocations an event where one
// does.
func (c *decodeCache) decode(rec *eventstore.RecordedEvent) (*Event, error) {
	slot := &c.slots[rec.Position%decodeSlots]
	c.mu.Lock()
	if slot.pos == rec.Position && rec.Position != 0 {
		ev, err := slot.ev, slot.err
		c.mu.Unlock()
		return ev, err
	}
	c.mu.Unlock()
	ev := new(Event)
	var err error
	*ev, err = Decode(rec)
	c.mu.Lock()
	*slot = decodedSlot{pos: rec.Position, ev: ev, err: err}
	c.mu.Unlock()
	return ev, err
}

// Model is one read model.
type Model interface {
	// Apply folds one event in. Events arrive in log order; a model must
	// accept every event the domain wrote (it records, it does not judge).
	Apply(ev *Event) error
	// MarshalBinary and UnmarshalBinary snapshot the state; the engine keeps
	// the checkpoint next to it.
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

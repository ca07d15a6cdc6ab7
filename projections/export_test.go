package projections

import "github.com/actionledger/actionledger/services/eventstore"

// Deliver hands one stored event to the named model as the Watermill handler
// does, so tests can redeliver an event.
func (e *Engine) Deliver(name string, rec *eventstore.RecordedEvent) error {
	return e.apply(e.byName[name], rec)
}

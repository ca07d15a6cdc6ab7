package projections

import (
	"bytes"
	"encoding/gob"
	"time"
)

// NameActivity is the read model of when each user last wrote.
const NameActivity = "activity"

// Activity remembers, per actor, the recorded_at of the last event they
// wrote: the users list's "last seen", which tells a coordinator which
// phones have gone quiet. It is a map of a few thousand users, whatever the
// size of the log.
type Activity struct {
	last map[string]time.Time
}

// NewActivity returns an empty Activity.
func NewActivity() *Activity { return &Activity{last: map[string]time.Time{}} }

// Apply implements Model.
func (m *Activity) Apply(ev *Event) error {
	if ev.ActorID != "" && ev.RecordedAt.After(m.last[ev.ActorID]) {
		m.last[ev.ActorID] = ev.RecordedAt
	}
	return nil
}

// MarshalBinary implements Model.
func (m *Activity) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(m.last)
	return b.Bytes(), err
}

// UnmarshalBinary implements Model.
func (m *Activity) UnmarshalBinary(data []byte) error {
	last := map[string]time.Time{}
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&last); err != nil {
		return err
	}
	m.last = last
	return nil
}

// LastSeen returns when each of ids last wrote an event, for those who
// ever did.
func (e *Engine) LastSeen(ids []string) map[string]time.Time {
	out := make(map[string]time.Time, len(ids))
	if e.byName[NameActivity] == nil {
		return out
	}
	e.read(NameActivity, func(m Model) {
		a := m.(*Activity)
		for _, id := range ids {
			if t, ok := a.last[id]; ok {
				out[id] = t
			}
		}
	})
	return out
}

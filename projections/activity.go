package projections

import (
	"bytes"
	"encoding/gob"
	"time"
)

// NameActivity is the read model of when each user last wrote, and how much.
const NameActivity = "activity"

// Activity remembers, per actor, the recorded_at of the last event they
// wrote — the users list's "last seen", which tells a coordinator which
// phones have gone quiet — and how many events they wrote in each ISO week
// (by recorded_at, UTC): the mobilizers page's "items this week". It is a
// few thousand users by the weeks of a response, whatever the size of the
// log.
type Activity struct {
	last  map[string]time.Time
	weeks map[string]map[int32]int
}

// activityState is Activity's snapshot.
type activityState struct {
	Last  map[string]time.Time
	Weeks map[string]map[int32]int
}

// NewActivity returns an empty Activity.
func NewActivity() *Activity {
	return &Activity{last: map[string]time.Time{}, weeks: map[string]map[int32]int{}}
}

// isoWeek keys a week as year*100+week of the ISO calendar, in UTC.
func isoWeek(t time.Time) int32 {
	y, w := t.UTC().ISOWeek()
	return int32(y*100 + w)
}

// Apply implements Model.
func (m *Activity) Apply(ev *Event) error {
	if ev.ActorID == "" {
		return nil
	}
	if ev.RecordedAt.After(m.last[ev.ActorID]) {
		m.last[ev.ActorID] = ev.RecordedAt
	}
	w := m.weeks[ev.ActorID]
	if w == nil {
		w = map[int32]int{}
		m.weeks[ev.ActorID] = w
	}
	w[isoWeek(ev.RecordedAt)]++
	return nil
}

// InWeek is how many events id wrote in the ISO week (UTC) that holds at.
func (m *Activity) InWeek(id string, at time.Time) int { return m.weeks[id][isoWeek(at)] }

// MarshalBinary implements Model.
func (m *Activity) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(activityState{Last: m.last, Weeks: m.weeks})
	return b.Bytes(), err
}

// UnmarshalBinary implements Model.
func (m *Activity) UnmarshalBinary(data []byte) error {
	var st activityState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return err
	}
	m.last, m.weeks = st.Last, st.Weeks
	if m.last == nil {
		m.last = map[string]time.Time{}
	}
	if m.weeks == nil {
		m.weeks = map[string]map[int32]int{}
	}
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

// EventsInWeek returns how many events each of ids wrote in the ISO week
// (UTC) that holds at, for those who wrote any.
func (e *Engine) EventsInWeek(ids []string, at time.Time) map[string]int {
	out := make(map[string]int, len(ids))
	if e.byName[NameActivity] == nil {
		return out
	}
	e.read(NameActivity, func(m Model) {
		a := m.(*Activity)
		for _, id := range ids {
			if n := a.InWeek(id, at); n > 0 {
				out[id] = n
			}
		}
	})
	return out
}

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
	actors map[string]*actorActivity
	// week is the ISO week last worked out, for the events that follow:
	// recorded_at only moves forward, so nearly every event is in it.
	week weekSpan
}

// actorActivity is one actor's: one lookup an event, where a map for each
// figure took three.
type actorActivity struct {
	last  time.Time
	weeks map[int32]int
}

// weekSpan is an ISO week (UTC) and the instants it covers, [from, to).
type weekSpan struct {
	key      int32
	from, to int64 // unix nanoseconds
}

// activityState is Activity's snapshot.
type activityState struct {
	Last  map[string]time.Time
	Weeks map[string]map[int32]int
}

// NewActivity returns an empty Activity.
func NewActivity() *Activity {
	return &Activity{actors: map[string]*actorActivity{}}
}

// isoWeek keys a week as year*100+week of the ISO calendar, in UTC.
func isoWeek(t time.Time) int32 {
	y, w := t.UTC().ISOWeek()
	return int32(y*100 + w)
}

// weekOf is isoWeek(t), remembering the week's span for the next call.
func (m *Activity) weekOf(t time.Time) int32 {
	ns := t.UnixNano()
	if m.week.to != 0 && ns >= m.week.from && ns < m.week.to {
		return m.week.key
	}
	// An ISO week starts on Monday, 00:00 UTC.
	u := t.UTC()
	day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	m.week = weekSpan{key: isoWeek(u), from: monday.UnixNano(), to: monday.AddDate(0, 0, 7).UnixNano()}
	return m.week.key
}

// Apply implements Model.
func (m *Activity) Apply(ev *Event) error {
	if ev.ActorID == "" {
		return nil
	}
	a := m.actors[ev.ActorID]
	if a == nil {
		a = &actorActivity{weeks: map[int32]int{}}
		m.actors[ev.ActorID] = a
	}
	if ev.RecordedAt.After(a.last) {
		a.last = ev.RecordedAt
	}
	a.weeks[m.weekOf(ev.RecordedAt)]++
	return nil
}

// InWeek is how many events id wrote in the ISO week (UTC) that holds at.
func (m *Activity) InWeek(id string, at time.Time) int {
	if a := m.actors[id]; a != nil {
		return a.weeks[isoWeek(at)]
	}
	return 0
}

// MarshalBinary implements Model. The snapshot keeps its layout of two
// maps by actor.
func (m *Activity) MarshalBinary() ([]byte, error) {
	st := activityState{Last: make(map[string]time.Time, len(m.actors)), Weeks: make(map[string]map[int32]int, len(m.actors))}
	for id, a := range m.actors {
		if !a.last.IsZero() {
			st.Last[id] = a.last
		}
		st.Weeks[id] = a.weeks
	}
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(st)
	return b.Bytes(), err
}

// UnmarshalBinary implements Model.
func (m *Activity) UnmarshalBinary(data []byte) error {
	var st activityState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return err
	}
	m.actors = make(map[string]*actorActivity, len(st.Weeks))
	m.week = weekSpan{}
	for id, w := range st.Weeks {
		if w == nil {
			w = map[int32]int{}
		}
		m.actors[id] = &actorActivity{weeks: w}
	}
	for id, t := range st.Last {
		a := m.actors[id]
		if a == nil {
			a = &actorActivity{weeks: map[int32]int{}}
			m.actors[id] = a
		}
		a.last = t
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
			if x := a.actors[id]; x != nil && !x.last.IsZero() {
				out[id] = x.last
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

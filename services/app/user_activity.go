package app

import (
	"context"
	"net/http"
	"time"
)

// ActivityReads is what the read models keep of each user's writes (the
// projections engine's activity model).
type ActivityReads interface {
	// LastSeen is when each of ids last wrote an event.
	LastSeen(ids []string) map[string]time.Time
	// EventsInWeek is how many events each of ids wrote in the ISO week
	// (UTC) that holds at.
	EventsInWeek(ids []string, at time.Time) map[string]int
}

// Refusal is one write of a user that the server answered with a refusal.
type Refusal struct {
	UserID string
	At     time.Time
	Status int
}

// RefusalLog keeps the refused writes of each user. A refusal is not an
// event: the log records only what happened in the field, and a refused
// write changed nothing, so refusals are kept beside the log, never in it.
type RefusalLog interface {
	// Record keeps rs durably before it returns.
	Record(ctx context.Context, rs []Refusal) error
	// CountsSince is how many refusals each of ids had at or after since.
	CountsSince(ids []string, since time.Time) (map[string]int, error)
}

// IsRefusal reports whether a write answered with status counts as refused:
// the request was understood and turned down (bad input, not allowed, not
// found, a conflict, a stale revision, a reused key), not a server failure
// and not a missing or bad token (that is nobody's write).
func IsRefusal(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
		http.StatusPreconditionFailed, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// UserActivity is what the users list says of each user's work.
type UserActivity struct {
	// LastSeen is when the log last recorded an event the user wrote (zero:
	// never).
	LastSeen time.Time
	// ItemsThisWeek is how many events the user wrote in the current ISO
	// week (UTC).
	ItemsThisWeek int
	// ItemsRefused is how many of the user's writes were refused in the
	// current ISO week; -1 when refusals are not kept.
	ItemsRefused int
}

// Activity answers the users list's figures of each user's work, for the
// JSON API and the console alike.
type Activity struct {
	// Reads are the read models' figures; nil leaves last seen and items
	// this week out. Whoever runs the read models sets it.
	Reads ActivityReads
	// Refusals is where refused writes are kept; nil keeps none.
	Refusals RefusalLog
	Clock    func() time.Time
}

// WeekStart is the start (Monday 00:00 UTC) of the ISO week that holds t.
func WeekStart(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
}

// Of returns the activity of each of ids this week. It reads what the
// caller may already see (ListUsers decides whom), so it checks nothing.
func (a *Activity) Of(ids []string) (map[string]UserActivity, error) {
	out := make(map[string]UserActivity, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	now := a.Clock()
	var seen map[string]time.Time
	var week map[string]int
	if a.Reads != nil {
		seen, week = a.Reads.LastSeen(ids), a.Reads.EventsInWeek(ids, now)
	}
	refused := map[string]int{}
	if a.Refusals != nil {
		var err error
		if refused, err = a.Refusals.CountsSince(ids, WeekStart(now)); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		ua := UserActivity{LastSeen: seen[id], ItemsThisWeek: week[id], ItemsRefused: refused[id]}
		if a.Refusals == nil {
			ua.ItemsRefused = -1
		}
		out[id] = ua
	}
	return out, nil
}

// LastSeen is when each of ids last wrote, for those who did.
func (a *Activity) LastSeen(ids []string) map[string]time.Time {
	if a.Reads == nil {
		return nil
	}
	return a.Reads.LastSeen(ids)
}

// RecordRefusals keeps refused writes; without a refusal log it keeps none.
func (a *Activity) RecordRefusals(ctx context.Context, rs []Refusal) error {
	if a.Refusals == nil || len(rs) == 0 {
		return nil
	}
	return a.Refusals.Record(ctx, rs)
}

package domain

import "time"

// The one ordering rule of field times within a record: nothing that
// follows an event may be dated before it, less ClockSkew (phones' clocks
// drift by minutes; refusing a report two minutes "early" would lose a real
// one, while an action point started 25 years before it was raised, or a
// visit 25 years before its community existed, can only be a wrong date).
// It applies to every event's occurred_at against the creation of its
// stream (CheckOccurredAt), to an event of a record a community owns against
// the community's registration (CheckOccurredAt with the community's
// stream), and to the times a command carries against the event they follow
// (arrived_at, communicated_at).

// ClockSkew is how much earlier than the event it follows a field time may
// be.
const ClockSkew = clockSkew

// notBefore refuses t in field when it is more than clockSkew before ref,
// the time of what happened first (described by what, e.g. "the referral
// was raised"). A zero t or ref is not checked.
func notBefore(field string, t, ref time.Time, what string) error {
	if t.IsZero() || ref.IsZero() || !t.Before(ref.Add(-clockSkew)) {
		return nil
	}
	return FieldError(field, "is %s, before %s (%s): a record's events cannot be dated before it began, beyond a %d-minute allowance for phone clocks",
		t.UTC().Format(time.RFC3339), what, ref.UTC().Format(time.RFC3339), int(clockSkew/time.Minute))
}

// created says how each kind of record begins, for messages.
var created = map[string]string{
	CommunityCategory:   "the community was registered",
	ActionPointCategory: "the action point was raised",
	ReferralCategory:    "the referral was raised",
	FeedbackCategory:    "the feedback item was received",
}

// CheckOccurredAt refuses a new event on stream dated at (its occurred_at)
// more than ClockSkew before began, the occurred_at of the stream's first
// event (zero: the stream is new, nothing to check). The application layer
// calls it for every command on an existing record, and for every record a
// command creates in a community, with the community's stream. It checks
// the streams of the four field records; the user directory is one stream
// for every user, not a record with a beginning.
func CheckOccurredAt(stream string, at, began time.Time) error {
	category, _ := SplitStream(stream)
	what, ok := created[category]
	if !ok {
		return nil
	}
	return notBefore("occurred_at", at, began, what)
}

package app

import (
	"context"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Kinds of case a history can be asked for.
const (
	CaseCommunity   = "community"
	CaseActionPoint = "action-point"
	CaseReferral    = "referral"
	CaseFeedback    = "feedback"
)

// HistoryEntry is one event of a case as the people who follow it see it:
// what happened, who recorded it, when it happened in the field and when the
// server learnt of it. The envelope's hashes and keys stay the auditors'.
type HistoryEntry struct {
	Revision   uint64
	Type       string
	OccurredAt time.Time
	RecordedAt time.Time
	ActorID    string
	ActorRole  string
	// Event is the decoded domain event.
	Event domain.Event
}

// CaseHistory is a case's current state and every event of its stream.
type CaseHistory struct {
	Kind string
	// State is the aggregate's view (domain.CommunityView, ActionPointView,
	// ReferralView or FeedbackView).
	State   any
	Place   domain.Place
	Entries []HistoryEntry
}

// History returns one case and its whole history. Unlike the auditors'
// stream reads it is open to every role, within the actor's area, as the
// aggregate query is: who may read a case may read how it came to be.
func (q *Queries) History(ctx context.Context, actor Actor, kind, id string) (CaseHistory, error) {
	var stream, what string
	switch kind {
	case CaseCommunity:
		stream, what = domain.CommunityStream(id), "community"
	case CaseActionPoint:
		stream, what = domain.ActionPointStream(id), "action point"
	case CaseReferral:
		stream, what = domain.ReferralStream(id), "referral"
	case CaseFeedback:
		stream, what = domain.FeedbackStream(id), "feedback item"
	default:
		return CaseHistory{}, notFound("case kind", kind)
	}
	if domain.ValidateID("id", id) != nil {
		return CaseHistory{}, notFound(what, id)
	}
	recorded, err := readStream(ctx, q.store, stream)
	if err != nil {
		return CaseHistory{}, err
	}
	events, err := decodeAll(recorded)
	if err != nil {
		return CaseHistory{}, err
	}
	out := CaseHistory{Kind: kind}
	var exists bool
	switch kind {
	case CaseCommunity:
		a, err := domain.LoadCommunity(events)
		if err != nil {
			return CaseHistory{}, err
		}
		exists, out.Place, out.State = a.Exists(), a.Place(), a.View()
	case CaseActionPoint:
		a, err := domain.LoadActionPoint(events)
		if err != nil {
			return CaseHistory{}, err
		}
		exists, out.Place, out.State = a.Exists(), a.Place(), a.View()
	case CaseReferral:
		a, err := domain.LoadReferral(events)
		if err != nil {
			return CaseHistory{}, err
		}
		exists, out.Place, out.State = a.Exists(), a.Place(), a.View()
	case CaseFeedback:
		a, err := domain.LoadFeedbackItem(events)
		if err != nil {
			return CaseHistory{}, err
		}
		exists, out.Place, out.State = a.Exists(), a.Place(), a.View()
	}
	if !exists {
		return CaseHistory{}, notFound(what, id)
	}
	if err := requireArea(actor, out.Place); err != nil {
		return CaseHistory{}, err
	}
	out.Entries = make([]HistoryEntry, len(recorded))
	for i := range recorded {
		rec := &recorded[i]
		out.Entries[i] = HistoryEntry{
			Revision: rec.Revision, Type: rec.Type, OccurredAt: rec.Meta.OccurredAt.UTC(), RecordedAt: rec.RecordedAt.UTC(),
			ActorID: rec.Meta.ActorID, ActorRole: rec.Meta.ActorRole, Event: events[i],
		}
	}
	return out, nil
}

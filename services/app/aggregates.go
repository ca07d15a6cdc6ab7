package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// The helpers below put the checks every command on an existing aggregate
// shares in one order: the id must be well formed and the aggregate must
// exist (404), then the caller's area must contain it (403), and only then
// does the domain decide (409, 400).

func updateCommunity(ctx context.Context, w *Writer, m *Meta, id string, decide func(*domain.Community) error) (Result, error) {
	if domain.ValidateID("id", id) != nil {
		return Result{}, notFound("community", id)
	}
	return update(ctx, w, m, domain.CommunityStream(id), id, domain.LoadCommunity, func(c *domain.Community) error {
		if !c.Exists() {
			return notFound("community", id)
		}
		return requireArea(m.Actor, c.Place())
	}, decide)
}

func updateActionPoint(ctx context.Context, w *Writer, m *Meta, id string, decide func(*domain.ActionPoint) error) (Result, error) {
	if domain.ValidateID("id", id) != nil {
		return Result{}, notFound("action point", id)
	}
	return update(ctx, w, m, domain.ActionPointStream(id), id, domain.LoadActionPoint, func(a *domain.ActionPoint) error {
		if !a.Exists() {
			return notFound("action point", id)
		}
		return requireArea(m.Actor, a.Place())
	}, decide)
}

func updateReferral(ctx context.Context, w *Writer, m *Meta, id string, decide func(*domain.Referral) error) (Result, error) {
	if domain.ValidateID("id", id) != nil {
		return Result{}, notFound("referral", id)
	}
	return update(ctx, w, m, domain.ReferralStream(id), id, domain.LoadReferral, func(r *domain.Referral) error {
		if !r.Exists() {
			return notFound("referral", id)
		}
		return requireArea(m.Actor, r.Place())
	}, decide)
}

func updateFeedback(ctx context.Context, w *Writer, m *Meta, id string, decide func(*domain.FeedbackItem) error) (Result, error) {
	if domain.ValidateID("id", id) != nil {
		return Result{}, notFound("feedback item", id)
	}
	return update(ctx, w, m, domain.FeedbackStream(id), id, domain.LoadFeedbackItem, func(f *domain.FeedbackItem) error {
		if !f.Exists() {
			return notFound("feedback item", id)
		}
		return requireArea(m.Actor, f.Place())
	}, decide)
}

// communityFor loads the community a new action point, referral or feedback
// item belongs to and checks the caller may write to it. A missing community
// is a 404 naming the community_id field. It also returns the check that the
// new record is not dated before the community was registered, for the
// command's decision (after an idempotent replay has been answered: a
// replay answers what was decided the first time).
func communityFor(ctx context.Context, w *Writer, m *Meta, communityID string) (*domain.Community, func() error, error) {
	if err := domain.ValidateID("community_id", communityID); err != nil {
		return nil, nil, err
	}
	shared, k, err := current(ctx, w, domain.CommunityStream(communityID), domain.LoadCommunity)
	if err != nil {
		return nil, nil, err
	}
	if !shared.Exists() {
		return nil, nil, &domain.Error{Code: domain.CodeNotFound, Field: "community_id", Message: "no community " + communityID}
	}
	// Only read here: it goes back for the next command, and the caller
	// gets a copy of its own, which nothing else will change.
	c := *shared
	registered := k.first
	w.aggs.keep(k)
	if err := requireArea(m.Actor, c.Place()); err != nil {
		return nil, nil, err
	}
	at, err := w.occurredAt(m)
	if err != nil {
		return nil, nil, err
	}
	return &c, func() error { return domain.CheckOccurredAt(domain.CommunityStream(communityID), at, registered) }, nil
}

// createID returns the id of an aggregate a command creates: the client's
// when it sent one, else one derived from the request. A create has no
// revision to match, so it drops any If-Match: an existing id is a 409,
// never a 412.
func createID(m *Meta, clientID string) (string, error) {
	m.IfMatch = nil
	if clientID == "" {
		return derivedID(m), nil
	}
	if err := domain.ValidateID("id", clientID); err != nil {
		return "", err
	}
	return clientID, nil
}

func notFound(what, id string) error {
	return domain.Errorf(domain.CodeNotFound, "no %s %q", what, id)
}

func created(res Result, err error) (Result, error) {
	if err == nil {
		res.Created = true
	}
	return res, err
}

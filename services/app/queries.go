package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
)

// Queries read one aggregate's current state from its stream. Every role may
// read, within its area.
type Queries struct {
	store eventstore.Store
}

// NewQueries returns the aggregate queries over store.
func NewQueries(store eventstore.Store) *Queries { return &Queries{store: store} }

type placed interface {
	Exists() bool
	Place() domain.Place
}

func get[A placed](ctx context.Context, q *Queries, actor Actor, what, id, stream string, load func([]domain.Event) (A, error)) (A, error) {
	var zero A
	if domain.ValidateID("id", id) != nil {
		return zero, notFound(what, id)
	}
	recorded, err := readStream(ctx, q.store, stream)
	if err != nil {
		return zero, err
	}
	history, err := decodeAll(recorded)
	if err != nil {
		return zero, err
	}
	a, err := load(history)
	if err != nil {
		return zero, err
	}
	if !a.Exists() {
		return zero, notFound(what, id)
	}
	if err := requireArea(actor, a.Place()); err != nil {
		return zero, err
	}
	return a, nil
}

// Community returns a community's state.
func (q *Queries) Community(ctx context.Context, actor Actor, id string) (domain.CommunityView, error) {
	c, err := get(ctx, q, actor, "community", id, domain.CommunityStream(id), domain.LoadCommunity)
	if err != nil {
		return domain.CommunityView{}, err
	}
	return c.View(), nil
}

// ActionPoint returns an action point's state.
func (q *Queries) ActionPoint(ctx context.Context, actor Actor, id string) (domain.ActionPointView, error) {
	a, err := get(ctx, q, actor, "action point", id, domain.ActionPointStream(id), domain.LoadActionPoint)
	if err != nil {
		return domain.ActionPointView{}, err
	}
	return a.View(), nil
}

// Referral returns a referral's state.
func (q *Queries) Referral(ctx context.Context, actor Actor, id string) (domain.ReferralView, error) {
	r, err := get(ctx, q, actor, "referral", id, domain.ReferralStream(id), domain.LoadReferral)
	if err != nil {
		return domain.ReferralView{}, err
	}
	return r.View(), nil
}

// Feedback returns a feedback item's state.
func (q *Queries) Feedback(ctx context.Context, actor Actor, id string) (domain.FeedbackView, error) {
	f, err := get(ctx, q, actor, "feedback item", id, domain.FeedbackStream(id), domain.LoadFeedbackItem)
	if err != nil {
		return domain.FeedbackView{}, err
	}
	return f.View(), nil
}

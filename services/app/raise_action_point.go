package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// RaiseActionPoint raises a new action point of a community's plan.
type RaiseActionPoint struct {
	Meta
	ID          string
	CommunityID string
	Title       string
	Category    string
	Kind        string
	DueDate     string
}

// NewRaiseActionPointHandler returns the decorated handler.
func NewRaiseActionPointHandler(w *Writer, d Decorators) Handler[RaiseActionPoint] {
	return decorate(d, "raise_action_point", HandlerFunc[RaiseActionPoint](func(ctx context.Context, c RaiseActionPoint) (Result, error) {
		if err := requireRole(c.Actor, "raise an action point", domain.RoleMobilizer); err != nil {
			return Result{}, err
		}
		id, err := createID(&c.Meta, c.ID)
		if err != nil {
			return Result{}, err
		}
		community, afterRegistration, err := communityFor(ctx, w, &c.Meta, c.CommunityID)
		if err != nil {
			return Result{}, err
		}
		return created(update(ctx, w, &c.Meta, domain.ActionPointStream(id), id, domain.LoadActionPoint, nil, func(a *domain.ActionPoint) error {
			if err := a.Raise(domain.RaiseActionPoint{ID: id, Title: c.Title, Category: c.Category, Kind: c.Kind, DueDate: c.DueDate}, community); err != nil {
				return err
			}
			return afterRegistration()
		}))
	}))
}

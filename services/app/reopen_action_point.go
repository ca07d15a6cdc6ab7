package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// ReopenActionPoint brings an achieved or dropped action point back in progress.
type ReopenActionPoint struct {
	Meta
	ID     string
	Reason string
}

// NewReopenActionPointHandler returns the decorated handler.
func NewReopenActionPointHandler(w *Writer, d Decorators) Handler[ReopenActionPoint] {
	return decorate(d, "reopen_action_point", HandlerFunc[ReopenActionPoint](func(ctx context.Context, c ReopenActionPoint) (Result, error) {
		if err := requireStep(c.Actor, CaseActionPoint, domain.StepReopen); err != nil {
			return Result{}, err
		}
		return updateActionPoint(ctx, w, &c.Meta, c.ID, func(x *domain.ActionPoint) error { return x.Reopen(c.Reason) })
	}))
}

package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// StartActionPoint begins work on an open action point.
type StartActionPoint struct {
	Meta
	ID   string
	Note string
}

// NewStartActionPointHandler returns the decorated handler.
func NewStartActionPointHandler(w *Writer, d Decorators) Handler[StartActionPoint] {
	return decorate(d, "start_action_point", HandlerFunc[StartActionPoint](func(ctx context.Context, c StartActionPoint) (Result, error) {
		if err := requireStep(c.Actor, CaseActionPoint, domain.StepStart); err != nil {
			return Result{}, err
		}
		return updateActionPoint(ctx, w, &c.Meta, c.ID, func(x *domain.ActionPoint) error { return x.Start(c.Note) })
	}))
}

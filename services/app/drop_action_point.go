package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// DropActionPoint abandons an action point, with a reason.
type DropActionPoint struct {
	Meta
	ID     string
	Reason string
}

// NewDropActionPointHandler returns the decorated handler.
func NewDropActionPointHandler(w *Writer, d Decorators) Handler[DropActionPoint] {
	return decorate(d, "drop_action_point", HandlerFunc[DropActionPoint](func(ctx context.Context, c DropActionPoint) (Result, error) {
		if err := requireStep(c.Actor, CaseActionPoint, domain.StepDrop); err != nil {
			return Result{}, err
		}
		return updateActionPoint(ctx, w, &c.Meta, c.ID, func(x *domain.ActionPoint) error { return x.Drop(c.Reason) })
	}))
}

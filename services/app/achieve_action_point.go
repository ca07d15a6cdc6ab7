package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// AchieveActionPoint marks an action point achieved.
type AchieveActionPoint struct {
	Meta
	ID       string
	Evidence string
}

// NewAchieveActionPointHandler returns the decorated handler.
func NewAchieveActionPointHandler(w *Writer, d Decorators) Handler[AchieveActionPoint] {
	return decorate(d, "achieve_action_point", HandlerFunc[AchieveActionPoint](func(ctx context.Context, c AchieveActionPoint) (Result, error) {
		if err := requireStep(c.Actor, CaseActionPoint, domain.StepAchieve); err != nil {
			return Result{}, err
		}
		return updateActionPoint(ctx, w, &c.Meta, c.ID, func(x *domain.ActionPoint) error { return x.Achieve(c.Evidence) })
	}))
}

package app

import (
	"context"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// CompleteReferral records the response's arrival and the outcome.
type CompleteReferral struct {
	Meta
	ID        string
	ArrivedAt time.Time
	Outcome   string
}

// NewCompleteReferralHandler returns the decorated handler.
func NewCompleteReferralHandler(w *Writer, d Decorators) Handler[CompleteReferral] {
	return decorate(d, "complete_referral", HandlerFunc[CompleteReferral](func(ctx context.Context, c CompleteReferral) (Result, error) {
		if err := requireStep(c.Actor, CaseReferral, domain.StepComplete); err != nil {
			return Result{}, err
		}
		if err := notInFuture(w, "arrived_at", c.ArrivedAt); err != nil {
			return Result{}, err
		}
		return updateReferral(ctx, w, &c.Meta, c.ID, func(r *domain.Referral) error {
			return r.Complete(c.ArrivedAt, c.Outcome)
		})
	}))
}

package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// CancelReferral withdraws a referral that has not been completed.
type CancelReferral struct {
	Meta
	ID     string
	Reason string
}

// NewCancelReferralHandler returns the decorated handler.
func NewCancelReferralHandler(w *Writer, d Decorators) Handler[CancelReferral] {
	return decorate(d, "cancel_referral", HandlerFunc[CancelReferral](func(ctx context.Context, c CancelReferral) (Result, error) {
		if err := requireStep(c.Actor, CaseReferral, domain.StepCancel); err != nil {
			return Result{}, err
		}
		return updateReferral(ctx, w, &c.Meta, c.ID, func(x *domain.Referral) error { return x.Cancel(c.Reason) })
	}))
}

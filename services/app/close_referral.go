package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// CloseReferral closes a completed referral.
type CloseReferral struct {
	Meta
	ID string
}

// NewCloseReferralHandler returns the decorated handler.
func NewCloseReferralHandler(w *Writer, d Decorators) Handler[CloseReferral] {
	return decorate(d, "close_referral", HandlerFunc[CloseReferral](func(ctx context.Context, c CloseReferral) (Result, error) {
		if err := requireStep(c.Actor, CaseReferral, domain.StepClose); err != nil {
			return Result{}, err
		}
		return updateReferral(ctx, w, &c.Meta, c.ID, (*domain.Referral).Close)
	}))
}

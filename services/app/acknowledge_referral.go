package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// AcknowledgeReferral records that the response took a referral on.
type AcknowledgeReferral struct {
	Meta
	ID string
}

// NewAcknowledgeReferralHandler returns the decorated handler.
func NewAcknowledgeReferralHandler(w *Writer, d Decorators) Handler[AcknowledgeReferral] {
	return decorate(d, "acknowledge_referral", HandlerFunc[AcknowledgeReferral](func(ctx context.Context, c AcknowledgeReferral) (Result, error) {
		if err := requireStep(c.Actor, CaseReferral, domain.StepAcknowledge); err != nil {
			return Result{}, err
		}
		return updateReferral(ctx, w, &c.Meta, c.ID, (*domain.Referral).Acknowledge)
	}))
}

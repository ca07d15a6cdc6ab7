package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// RecordVisit records a follow-up visit to a community.
type RecordVisit struct {
	Meta
	CommunityID string
	Kind        string
	// TrustRating is required (1–5); nil means the client left it out.
	TrustRating *int
	Concerns    []domain.Concern
}

// NewRecordVisitHandler returns the decorated handler.
func NewRecordVisitHandler(w *Writer, d Decorators) Handler[RecordVisit] {
	return decorate(d, "record_visit", HandlerFunc[RecordVisit](func(ctx context.Context, c RecordVisit) (Result, error) {
		if err := requireStep(c.Actor, CaseCommunity, domain.StepRecordVisit); err != nil {
			return Result{}, err
		}
		if c.TrustRating == nil {
			return Result{}, domain.FieldError("trust_rating", "is required (1 to 5)")
		}
		return updateCommunity(ctx, w, &c.Meta, c.CommunityID, func(cm *domain.Community) error {
			return cm.RecordVisit(domain.RecordVisit{Kind: c.Kind, TrustRating: *c.TrustRating, Concerns: c.Concerns})
		})
	}))
}

package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// ReferFeedback passes feedback to whoever can answer it.
type ReferFeedback struct {
	Meta
	ID string
	To string
}

// NewReferFeedbackHandler returns the decorated handler.
func NewReferFeedbackHandler(w *Writer, d Decorators) Handler[ReferFeedback] {
	return decorate(d, "refer_feedback", HandlerFunc[ReferFeedback](func(ctx context.Context, c ReferFeedback) (Result, error) {
		if err := requireStep(c.Actor, CaseFeedback, domain.StepRefer); err != nil {
			return Result{}, err
		}
		return updateFeedback(ctx, w, &c.Meta, c.ID, func(x *domain.FeedbackItem) error { return x.Refer(c.To) })
	}))
}

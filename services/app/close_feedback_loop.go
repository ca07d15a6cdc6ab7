package app

import (
	"context"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// CloseFeedbackLoop records that the answer was taken back to the community.
type CloseFeedbackLoop struct {
	Meta
	ID string
	// CommunicatedAt defaults to the command's occurred_at.
	CommunicatedAt time.Time
	// Satisfied is required; nil means the client left it out.
	Satisfied *bool
}

// NewCloseFeedbackLoopHandler returns the decorated handler.
func NewCloseFeedbackLoopHandler(w *Writer, d Decorators) Handler[CloseFeedbackLoop] {
	return decorate(d, "close_feedback_loop", HandlerFunc[CloseFeedbackLoop](func(ctx context.Context, c CloseFeedbackLoop) (Result, error) {
		if err := requireStep(c.Actor, CaseFeedback, domain.StepCloseLoop); err != nil {
			return Result{}, err
		}
		if c.Satisfied == nil {
			return Result{}, domain.FieldError("satisfied", "is required (true or false)")
		}
		at, err := w.occurredAt(&c.Meta)
		if err != nil {
			return Result{}, err
		}
		communicated := c.CommunicatedAt
		if communicated.IsZero() {
			communicated = at
		}
		if err := notInFuture(w, "communicated_at", communicated); err != nil {
			return Result{}, err
		}
		return updateFeedback(ctx, w, &c.Meta, c.ID, func(f *domain.FeedbackItem) error {
			return f.CloseLoop(communicated, *c.Satisfied)
		})
	}))
}

package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// AnswerFeedback records the answer to referred feedback.
type AnswerFeedback struct {
	Meta
	ID       string
	Response string
}

// NewAnswerFeedbackHandler returns the decorated handler.
func NewAnswerFeedbackHandler(w *Writer, d Decorators) Handler[AnswerFeedback] {
	return decorate(d, "answer_feedback", HandlerFunc[AnswerFeedback](func(ctx context.Context, c AnswerFeedback) (Result, error) {
		if err := requireStep(c.Actor, CaseFeedback, domain.StepAnswer); err != nil {
			return Result{}, err
		}
		return updateFeedback(ctx, w, &c.Meta, c.ID, func(x *domain.FeedbackItem) error { return x.Answer(c.Response) })
	}))
}

package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// ReceiveFeedback records a community's feedback.
type ReceiveFeedback struct {
	Meta
	ID           string
	CommunityID  string
	Type         string
	Text         string
	NeedCategory string
	Channel      string
}

// NewReceiveFeedbackHandler returns the decorated handler.
func NewReceiveFeedbackHandler(w *Writer, d Decorators) Handler[ReceiveFeedback] {
	return decorate(d, "receive_feedback", HandlerFunc[ReceiveFeedback](func(ctx context.Context, c ReceiveFeedback) (Result, error) {
		if err := requireRole(c.Actor, "record feedback", domain.RoleMobilizer); err != nil {
			return Result{}, err
		}
		at, err := w.occurredAt(&c.Meta)
		if err != nil {
			return Result{}, err
		}
		id, err := createID(&c.Meta, c.ID)
		if err != nil {
			return Result{}, err
		}
		community, afterRegistration, err := communityFor(ctx, w, &c.Meta, c.CommunityID)
		if err != nil {
			return Result{}, err
		}
		return created(update(ctx, w, &c.Meta, domain.FeedbackStream(id), id, domain.LoadFeedbackItem, nil, func(f *domain.FeedbackItem) error {
			if err := f.Receive(domain.ReceiveFeedback{ID: id, Type: c.Type, Text: c.Text, NeedCategory: c.NeedCategory, Channel: c.Channel, At: at}, community); err != nil {
				return err
			}
			return afterRegistration()
		}))
	}))
}

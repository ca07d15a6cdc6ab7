package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// TriggerCommunity records a community's triggering session.
type TriggerCommunity struct {
	Meta
	CommunityID string
	// Attendance is required; nil means the client left it out.
	Attendance *int
}

// NewTriggerCommunityHandler returns the decorated handler.
func NewTriggerCommunityHandler(w *Writer, d Decorators) Handler[TriggerCommunity] {
	return decorate(d, "trigger_community", HandlerFunc[TriggerCommunity](func(ctx context.Context, c TriggerCommunity) (Result, error) {
		if err := requireStep(c.Actor, CaseCommunity, domain.StepTrigger); err != nil {
			return Result{}, err
		}
		if c.Attendance == nil {
			return Result{}, domain.FieldError("attendance", "is required")
		}
		return updateCommunity(ctx, w, &c.Meta, c.CommunityID, func(cm *domain.Community) error {
			return cm.Trigger(*c.Attendance)
		})
	}))
}

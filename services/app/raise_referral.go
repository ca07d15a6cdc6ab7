package app

import (
	"context"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// RaiseReferral raises a referral from a community.
type RaiseReferral struct {
	Meta
	ID           string
	CommunityID  string
	Kind         string
	Channel      string
	PersonRef    string
	SymptomOnset time.Time
}

// NewRaiseReferralHandler returns the decorated handler.
func NewRaiseReferralHandler(w *Writer, d Decorators) Handler[RaiseReferral] {
	return decorate(d, "raise_referral", HandlerFunc[RaiseReferral](func(ctx context.Context, c RaiseReferral) (Result, error) {
		if err := requireRole(c.Actor, "raise a referral", domain.RoleMobilizer); err != nil {
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
		return created(update(ctx, w, &c.Meta, domain.ReferralStream(id), id, domain.LoadReferral, nil, func(r *domain.Referral) error {
			if err := r.Raise(domain.RaiseReferral{ID: id, Kind: c.Kind, Channel: c.Channel, PersonRef: c.PersonRef,
				SymptomOnset: c.SymptomOnset, At: at}, community); err != nil {
				return err
			}
			return afterRegistration()
		}))
	}))
}

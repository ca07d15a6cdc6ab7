package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// DeactivateUser ends a user's access (a lost or stolen phone): their token
// is refused from then on, on every replica, with the reason and whether the
// phone should wipe its data.
type DeactivateUser struct {
	Meta
	ID     string
	Reason string
	Wipe   bool
}

// NewDeactivateUserHandler returns the decorated handler. The directory is
// refreshed before the answer, so this replica refuses the token at once;
// the others follow the users stream (Authenticator.Follow).
func NewDeactivateUserHandler(w *Writer, auth *Authenticator, d Decorators) Handler[DeactivateUser] {
	return decorate(d, "deactivate_user", HandlerFunc[DeactivateUser](func(ctx context.Context, c DeactivateUser) (Result, error) {
		res, err := updateDirectory(ctx, w, &c.Meta, c.ID, func(dir *domain.Directory) error {
			return dir.CheckManager(c.ID, manager(c.Actor))
		}, func(dir *domain.Directory) error {
			return dir.Deactivate(domain.DeactivateUser{ID: c.ID, Reason: c.Reason, Wipe: c.Wipe, By: manager(c.Actor)})
		})
		if err != nil {
			return Result{}, err
		}
		// The deactivation is durable; should this refresh fail, the
		// follower applies it on its next poll.
		_ = auth.Refresh(ctx)
		return res, nil
	}))
}

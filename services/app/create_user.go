package app

import (
	"context"
	"fmt"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/places"
)

// CreateUser creates a user and issues their token.
type CreateUser struct {
	Meta
	Name     string
	Role     string
	District string
	Chiefdom string
}

// NewCreateUserHandler returns the decorated handler. The token is in the
// result once and only its hash is stored; with an idempotency key it is
// derived from tokenSecret so that a repeated request answers the same one.
// The user's area, when given, must be in the places list and is stored in
// its spelling (none: national).
func NewCreateUserHandler(w *Writer, auth *Authenticator, tokenSecret []byte, pl *places.Catalogue, d Decorators) Handler[CreateUser] {
	return decorate(d, "create_user", HandlerFunc[CreateUser](func(ctx context.Context, c CreateUser) (Result, error) {
		if err := requireRole(c.Actor, "create users", domain.RoleAdmin); err != nil {
			return Result{}, err
		}
		c.IfMatch = nil // one shared stream: a client's revision means nothing here
		area, err := pl.ResolveArea(c.District, c.Chiefdom)
		if err != nil {
			return Result{}, err
		}
		c.District, c.Chiefdom = area.District, area.Chiefdom
		id := derivedID(&c.Meta)
		token := ""
		if c.IdempotencyKey != "" && len(tokenSecret) > 0 {
			token = derivedToken(tokenSecret, c.Actor.ID, c.IdempotencyKey)
		} else {
			var err error
			if token, err = NewToken(); err != nil {
				return Result{}, err
			}
		}
		res, err := created(updateDirectory(ctx, w, &c.Meta, id, nil, func(dir *domain.Directory) error {
			return dir.Create(domain.CreateUser{ID: id, Name: c.Name, Role: c.Role,
				District: c.District, Chiefdom: c.Chiefdom, TokenHash: HashToken(token)})
		}))
		if err != nil {
			return Result{}, err
		}
		res.Token = token
		// The new user may sign in right away; a failed refresh is retried
		// by Authenticate on their first request.
		refreshErr := auth.Refresh(ctx)
		if res.Replayed && refreshErr == nil && !auth.tokenIs(id, token) {
			// The token is derived from the key and the server's token
			// secret; if the secret changed since the first request, the
			// token re-derived now would not sign in. Say so rather than
			// hand it out.
			return Result{}, fmt.Errorf("replaying the creation of user %s: the token secret differs from the one it was created with (ACTIONLEDGER_TOKEN_SECRET must be the same on every replica and across restarts)", id)
		}
		return res, nil
	}))
}

package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// IssueToken gives a user a new token (a replaced phone, a token that
// leaked); the old one stops working.
type IssueToken struct {
	Meta
	ID string
}

// NewIssueTokenHandler returns the decorated handler. The token is in the
// result once and only its hash is stored; with an idempotency key it is
// derived from tokenSecret, so that a repeated request answers the same one.
func NewIssueTokenHandler(w *Writer, auth *Authenticator, tokenSecret []byte, d Decorators) Handler[IssueToken] {
	return decorate(d, "issue_token", HandlerFunc[IssueToken](func(ctx context.Context, c IssueToken) (Result, error) {
		token := ""
		if c.IdempotencyKey != "" && len(tokenSecret) > 0 {
			// Scoped apart from user creation's derivation, so that no
			// two requests can ever derive the same token.
			token = derivedToken(tokenSecret, c.Actor.ID, "token\x00"+c.ID+"\x00"+c.IdempotencyKey)
		} else {
			var err error
			if token, err = NewToken(); err != nil {
				return Result{}, err
			}
		}
		res, err := updateDirectory(ctx, w, &c.Meta, c.ID, func(dir *domain.Directory) error {
			return dir.CheckManager(c.ID, manager(c.Actor))
		}, func(dir *domain.Directory) error {
			return dir.IssueToken(domain.IssueUserToken{ID: c.ID, TokenHash: HashToken(token), By: manager(c.Actor)})
		})
		if err != nil {
			return Result{}, err
		}
		// The old token must stop working here before the answer; a
		// failed refresh leaves it to the follower's next poll.
		refreshErr := auth.Refresh(ctx)
		if res.Replayed && refreshErr == nil && !auth.tokenIs(c.ID, token) {
			// The token this request issued no longer signs in: a later
			// request replaced it, the user was switched off, or the token
			// secret changed. Handing it out again would only mislead.
			return Result{}, domain.Errorf(domain.CodeTransition,
				"the token this request issued no longer works (replaced by a later one, the user deactivated, or ACTIONLEDGER_TOKEN_SECRET changed); send a new request with a new Idempotency-Key")
		}
		res.Token = token
		return res, nil
	}))
}

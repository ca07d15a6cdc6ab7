package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Actor is the authenticated caller.
type Actor struct {
	ID   string
	Role string
	Area domain.Area
}

// Meta is what every command carries besides its own fields: who sends it,
// when it happened in the field, and the request's idempotency and
// concurrency controls.
type Meta struct {
	Actor Actor
	// OccurredAt is field time; zero means now.
	OccurredAt time.Time
	// IdempotencyKey, when set, makes the command safe to repeat: event ids
	// are derived from it and a repeat answers the first result.
	IdempotencyKey string
	// RequestHash fingerprints the request (method, path, body) so that a
	// repeated key with a different request is refused.
	RequestHash []byte
	// IfMatch, when set, is the revision the client last saw; the command is
	// refused with ErrStaleRevision if the aggregate has moved on.
	IfMatch       *uint64
	CorrelationID string
	CausationID   string
}

// Result is what a successful command answers.
type Result struct {
	// ID of the aggregate written to.
	ID string
	// Revision of the aggregate after the command (its ETag).
	Revision uint64
	// Position of the command's last event in the global log; a read model
	// that has reached it reflects the command.
	Position uint64
	// Created is true when the command created the aggregate.
	Created bool
	// Replayed is true when the command was a repeat of an earlier request
	// with the same idempotency key and nothing was written.
	Replayed bool
	// Token is set only by CreateUser and IssueToken: the one time it is shown.
	Token string
}

// RequestHash fingerprints a request for idempotency: the same key with the
// same method, path and JSON body (whitespace aside) is the same request. The
// API, the sync route and the importer all use this one function, so a
// request replayed through any of them is recognised.
func RequestHash(method, path string, body []byte) []byte {
	var compact bytes.Buffer
	if json.Compact(&compact, body) != nil {
		compact.Reset()
		compact.Write(body)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", method, path)
	h.Write(compact.Bytes())
	return h.Sum(nil)
}

// Handler handles one kind of command.
type Handler[C any] interface {
	Handle(ctx context.Context, cmd C) (Result, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc[C any] func(ctx context.Context, cmd C) (Result, error)

// Handle calls f.
func (f HandlerFunc[C]) Handle(ctx context.Context, cmd C) (Result, error) { return f(ctx, cmd) }

// Command is implemented by every command type (through the embedded Meta);
// the decorators use it to see who sent the command.
type Command interface {
	meta() Meta
}

func (m Meta) meta() Meta { return m }

// requireRole refuses actors whose role is not one of roles.
func requireRole(a Actor, action string, roles ...string) error {
	for _, r := range roles {
		if a.Role == r {
			return nil
		}
	}
	return domain.Errorf(domain.CodeForbidden, "%s may not %s", roleName(a.Role), action)
}

// requireArea refuses actors whose area does not contain p.
func requireArea(a Actor, p domain.Place) error {
	if a.Area.Contains(p) {
		return nil
	}
	return domain.Errorf(domain.CodeForbidden, "outside your area")
}

func roleName(r string) string {
	switch r {
	case "":
		return "a caller without a role"
	case domain.RoleAdmin, domain.RoleAuditor:
		return "an " + r
	}
	return "a " + r
}

// manager is the actor as the user directory's commands know them.
func manager(a Actor) domain.Manager {
	return domain.Manager{ID: a.ID, Role: a.Role, Area: a.Area}
}

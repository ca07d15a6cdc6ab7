package api

import (
	"context"
	"net/http"

	"github.com/actionledger/actionledger/api/console"
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

// ChildTrustReader is what the console's "places whose trust is falling"
// needs of the read side (projections.Engine has it).
type ChildTrustReader interface {
	ChildTrust(f projections.Filter) ([]projections.PlaceTrust, uint64)
}

// mountConsole serves the web console at / beside the JSON API. It reads
// through consoleReads, which scopes every read with the stats routes' own
// readFilter, so a page and /v1/stats answer alike for the same user.
func (s *Server) mountConsole(r *mux.Router) error {
	c, err := console.New(console.Config{
		Auth:     s.app.Auth,
		Reads:    consoleReads{s: s},
		StatusOf: func(err error) int { return problemFor(err, "").Status },
		Logger:   s.log.Named("console"),
		SignedIn: func(r *http.Request, actor app.Actor) {
			if slot, ok := r.Context().Value(keyActorSlot).(*app.Actor); ok {
				*slot = actor
			}
		},
	})
	if err != nil {
		return err
	}
	c.Mount(r)
	return nil
}

// consoleReads are the stats routes' reads, for the console.
type consoleReads struct{ s *Server }

func (c consoleReads) Completion(ctx context.Context, actor app.Actor, asked domain.Area) (projections.CompletionStats, uint64, error) {
	f, err := c.s.readFilter(ctx, actor, asked, "", statsRoles...)
	if err != nil {
		return projections.CompletionStats{}, 0, err
	}
	st, pos := c.s.read.CompletionStats(f, false)
	return st, pos, nil
}

func (c consoleReads) Trust(ctx context.Context, actor app.Actor, asked domain.Area) (projections.TrustStats, uint64, error) {
	f, err := c.s.readFilter(ctx, actor, asked, "", statsRoles...)
	if err != nil {
		return projections.TrustStats{}, 0, err
	}
	st, pos := c.s.read.TrustStats(f)
	return st, pos, nil
}

func (c consoleReads) ChildTrust(ctx context.Context, actor app.Actor, asked domain.Area) ([]projections.PlaceTrust, uint64, error) {
	f, err := c.s.readFilter(ctx, actor, asked, "", statsRoles...)
	if err != nil {
		return nil, 0, err
	}
	r, ok := c.s.read.(ChildTrustReader)
	if !ok {
		return nil, 0, nil
	}
	kids, pos := r.ChildTrust(f)
	return kids, pos, nil
}

package api

import (
	"context"
	"net/http"
	"time"

	"github.com/actionledger/actionledger/api/console"
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

// mountConsole serves the web console at / beside the JSON API. It reads
// through the application's read queries, as the stats routes do, so a page
// and /v1/stats answer alike for the same user.
func (s *Server) mountConsole(r *mux.Router) error {
	c, err := console.New(console.Config{
		Auth:          s.app.Auth,
		SessionSecret: s.sessionSecret,
		Reads:         consoleReads{s: s},
		StatusOf:      func(err error) int { return problemFor(err, "").Status },
		Logger:        s.log.Named("console"),
		App:           s.app,
		Ops:           consoleReads{s: s},
		Meta: func(r *http.Request, actor app.Actor) app.Meta {
			return app.Meta{Actor: actor, CorrelationID: correlationID(r), CausationID: requestID(r.Context())}
		},
		SignedIn: func(r *http.Request, actor app.Actor) {
			if info := infoFrom(r.Context()); info != nil {
				info.signedIn = actor
			}
		},
	})
	if err != nil {
		return err
	}
	c.Mount(r)
	return nil
}

// consoleReads are the application's read queries (app.Reads), as the JSON
// API's stats routes ask them: the same role, area and place checks.
type consoleReads struct{ s *Server }

func statsOf(asked domain.Area) app.StatsRequest {
	return app.StatsRequest{Place: app.Place{District: asked.District, Chiefdom: asked.Chiefdom}}
}

func (c consoleReads) Completion(ctx context.Context, actor app.Actor, asked domain.Area) (projections.CompletionStats, uint64, error) {
	return c.s.app.Reads.CompletionStats(ctx, actor, statsOf(asked))
}

func (c consoleReads) Trust(ctx context.Context, actor app.Actor, asked domain.Area) (projections.TrustStats, uint64, error) {
	return c.s.app.Reads.TrustStats(ctx, actor, statsOf(asked))
}

func (c consoleReads) ChildTrust(ctx context.Context, actor app.Actor, asked domain.Area) ([]projections.PlaceTrust, uint64, error) {
	return c.s.app.Reads.ChildTrust(ctx, actor, statsOf(asked))
}

// LastSeen is the users list's last_seen, when the read side keeps it.
func (c consoleReads) LastSeen(ids []string) map[string]time.Time {
	return c.s.app.Activity.LastSeen(ids)
}

func (c consoleReads) Poisoned(_ context.Context, actor app.Actor) ([]projections.Poisoned, error) {
	return c.s.poisoned(actor)
}

// AsOf is /v1/audit/as-of's answer for the actor's own area.
func (c consoleReads) AsOf(ctx context.Context, actor app.Actor, at time.Time, basis string) (projections.AsOf, error) {
	h := &auditRoutes{s: c.s, audit: c.s.app.Audit}
	if r, ok := c.s.read.(AsOfReader); ok {
		h.asOf = r
	}
	return h.indicatorsAsOf(ctx, actor, at, basis, app.LogFilter{})
}

// TrustSettings are the weights and the floor for "falling" exports weigh
// trust with, as the export route's.
func (c consoleReads) TrustSettings() ([4]float64, int) {
	return (&auditRoutes{s: c.s}).trustSettings()
}

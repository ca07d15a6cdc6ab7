package api

import (
	"context"
	"net/http"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

func (s *Server) mountAdmin(v1 v1Routes) {
	v1.handle(http.MethodGet, "/admin/poison", s.listPoison)
	v1.handle(http.MethodPost, "/admin/projections/rebuild", s.rebuildProjections)
}

func requireAdmin(actor app.Actor) error {
	if actor.Role != domain.RoleAdmin {
		return domain.Errorf(domain.CodeForbidden, "only an admin may do this")
	}
	return nil
}

// poisoned is the poison queue, for an admin: the route's and the console's.
func (s *Server) poisoned(actor app.Actor) ([]projections.Poisoned, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	return s.read.Poisoned()
}

// rebuild rebuilds the read models, for an admin: the route's and the
// console's.
func (s *Server) rebuild(ctx context.Context, actor app.Actor) (projections.RebuildReport, error) {
	if err := requireAdmin(actor); err != nil {
		return projections.RebuildReport{}, err
	}
	return s.read.Rebuild(ctx)
}

// listPoison shows the events read models skipped because they could not
// apply them.
func (s *Server) listPoison(w http.ResponseWriter, r *http.Request) {
	items, err := s.poisoned(actorFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if items == nil {
		items = []projections.Poisoned{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items)})
}

// rebuildProjections rebuilds every read model from the first event while
// the current ones keep serving, and answers when they have switched.
func (s *Server) rebuildProjections(w http.ResponseWriter, r *http.Request) {
	rep, err := s.rebuild(r.Context(), actorFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

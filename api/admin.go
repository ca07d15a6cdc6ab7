package api

import (
	"net/http"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

func (s *Server) mountAdmin(v1 v1Routes) {
	v1.handle(http.MethodGet, "/admin/poison", s.listPoison)
	v1.handle(http.MethodPost, "/admin/projections/rebuild", s.rebuildProjections)
	v1.handle(http.MethodGet, "/admin/projections/rebuild", s.rebuildStatus)
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
// the current ones keep serving, and answers when they have switched. It
// starts the rebuild the console starts (or joins the one running), so GET
// on the same path follows its progress meanwhile.
func (s *Server) rebuildProjections(w http.ResponseWriter, r *http.Request) {
	actor := actorFrom(r.Context())
	if _, _, err := s.app.Rebuilds.Start(actor); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.app.Rebuilds.Wait(r.Context(), actor)
	if err == nil && st.Report == nil {
		err = domain.Errorf(domain.CodeInternal, "rebuild failed: %s", st.Error)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st.Report)
}

// rebuildStatus is the running rebuild's progress, or how the last one
// ended: the same answer the console's operations page shows.
func (s *Server) rebuildStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.app.Rebuilds.Status(actorFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
}

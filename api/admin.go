package api

import (
	"net/http"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

func (s *Server) mountAdmin(v1 v1Routes) {
	v1.handle(http.MethodGet, "/admin/poison", s.listPoison)
	v1.handle(http.MethodPost, "/admin/projections/rebuild", s.rebuildProjections)
}

func requireAdmin(r *http.Request) error {
	if actorFrom(r.Context()).Role != domain.RoleAdmin {
		return domain.Errorf(domain.CodeForbidden, "only an admin may do this")
	}
	return nil
}

// listPoison shows the events read models skipped because they could not
// apply them.
func (s *Server) listPoison(w http.ResponseWriter, r *http.Request) {
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	items, err := s.read.Poisoned()
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
	if err := requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	rep, err := s.read.Rebuild(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

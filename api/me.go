package api

import (
	"net/http"

	"github.com/actionledger/actionledger/api/mobileapp"
)

func (s *Server) mountMe(v1 v1Routes) {
	v1.handle(http.MethodGet, "/me", s.me)
}

// me answers who the token belongs to: the mobilizers' app shows it and
// scopes its pickers by it, and a client can check a token without side
// effects.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r.Context())
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, struct {
		ID       string `json:"id"`
		Role     string `json:"role"`
		District string `json:"district,omitempty"`
		Chiefdom string `json:"chiefdom,omitempty"`
	}{a.ID, a.Role, a.Area.District, a.Area.Chiefdom})
}

// mountApp serves the mobilizers' app under /app/.
func (s *Server) mountApp() error {
	h, err := mobileapp.New()
	if err != nil {
		return err
	}
	s.router.PathPrefix("/app").Handler(h)
	return nil
}

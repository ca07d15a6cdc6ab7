package api

import (
	"net/http"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/places"
)

func (s *Server) mountPlaces(v1 v1Routes) {
	v1.handle(http.MethodGet, "/places", s.listPlaces)
}

// listPlaces serves the districts and chiefdoms the caller works in, with
// their codes, for pickers; names are spelt as writes must spell them.
func (s *Server) listPlaces(w http.ResponseWriter, r *http.Request) {
	for k := range r.URL.Query() {
		s.writeError(w, r, domain.FieldError(k, "is not a parameter of this route (it takes none)"))
		return
	}
	tree, err := s.app.PlaceTree(actorFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Districts []places.District `json:"districts"`
	}{tree})
}

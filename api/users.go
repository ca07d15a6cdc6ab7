package api

import (
	"net/http"

	"github.com/actionledger/actionledger/services/app"
)

func (s *Server) mountUsers(v1 v1Routes) {
	v1.handle(http.MethodPost, "/users", s.createUser)
}

type createUserBody struct {
	envelope
	Name     *string `json:"name"`
	Role     *string `json:"role"`
	District *string `json:"district"`
	Chiefdom *string `json:"chiefdom"`
}

// createUser answers the new user's token once; only its hash is kept.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var b createUserBody
	c, err := readCommand(r, &b)
	if err == nil {
		err = b.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.CreateUser.Handle(r.Context(), app.CreateUser{
		Meta: c.meta, Name: str(b.Name), Role: str(b.Role), District: str(b.District), Chiefdom: str(b.Chiefdom),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeResult(w, res, "")
}

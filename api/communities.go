package api

import (
	"net/http"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

func (s *Server) mountCommunities(v1 v1Routes) {
	v1.handle(http.MethodPost, "/communities", s.registerCommunity)
	v1.handle(http.MethodGet, "/communities/{id}", s.getCommunity)
	v1.handle(http.MethodPost, "/communities/{id}/triggering", s.triggerCommunity)
	v1.handle(http.MethodPost, "/communities/{id}/visits", s.recordVisit)
}

type registerCommunityBody struct {
	envelope
	ID         *string `json:"id"`
	Name       *string `json:"name"`
	District   *string `json:"district"`
	Chiefdom   *string `json:"chiefdom"`
	Section    *string `json:"section"`
	Population *int    `json:"population"`
}

func (s *Server) registerCommunity(w http.ResponseWriter, r *http.Request) {
	var b registerCommunityBody
	c, err := readCommand(r, &b)
	if err == nil {
		err = b.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pop := 0
	if b.Population != nil {
		pop = *b.Population
	}
	res, err := s.app.RegisterCommunity.Handle(r.Context(), app.RegisterCommunity{
		Meta: c.meta, ID: str(b.ID), Name: str(b.Name), Population: pop,
		Place: domain.Place{District: str(b.District), Chiefdom: str(b.Chiefdom), Section: str(b.Section)},
	})
	s.answer(w, r, res, err, "/v1/communities/")
}

func (s *Server) getCommunity(w http.ResponseWriter, r *http.Request) {
	v, err := s.app.Queries.Community(r.Context(), actorFrom(r.Context()), mux.Vars(r)["id"])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeView(w, v.Revision, v)
}

type triggerBody struct {
	envelope
	Attendance *int `json:"attendance"`
}

func (s *Server) triggerCommunity(w http.ResponseWriter, r *http.Request) {
	var b triggerBody
	c, err := readCommand(r, &b)
	if err == nil {
		err = b.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.TriggerCommunity.Handle(r.Context(), app.TriggerCommunity{
		Meta: c.meta, CommunityID: mux.Vars(r)["id"], Attendance: b.Attendance,
	})
	s.answer(w, r, res, err, "")
}

type visitBody struct {
	envelope
	Kind        *string          `json:"kind"`
	TrustRating *int             `json:"trust_rating"`
	Concerns    []domain.Concern `json:"concerns"`
}

// recordVisit answers 201: each visit is a new record on the community's
// stream, though it has no URL of its own.
func (s *Server) recordVisit(w http.ResponseWriter, r *http.Request) {
	var b visitBody
	c, err := readCommand(r, &b)
	if err == nil {
		err = b.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.RecordVisit.Handle(r.Context(), app.RecordVisit{
		Meta: c.meta, CommunityID: mux.Vars(r)["id"], Kind: str(b.Kind), TrustRating: b.TrustRating, Concerns: b.Concerns,
	})
	if err == nil {
		res.Created = true
	}
	s.answer(w, r, res, err, "")
}

// answer writes a command's result or error. A create's Location is
// locationPrefix followed by the new id.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, res app.Result, err error, locationPrefix string) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	loc := ""
	if locationPrefix != "" {
		loc = locationPrefix + res.ID
	}
	writeResult(w, res, loc)
}

package api

import (
	"net/http"

	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

func (s *Server) mountReferrals(v1 v1Routes) {
	v1.handle(http.MethodPost, "/referrals", s.raiseReferral)
	v1.handle(http.MethodGet, "/referrals/{id}", s.getReferral)
	v1.handle(http.MethodPost, "/referrals/{id}/acknowledge", s.acknowledgeReferral)
	v1.handle(http.MethodPost, "/referrals/{id}/complete", s.completeReferral)
	v1.handle(http.MethodPost, "/referrals/{id}/close", s.closeReferral)
	v1.handle(http.MethodPost, "/referrals/{id}/cancel", s.cancelReferral)
}

type raiseReferralBody struct {
	envelope
	ID           *string `json:"id"`
	CommunityID  *string `json:"community_id"`
	Kind         *string `json:"kind"`
	Channel      *string `json:"channel"`
	PersonRef    *string `json:"person_ref"`
	SymptomOnset *string `json:"symptom_onset"`
}

func (s *Server) raiseReferral(w http.ResponseWriter, r *http.Request) {
	var b raiseReferralBody
	c, ok := s.readTransition(w, r, &b, &b.envelope)
	if !ok {
		return
	}
	onset, err := parseTime("symptom_onset", b.SymptomOnset)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.RaiseReferral.Handle(r.Context(), app.RaiseReferral{
		Meta: c.meta, ID: str(b.ID), CommunityID: str(b.CommunityID), Kind: str(b.Kind),
		Channel: str(b.Channel), PersonRef: str(b.PersonRef), SymptomOnset: onset,
	})
	s.answer(w, r, res, err, "/v1/referrals/")
}

func (s *Server) getReferral(w http.ResponseWriter, r *http.Request) {
	v, err := s.app.Queries.Referral(r.Context(), actorFrom(r.Context()), mux.Vars(r)["id"])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeView(w, v.Revision, v)
}

func (s *Server) acknowledgeReferral(w http.ResponseWriter, r *http.Request) {
	var b envelope
	if c, ok := s.readTransition(w, r, &b, &b); ok {
		res, err := s.app.AcknowledgeReferral.Handle(r.Context(), app.AcknowledgeReferral{Meta: c.meta, ID: mux.Vars(r)["id"]})
		s.answer(w, r, res, err, "")
	}
}

type completeReferralBody struct {
	envelope
	ArrivedAt *string `json:"arrived_at"`
	Outcome   *string `json:"outcome"`
}

func (s *Server) completeReferral(w http.ResponseWriter, r *http.Request) {
	var b completeReferralBody
	c, ok := s.readTransition(w, r, &b, &b.envelope)
	if !ok {
		return
	}
	arrived, err := parseTime("arrived_at", b.ArrivedAt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.CompleteReferral.Handle(r.Context(), app.CompleteReferral{
		Meta: c.meta, ID: mux.Vars(r)["id"], ArrivedAt: arrived, Outcome: str(b.Outcome),
	})
	s.answer(w, r, res, err, "")
}

func (s *Server) closeReferral(w http.ResponseWriter, r *http.Request) {
	var b envelope
	if c, ok := s.readTransition(w, r, &b, &b); ok {
		res, err := s.app.CloseReferral.Handle(r.Context(), app.CloseReferral{Meta: c.meta, ID: mux.Vars(r)["id"]})
		s.answer(w, r, res, err, "")
	}
}

func (s *Server) cancelReferral(w http.ResponseWriter, r *http.Request) {
	var b reasonBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.CancelReferral.Handle(r.Context(), app.CancelReferral{Meta: c.meta, ID: mux.Vars(r)["id"], Reason: str(b.Reason)})
		s.answer(w, r, res, err, "")
	}
}

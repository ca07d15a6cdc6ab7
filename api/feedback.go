package api

import (
	"net/http"

	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

func (s *Server) mountFeedback(v1 v1Routes) {
	v1.handle(http.MethodPost, "/feedback", s.receiveFeedback)
	v1.handle(http.MethodGet, "/feedback/{id}", s.getFeedback)
	v1.handle(http.MethodPost, "/feedback/{id}/refer", s.referFeedback)
	v1.handle(http.MethodPost, "/feedback/{id}/answer", s.answerFeedback)
	v1.handle(http.MethodPost, "/feedback/{id}/close-loop", s.closeFeedbackLoop)
}

type receiveFeedbackBody struct {
	envelope
	ID           *string `json:"id"`
	CommunityID  *string `json:"community_id"`
	Type         *string `json:"type"`
	Text         *string `json:"text"`
	NeedCategory *string `json:"need_category"`
	Channel      *string `json:"channel"`
}

func (s *Server) receiveFeedback(w http.ResponseWriter, r *http.Request) {
	var b receiveFeedbackBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.ReceiveFeedback.Handle(r.Context(), app.ReceiveFeedback{
			Meta: c.meta, ID: str(b.ID), CommunityID: str(b.CommunityID), Type: str(b.Type),
			Text: str(b.Text), NeedCategory: str(b.NeedCategory), Channel: str(b.Channel),
		})
		s.answer(w, r, res, err, "/v1/feedback/")
	}
}

func (s *Server) getFeedback(w http.ResponseWriter, r *http.Request) {
	v, err := s.app.Queries.Feedback(r.Context(), actorFrom(r.Context()), mux.Vars(r)["id"])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeView(w, v.Revision, v)
}

type referBody struct {
	envelope
	To *string `json:"to"`
}

func (s *Server) referFeedback(w http.ResponseWriter, r *http.Request) {
	var b referBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.ReferFeedback.Handle(r.Context(), app.ReferFeedback{Meta: c.meta, ID: mux.Vars(r)["id"], To: str(b.To)})
		s.answer(w, r, res, err, "")
	}
}

type answerBody struct {
	envelope
	Response *string `json:"response"`
}

func (s *Server) answerFeedback(w http.ResponseWriter, r *http.Request) {
	var b answerBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.AnswerFeedback.Handle(r.Context(), app.AnswerFeedback{Meta: c.meta, ID: mux.Vars(r)["id"], Response: str(b.Response)})
		s.answer(w, r, res, err, "")
	}
}

type closeLoopBody struct {
	envelope
	CommunicatedAt *string `json:"communicated_at"`
	Satisfied      *bool   `json:"satisfied"`
}

func (s *Server) closeFeedbackLoop(w http.ResponseWriter, r *http.Request) {
	var b closeLoopBody
	c, ok := s.readTransition(w, r, &b, &b.envelope)
	if !ok {
		return
	}
	at, err := parseTime("communicated_at", b.CommunicatedAt)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.CloseFeedbackLoop.Handle(r.Context(), app.CloseFeedbackLoop{
		Meta: c.meta, ID: mux.Vars(r)["id"], CommunicatedAt: at, Satisfied: b.Satisfied,
	})
	s.answer(w, r, res, err, "")
}

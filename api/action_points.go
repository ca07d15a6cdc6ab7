package api

import (
	"net/http"

	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

func (s *Server) mountActionPoints(v1 v1Routes) {
	v1.handle(http.MethodPost, "/action-points", s.raiseActionPoint)
	v1.handle(http.MethodGet, "/action-points/{id}", s.getActionPoint)
	v1.handle(http.MethodPost, "/action-points/{id}/start", s.startActionPoint)
	v1.handle(http.MethodPost, "/action-points/{id}/progress", s.noteProgress)
	v1.handle(http.MethodPost, "/action-points/{id}/achieve", s.achieveActionPoint)
	v1.handle(http.MethodPost, "/action-points/{id}/drop", s.dropActionPoint)
	v1.handle(http.MethodPost, "/action-points/{id}/reopen", s.reopenActionPoint)
}

type raiseActionPointBody struct {
	envelope
	ID          *string `json:"id"`
	CommunityID *string `json:"community_id"`
	Title       *string `json:"title"`
	Category    *string `json:"category"`
	Kind        *string `json:"kind"`
	DueDate     *string `json:"due_date"`
}

func (s *Server) raiseActionPoint(w http.ResponseWriter, r *http.Request) {
	var b raiseActionPointBody
	c, err := readCommand(r, &b)
	if err == nil {
		err = b.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.app.RaiseActionPoint.Handle(r.Context(), app.RaiseActionPoint{
		Meta: c.meta, ID: str(b.ID), CommunityID: str(b.CommunityID), Title: str(b.Title),
		Category: str(b.Category), Kind: str(b.Kind), DueDate: str(b.DueDate),
	})
	s.answer(w, r, res, err, "/v1/action-points/")
}

func (s *Server) getActionPoint(w http.ResponseWriter, r *http.Request) {
	v, err := s.app.Queries.ActionPoint(r.Context(), actorFrom(r.Context()), mux.Vars(r)["id"])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeView(w, v.Revision, v)
}

type noteBody struct {
	envelope
	Note *string `json:"note"`
}

type evidenceBody struct {
	envelope
	Evidence *string `json:"evidence"`
}

type reasonBody struct {
	envelope
	Reason *string `json:"reason"`
}

func (s *Server) startActionPoint(w http.ResponseWriter, r *http.Request) {
	var b noteBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.StartActionPoint.Handle(r.Context(), app.StartActionPoint{Meta: c.meta, ID: mux.Vars(r)["id"], Note: str(b.Note)})
		s.answer(w, r, res, err, "")
	}
}

func (s *Server) noteProgress(w http.ResponseWriter, r *http.Request) {
	var b noteBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.NoteProgress.Handle(r.Context(), app.NoteProgress{Meta: c.meta, ID: mux.Vars(r)["id"], Note: str(b.Note)})
		s.answer(w, r, res, err, "")
	}
}

func (s *Server) achieveActionPoint(w http.ResponseWriter, r *http.Request) {
	var b evidenceBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.AchieveActionPoint.Handle(r.Context(), app.AchieveActionPoint{Meta: c.meta, ID: mux.Vars(r)["id"], Evidence: str(b.Evidence)})
		s.answer(w, r, res, err, "")
	}
}

func (s *Server) dropActionPoint(w http.ResponseWriter, r *http.Request) {
	var b reasonBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.DropActionPoint.Handle(r.Context(), app.DropActionPoint{Meta: c.meta, ID: mux.Vars(r)["id"], Reason: str(b.Reason)})
		s.answer(w, r, res, err, "")
	}
}

func (s *Server) reopenActionPoint(w http.ResponseWriter, r *http.Request) {
	var b reasonBody
	if c, ok := s.readTransition(w, r, &b, &b.envelope); ok {
		res, err := s.app.ReopenActionPoint.Handle(r.Context(), app.ReopenActionPoint{Meta: c.meta, ID: mux.Vars(r)["id"], Reason: str(b.Reason)})
		s.answer(w, r, res, err, "")
	}
}

// readTransition reads a transition's body and envelope, answering the error
// itself; ok is false when it did.
func (s *Server) readTransition(w http.ResponseWriter, r *http.Request, body any, env *envelope) (*command, bool) {
	c, err := readCommand(r, body)
	if err == nil {
		err = env.apply(c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return c, true
}

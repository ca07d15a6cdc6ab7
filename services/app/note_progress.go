package app

import (
	"context"

	"github.com/actionledger/actionledger/domain"
)

// NoteProgress adds a progress note to an action point.
type NoteProgress struct {
	Meta
	ID   string
	Note string
}

// NewNoteProgressHandler returns the decorated handler.
func NewNoteProgressHandler(w *Writer, d Decorators) Handler[NoteProgress] {
	return decorate(d, "note_progress", HandlerFunc[NoteProgress](func(ctx context.Context, c NoteProgress) (Result, error) {
		if err := requireStep(c.Actor, CaseActionPoint, domain.StepNoteProgress); err != nil {
			return Result{}, err
		}
		return updateActionPoint(ctx, w, &c.Meta, c.ID, func(x *domain.ActionPoint) error { return x.NoteProgress(c.Note) })
	}))
}

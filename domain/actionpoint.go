package domain

import "github.com/actionledger/actionledger/domain/wire"

// ActionPoint is one line of a community's action plan: open → in_progress →
// achieved; any non-final state → dropped; achieved or dropped → in_progress
// again by reopen.
type ActionPoint struct {
	root
	id          string
	communityID string
	place       Place
	title       string
	category    string
	kind        string
	due         Date
	status      string
	notes       int
	lastNote    string
	evidence    string
	reason      string
}

// LoadActionPoint rebuilds an action point from its stream.
func LoadActionPoint(history []Event) (*ActionPoint, error) {
	a := &ActionPoint{}
	return a, load(&a.root, history, a.apply)
}

// Apply folds events appended to the action point's stream after it was loaded
// (by this or another replica) into it, keeping its revision in step.
func (a *ActionPoint) Apply(history []Event) error { return load(&a.root, history, a.apply) }

// Exists reports whether the action point has been raised.
func (a *ActionPoint) Exists() bool { return a.status != "" }

// Place returns the place of the action point's community.
func (a *ActionPoint) Place() Place { return a.place }

// RaiseActionPoint is the command to raise a new action point.
type RaiseActionPoint struct {
	ID       string
	Title    string
	Category string
	Kind     string
	DueDate  string
}

// Raise records a new action point of community. A one-off action needs a due
// date; a continuous duty may have none.
func (a *ActionPoint) Raise(cmd RaiseActionPoint, community *Community) error {
	if a.Exists() {
		return Errorf(CodeAlreadyExists, "action point %s already exists", a.id)
	}
	if err := ValidateID("id", cmd.ID); err != nil {
		return err
	}
	if community == nil || !community.Exists() {
		return &Error{Code: CodeNotFound, Field: "community_id", Message: "no such community"}
	}
	title, err := text("title", cmd.Title, true, maxTitle)
	if err != nil {
		return err
	}
	category, err := Categories.parse("category", cmd.Category, true)
	if err != nil {
		return err
	}
	kind, err := ActionKinds.parse("kind", cmd.Kind, true)
	if err != nil {
		return err
	}
	due, err := ParseDate("due_date", cmd.DueDate, kind == "one_off")
	if err != nil {
		return err
	}
	record(&a.root, &ActionPointRaised{
		ID: cmd.ID, CommunityID: community.ID(), Place: community.Place(),
		Title: title, Category: category, Kind: kind, DueDate: due,
	}, a.apply)
	return nil
}

// Start begins work on an open action point.
func (a *ActionPoint) Start(note string) error {
	if err := a.allow(StepStart); err != nil {
		return err
	}
	n, err := text("note", note, false, maxText)
	if err != nil {
		return err
	}
	record(&a.root, &ActionPointStarted{Note: n}, a.apply)
	return nil
}

// NoteProgress adds a progress note to an action point that is not final.
func (a *ActionPoint) NoteProgress(note string) error {
	if err := a.allow(StepNoteProgress); err != nil {
		return err
	}
	n, err := text("note", note, true, maxText)
	if err != nil {
		return err
	}
	record(&a.root, &ActionPointProgressNoted{Note: n}, a.apply)
	return nil
}

// Achieve marks an action point in progress as achieved.
func (a *ActionPoint) Achieve(evidence string) error {
	if err := a.allow(StepAchieve); err != nil {
		return err
	}
	ev, err := text("evidence", evidence, false, maxText)
	if err != nil {
		return err
	}
	record(&a.root, &ActionPointAchieved{Evidence: ev}, a.apply)
	return nil
}

// Drop abandons an action point that is not final; the reason is required.
func (a *ActionPoint) Drop(reason string) error {
	if err := a.allow(StepDrop); err != nil {
		return err
	}
	r, err := text("reason", reason, true, maxText)
	if err != nil {
		return err
	}
	record(&a.root, &ActionPointDropped{Reason: r}, a.apply)
	return nil
}

// Reopen brings an achieved or dropped action point back in progress.
func (a *ActionPoint) Reopen(reason string) error {
	if err := a.allow(StepReopen); err != nil {
		return err
	}
	r, err := text("reason", reason, true, maxText)
	if err != nil {
		return err
	}
	record(&a.root, &ActionPointReopened{Reason: r}, a.apply)
	return nil
}

// allow refuses step unless the action point exists and its lifecycle table
// allows step from its status.
func (a *ActionPoint) allow(step string) error {
	if !a.Exists() {
		return Errorf(CodeNotFound, "action point not found")
	}
	return actionPointLifecycle.check(a.status, step)
}

func (a *ActionPoint) apply(e Event) bool {
	switch e := e.(type) {
	case *ActionPointRaised:
		a.id, a.communityID, a.place = e.ID, e.CommunityID, e.Place
		a.title, a.category, a.kind, a.due = e.Title, e.Category, e.Kind, e.DueDate
		a.status = StatusOpen
	case *ActionPointStarted:
		a.status = StatusInProgress
		if e.Note != "" {
			a.notes++
			a.lastNote = e.Note
		}
	case *ActionPointProgressNoted:
		a.notes++
		a.lastNote = e.Note
	case *ActionPointAchieved:
		a.status, a.evidence = StatusAchieved, e.Evidence
	case *ActionPointDropped:
		a.status, a.reason = StatusDropped, e.Reason
	case *ActionPointReopened:
		a.status, a.reason, a.evidence = StatusInProgress, e.Reason, ""
	default:
		return false
	}
	return true
}

// ActionPointView is an action point's current state, for reading.
type ActionPointView struct {
	ID          string `json:"id"`
	CommunityID string `json:"community_id"`
	Place
	Title         string `json:"title"`
	Category      string `json:"category"`
	Kind          string `json:"kind"`
	DueDate       Date   `json:"due_date,omitempty"`
	Status        string `json:"status"`
	ProgressNotes int    `json:"progress_notes"`
	LastNote      string `json:"last_note,omitempty"`
	Evidence      string `json:"evidence,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Revision      uint64 `json:"revision"`
}

// View returns the action point's state.
func (a *ActionPoint) View() ActionPointView {
	return ActionPointView{
		ID: a.id, CommunityID: a.communityID, Place: a.place, Title: a.title,
		Category: a.category, Kind: a.kind, DueDate: a.due, Status: a.status,
		ProgressNotes: a.notes, LastNote: a.lastNote, Evidence: a.evidence, Reason: a.reason,
		Revision: a.revision + uint64(len(a.changes)),
	}
}

// ActionPointRaised.v1: a community's action point was written down. The
// community's place is copied in so that readers never need a join.
type ActionPointRaised struct {
	ID          string `json:"id"`
	CommunityID string `json:"community_id"`
	Place
	Title    string `json:"title"`
	Category string `json:"category"`
	Kind     string `json:"kind"`
	DueDate  Date   `json:"due_date,omitempty"`
}

// EventType implements Event.
func (*ActionPointRaised) EventType() string { return "ActionPointRaised.v1" }
func (e *ActionPointRaised) encode(w *wire.Encoder) {
	w.String(e.ID)
	w.String(e.CommunityID)
	encodePlace(w, e.Place)
	w.String(e.Title)
	w.String(e.Category)
	w.String(e.Kind)
	w.String(string(e.DueDate))
}
func (e *ActionPointRaised) decode(r *wire.Decoder) {
	e.ID, e.CommunityID, e.Place = r.String(), r.String(), decodePlace(r)
	e.Title, e.Category, e.Kind, e.DueDate = r.String(), r.String(), r.String(), Date(r.String())
}

// ActionPointStarted.v1: work began.
type ActionPointStarted struct {
	Note string `json:"note,omitempty"`
}

// EventType implements Event.
func (*ActionPointStarted) EventType() string        { return "ActionPointStarted.v1" }
func (e *ActionPointStarted) encode(w *wire.Encoder) { w.String(e.Note) }
func (e *ActionPointStarted) decode(r *wire.Decoder) { e.Note = r.String() }

// ActionPointProgressNoted.v1: a mobilizer noted progress.
type ActionPointProgressNoted struct {
	Note string `json:"note"`
}

// EventType implements Event.
func (*ActionPointProgressNoted) EventType() string        { return "ActionPointProgressNoted.v1" }
func (e *ActionPointProgressNoted) encode(w *wire.Encoder) { w.String(e.Note) }
func (e *ActionPointProgressNoted) decode(r *wire.Decoder) { e.Note = r.String() }

// ActionPointAchieved.v1: the action was carried out.
type ActionPointAchieved struct {
	Evidence string `json:"evidence,omitempty"`
}

// EventType implements Event.
func (*ActionPointAchieved) EventType() string        { return "ActionPointAchieved.v1" }
func (e *ActionPointAchieved) encode(w *wire.Encoder) { w.String(e.Evidence) }
func (e *ActionPointAchieved) decode(r *wire.Decoder) { e.Evidence = r.String() }

// ActionPointDropped.v1: the action was abandoned.
type ActionPointDropped struct {
	Reason string `json:"reason"`
}

// EventType implements Event.
func (*ActionPointDropped) EventType() string        { return "ActionPointDropped.v1" }
func (e *ActionPointDropped) encode(w *wire.Encoder) { w.String(e.Reason) }
func (e *ActionPointDropped) decode(r *wire.Decoder) { e.Reason = r.String() }

// ActionPointReopened.v1: an achieved or dropped action is back in progress.
type ActionPointReopened struct {
	Reason string `json:"reason"`
}

// EventType implements Event.
func (*ActionPointReopened) EventType() string        { return "ActionPointReopened.v1" }
func (e *ActionPointReopened) encode(w *wire.Encoder) { w.String(e.Reason) }
func (e *ActionPointReopened) decode(r *wire.Decoder) { e.Reason = r.String() }

package domain

import (
	"time"

	"github.com/actionledger/actionledger/domain/wire"
)

// FeedbackItem is something a community said — a question, a rumour, a
// complaint — followed until the answer is taken back: received → referred →
// answered → loop_closed.
type FeedbackItem struct {
	root
	id             string
	communityID    string
	place          Place
	typ            string
	text           string
	need           string
	channel        string
	to             string
	response       string
	receivedAt     time.Time
	communicatedAt time.Time
	satisfied      *bool
	status         string
}

// LoadFeedbackItem rebuilds a feedback item from its stream.
func LoadFeedbackItem(history []Event) (*FeedbackItem, error) {
	f := &FeedbackItem{}
	return f, load(&f.root, history, f.apply)
}

// Apply folds events appended to the feedback item's stream after it was loaded
// (by this or another replica) into it, keeping its revision in step.
func (f *FeedbackItem) Apply(history []Event) error { return load(&f.root, history, f.apply) }

// Exists reports whether the item has been received.
func (f *FeedbackItem) Exists() bool { return f.status != "" }

// Place returns the place of the item's community.
func (f *FeedbackItem) Place() Place { return f.place }

// ReceiveFeedback is the command to record a community's feedback.
type ReceiveFeedback struct {
	ID           string
	Type         string
	Text         string
	NeedCategory string
	Channel      string
	// At is when the feedback was received in the field.
	At time.Time
}

// Receive records new feedback from community.
func (f *FeedbackItem) Receive(cmd ReceiveFeedback, community *Community) error {
	if f.Exists() {
		return Errorf(CodeAlreadyExists, "feedback item %s already exists", f.id)
	}
	if err := ValidateID("id", cmd.ID); err != nil {
		return err
	}
	if community == nil || !community.Exists() {
		return &Error{Code: CodeNotFound, Field: "community_id", Message: "no such community"}
	}
	typ, err := FeedbackTypes.parse("type", cmd.Type, true)
	if err != nil {
		return err
	}
	body, err := text("text", cmd.Text, true, maxText)
	if err != nil {
		return err
	}
	need, err := Needs.parse("need_category", cmd.NeedCategory, false)
	if err != nil {
		return err
	}
	channel, err := Channels.parse("channel", cmd.Channel, false)
	if err != nil {
		return err
	}
	if channel == "" {
		channel = "mobilizer"
	}
	record(&f.root, &FeedbackReceived{
		ID: cmd.ID, CommunityID: community.ID(), Place: community.Place(),
		Type: typ, Text: body, NeedCategory: need, Channel: channel, ReceivedAt: utc(cmd.At),
	}, f.apply)
	return nil
}

// Refer passes received feedback to whoever can answer it.
func (f *FeedbackItem) Refer(to string) error {
	if err := f.allow(StepRefer); err != nil {
		return err
	}
	who, err := text("to", to, true, maxName)
	if err != nil {
		return err
	}
	record(&f.root, &FeedbackReferred{To: who}, f.apply)
	return nil
}

// Answer records the response to referred feedback.
func (f *FeedbackItem) Answer(response string) error {
	if err := f.allow(StepAnswer); err != nil {
		return err
	}
	resp, err := text("response", response, true, maxText)
	if err != nil {
		return err
	}
	record(&f.root, &FeedbackAnswered{Response: resp}, f.apply)
	return nil
}

// CloseLoop records that the answer was taken back to the community and
// whether it was satisfied.
func (f *FeedbackItem) CloseLoop(communicatedAt time.Time, satisfied bool) error {
	if err := f.allow(StepCloseLoop); err != nil {
		return err
	}
	if err := validTime("communicated_at", communicatedAt, true); err != nil {
		return err
	}
	if err := notBefore("communicated_at", communicatedAt, f.receivedAt, "the feedback was received"); err != nil {
		return err
	}
	record(&f.root, &FeedbackLoopClosed{CommunicatedAt: utc(communicatedAt), Satisfied: satisfied}, f.apply)
	return nil
}

func (f *FeedbackItem) allow(step string) error {
	if !f.Exists() {
		return Errorf(CodeNotFound, "feedback item not found")
	}
	return feedbackLifecycle.check(f.status, step)
}

func (f *FeedbackItem) apply(e Event) bool {
	switch e := e.(type) {
	case *FeedbackReceived:
		f.id, f.communityID, f.place = e.ID, e.CommunityID, e.Place
		f.typ, f.text, f.need, f.channel, f.receivedAt = e.Type, e.Text, e.NeedCategory, e.Channel, e.ReceivedAt
		f.status = StatusReceived
	case *FeedbackReferred:
		f.status, f.to = StatusReferred, e.To
	case *FeedbackAnswered:
		f.status, f.response = StatusAnswered, e.Response
	case *FeedbackLoopClosed:
		satisfied := e.Satisfied
		f.status, f.communicatedAt, f.satisfied = StatusLoopClosed, e.CommunicatedAt, &satisfied
	default:
		return false
	}
	return true
}

// FeedbackView is a feedback item's current state, for reading.
type FeedbackView struct {
	ID          string `json:"id"`
	CommunityID string `json:"community_id"`
	Place
	Type           string     `json:"type"`
	Text           string     `json:"text"`
	NeedCategory   string     `json:"need_category,omitempty"`
	Channel        string     `json:"channel"`
	Status         string     `json:"status"`
	To             string     `json:"to,omitempty"`
	Response       string     `json:"response,omitempty"`
	CommunicatedAt *time.Time `json:"communicated_at,omitempty"`
	Satisfied      *bool      `json:"satisfied,omitempty"`
	Revision       uint64     `json:"revision"`
}

// View returns the feedback item's state.
func (f *FeedbackItem) View() FeedbackView {
	return FeedbackView{
		ID: f.id, CommunityID: f.communityID, Place: f.place, Type: f.typ, Text: f.text,
		NeedCategory: f.need, Channel: f.channel, Status: f.status, To: f.to, Response: f.response,
		CommunicatedAt: timePtr(f.communicatedAt), Satisfied: boolPtr(f.satisfied),
		Revision: f.revision + uint64(len(f.changes)),
	}
}

// FeedbackReceived.v1: a community's feedback was written down.
type FeedbackReceived struct {
	ID          string `json:"id"`
	CommunityID string `json:"community_id"`
	Place
	Type         string `json:"type"`
	Text         string `json:"text"`
	NeedCategory string `json:"need_category,omitempty"`
	Channel      string `json:"channel"`
	// ReceivedAt is the field time of the receipt (its occurred_at), kept in
	// the event so the item can refuse a loop closure dated before it.
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// EventType implements Event.
func (*FeedbackReceived) EventType() string { return "FeedbackReceived.v1" }
func (e *FeedbackReceived) encode(w *wire.Encoder) {
	w.String(e.ID)
	w.String(e.CommunityID)
	encodePlace(w, e.Place)
	w.String(e.Type)
	w.String(e.Text)
	w.String(e.NeedCategory)
	w.String(e.Channel)
	w.Time(e.ReceivedAt)
}
func (e *FeedbackReceived) decode(r *wire.Decoder) {
	e.ID, e.CommunityID, e.Place = r.String(), r.String(), decodePlace(r)
	e.Type, e.Text, e.NeedCategory, e.Channel, e.ReceivedAt = r.String(), r.String(), r.String(), r.String(), r.Time()
}

// FeedbackReferred.v1: the item was passed to someone who can answer.
type FeedbackReferred struct {
	To string `json:"to"`
}

// EventType implements Event.
func (*FeedbackReferred) EventType() string        { return "FeedbackReferred.v1" }
func (e *FeedbackReferred) encode(w *wire.Encoder) { w.String(e.To) }
func (e *FeedbackReferred) decode(r *wire.Decoder) { e.To = r.String() }

// FeedbackAnswered.v1: an answer was given.
type FeedbackAnswered struct {
	Response string `json:"response"`
}

// EventType implements Event.
func (*FeedbackAnswered) EventType() string        { return "FeedbackAnswered.v1" }
func (e *FeedbackAnswered) encode(w *wire.Encoder) { w.String(e.Response) }
func (e *FeedbackAnswered) decode(r *wire.Decoder) { e.Response = r.String() }

// FeedbackLoopClosed.v1: the answer was taken back to the community.
type FeedbackLoopClosed struct {
	CommunicatedAt time.Time `json:"communicated_at"`
	Satisfied      bool      `json:"satisfied"`
}

// EventType implements Event.
func (*FeedbackLoopClosed) EventType() string { return "FeedbackLoopClosed.v1" }
func (e *FeedbackLoopClosed) encode(w *wire.Encoder) {
	w.Time(e.CommunicatedAt)
	w.Bool(e.Satisfied)
}
func (e *FeedbackLoopClosed) decode(r *wire.Decoder) {
	e.CommunicatedAt, e.Satisfied = r.Time(), r.Bool()
}

func boolPtr(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

package domain

import (
	"time"

	"github.com/actionledger/actionledger/domain/wire"
)

// Referral passes a suspected case, a death or another alert from a community
// to the response: raised → acknowledged → completed → closed, or cancelled
// before completion. It carries a pseudonymous person_ref only, never a name.
type Referral struct {
	root
	id           string
	communityID  string
	place        Place
	kind         string
	channel      string
	personRef    string
	symptomOnset time.Time
	raisedAt     time.Time
	arrivedAt    time.Time
	outcome      string
	reason       string
	status       string
}

// LoadReferral rebuilds a referral from its stream.
func LoadReferral(history []Event) (*Referral, error) {
	r := &Referral{}
	return r, load(&r.root, history, r.apply)
}

// Apply folds events appended to the referral's stream after it was loaded
// (by this or another replica) into it, keeping its revision in step.
func (r *Referral) Apply(history []Event) error { return load(&r.root, history, r.apply) }

// Exists reports whether the referral has been raised.
func (r *Referral) Exists() bool { return r.status != "" }

// Place returns the place of the referral's community.
func (r *Referral) Place() Place { return r.place }

// RaiseReferral is the command to raise a referral.
type RaiseReferral struct {
	ID           string
	Kind         string
	Channel      string
	PersonRef    string
	SymptomOnset time.Time
	// At is when the referral was raised in the field.
	At time.Time
}

// Raise records a new referral from community. A suspected case needs the
// symptom onset, which cannot be after the referral was raised.
func (r *Referral) Raise(cmd RaiseReferral, community *Community) error {
	if r.Exists() {
		return Errorf(CodeAlreadyExists, "referral %s already exists", r.id)
	}
	if err := ValidateID("id", cmd.ID); err != nil {
		return err
	}
	if community == nil || !community.Exists() {
		return &Error{Code: CodeNotFound, Field: "community_id", Message: "no such community"}
	}
	kind, err := ReferralKinds.parse("kind", cmd.Kind, true)
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
	if err := validatePersonRef(cmd.PersonRef); err != nil {
		return err
	}
	if err := validTime("symptom_onset", cmd.SymptomOnset, kind == "suspected_case"); err != nil {
		if cmd.SymptomOnset.IsZero() {
			return FieldError("symptom_onset", "is required for a suspected case")
		}
		return err
	}
	if !cmd.At.IsZero() && cmd.SymptomOnset.After(cmd.At) {
		return FieldError("symptom_onset", "is after the referral was raised")
	}
	record(&r.root, &ReferralRaised{
		ID: cmd.ID, CommunityID: community.ID(), Place: community.Place(), Kind: kind,
		Channel: channel, PersonRef: cmd.PersonRef, SymptomOnset: utc(cmd.SymptomOnset), RaisedAt: utc(cmd.At),
	}, r.apply)
	return nil
}

// validatePersonRef accepts a code such as "P-2291" or a UUID and refuses
// anything with spaces, which is what a name would need.
func validatePersonRef(ref string) error {
	if ref == "" {
		return nil
	}
	if err := ValidateID("person_ref", ref); err != nil {
		return &Error{Code: CodeInvalid, Field: "person_ref", Message: "must be a pseudonymous code (letters, digits, - _ . :), never a name"}
	}
	return nil
}

// Acknowledge records that the response took the referral on.
func (r *Referral) Acknowledge() error {
	if err := r.allow(StepAcknowledge); err != nil {
		return err
	}
	record(&r.root, &ReferralAcknowledged{}, r.apply)
	return nil
}

// Complete records the response's arrival and the outcome.
func (r *Referral) Complete(arrivedAt time.Time, outcome string) error {
	if err := r.allow(StepComplete); err != nil {
		return err
	}
	if err := validTime("arrived_at", arrivedAt, true); err != nil {
		return err
	}
	// A response cannot arrive before it was called; a phone's wrong date
	// would otherwise turn into a negative time to completion.
	if err := notBefore("arrived_at", arrivedAt, r.raisedAt, "the referral was raised"); err != nil {
		return err
	}
	out, err := Outcomes.parse("outcome", outcome, true)
	if err != nil {
		return err
	}
	record(&r.root, &ReferralCompleted{ArrivedAt: utc(arrivedAt), Outcome: out}, r.apply)
	return nil
}

// Close closes a completed referral.
func (r *Referral) Close() error {
	if err := r.allow(StepClose); err != nil {
		return err
	}
	record(&r.root, &ReferralClosed{}, r.apply)
	return nil
}

// Cancel withdraws a referral that has not been completed.
func (r *Referral) Cancel(reason string) error {
	if err := r.allow(StepCancel); err != nil {
		return err
	}
	why, err := text("reason", reason, true, maxText)
	if err != nil {
		return err
	}
	record(&r.root, &ReferralCancelled{Reason: why}, r.apply)
	return nil
}

func (r *Referral) allow(step string) error {
	if !r.Exists() {
		return Errorf(CodeNotFound, "referral not found")
	}
	return referralLifecycle.check(r.status, step)
}

func (r *Referral) apply(e Event) bool {
	switch e := e.(type) {
	case *ReferralRaised:
		r.id, r.communityID, r.place = e.ID, e.CommunityID, e.Place
		r.kind, r.channel, r.personRef, r.symptomOnset, r.raisedAt = e.Kind, e.Channel, e.PersonRef, e.SymptomOnset, e.RaisedAt
		r.status = StatusRaised
	case *ReferralAcknowledged:
		r.status = StatusAcknowledged
	case *ReferralCompleted:
		r.status, r.arrivedAt, r.outcome = StatusCompleted, e.ArrivedAt, e.Outcome
	case *ReferralClosed:
		r.status = StatusClosed
	case *ReferralCancelled:
		r.status, r.reason = StatusCancelled, e.Reason
	default:
		return false
	}
	return true
}

// ReferralView is a referral's current state, for reading.
type ReferralView struct {
	ID          string `json:"id"`
	CommunityID string `json:"community_id"`
	Place
	Kind         string     `json:"kind"`
	Channel      string     `json:"channel"`
	PersonRef    string     `json:"person_ref,omitempty"`
	SymptomOnset *time.Time `json:"symptom_onset,omitempty"`
	Status       string     `json:"status"`
	ArrivedAt    *time.Time `json:"arrived_at,omitempty"`
	Outcome      string     `json:"outcome,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	Revision     uint64     `json:"revision"`
}

// View returns the referral's state.
func (r *Referral) View() ReferralView {
	return ReferralView{
		ID: r.id, CommunityID: r.communityID, Place: r.place, Kind: r.kind, Channel: r.channel,
		PersonRef: r.personRef, SymptomOnset: timePtr(r.symptomOnset), Status: r.status,
		ArrivedAt: timePtr(r.arrivedAt), Outcome: r.outcome, Reason: r.reason,
		Revision: r.revision + uint64(len(r.changes)),
	}
}

// ReferralRaised.v1: a referral was raised for a community.
type ReferralRaised struct {
	ID          string `json:"id"`
	CommunityID string `json:"community_id"`
	Place
	Kind         string    `json:"kind"`
	Channel      string    `json:"channel"`
	PersonRef    string    `json:"person_ref,omitempty"`
	SymptomOnset time.Time `json:"symptom_onset,omitzero"`
	// RaisedAt is the field time of the raise (its occurred_at), kept in the
	// event so the referral can refuse a completion dated before it.
	RaisedAt time.Time `json:"raised_at,omitzero"`
}

// EventType implements Event.
func (*ReferralRaised) EventType() string { return "ReferralRaised.v1" }
func (e *ReferralRaised) encode(w *wire.Encoder) {
	w.String(e.ID)
	w.String(e.CommunityID)
	encodePlace(w, e.Place)
	w.String(e.Kind)
	w.String(e.Channel)
	w.String(e.PersonRef)
	w.Time(e.SymptomOnset)
	w.Time(e.RaisedAt)
}
func (e *ReferralRaised) decode(r *wire.Decoder) {
	e.ID, e.CommunityID, e.Place = r.String(), r.String(), decodePlace(r)
	e.Kind, e.Channel, e.PersonRef, e.SymptomOnset, e.RaisedAt = r.String(), r.String(), r.String(), r.Time(), r.Time()
}

// ReferralAcknowledged.v1: the response took the referral on.
type ReferralAcknowledged struct{}

// EventType implements Event.
func (*ReferralAcknowledged) EventType() string    { return "ReferralAcknowledged.v1" }
func (*ReferralAcknowledged) encode(*wire.Encoder) {}
func (*ReferralAcknowledged) decode(*wire.Decoder) {}

// ReferralCompleted.v1: the response arrived; outcome says what came of it.
type ReferralCompleted struct {
	ArrivedAt time.Time `json:"arrived_at"`
	Outcome   string    `json:"outcome"`
}

// EventType implements Event.
func (*ReferralCompleted) EventType() string { return "ReferralCompleted.v1" }
func (e *ReferralCompleted) encode(w *wire.Encoder) {
	w.Time(e.ArrivedAt)
	w.String(e.Outcome)
}
func (e *ReferralCompleted) decode(r *wire.Decoder) { e.ArrivedAt, e.Outcome = r.Time(), r.String() }

// ReferralClosed.v1: the referral's file was closed.
type ReferralClosed struct{}

// EventType implements Event.
func (*ReferralClosed) EventType() string    { return "ReferralClosed.v1" }
func (*ReferralClosed) encode(*wire.Encoder) {}
func (*ReferralClosed) decode(*wire.Decoder) {}

// ReferralCancelled.v1: the referral was withdrawn.
type ReferralCancelled struct {
	Reason string `json:"reason"`
}

// EventType implements Event.
func (*ReferralCancelled) EventType() string        { return "ReferralCancelled.v1" }
func (e *ReferralCancelled) encode(w *wire.Encoder) { w.String(e.Reason) }
func (e *ReferralCancelled) decode(r *wire.Decoder) { e.Reason = r.String() }

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

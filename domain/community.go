package domain

import "github.com/actionledger/actionledger/domain/wire"

// Community is a village or neighbourhood in one place chain: registered by a
// coordinator, triggered by a mobilizer's session, then visited every week.
type Community struct {
	root
	id         string
	name       string
	place      Place
	population int
	status     string
	attendance int
	visits     int
	lastTrust  int
}

// LoadCommunity rebuilds a community from its stream; an empty history gives
// a community that does not exist yet.
func LoadCommunity(history []Event) (*Community, error) {
	c := &Community{}
	return c, load(&c.root, history, c.apply)
}

// Apply folds events appended to the community's stream after it was loaded
// (by this or another replica) into it, keeping its revision in step.
func (c *Community) Apply(history []Event) error { return load(&c.root, history, c.apply) }

// Exists reports whether the community has been registered.
func (c *Community) Exists() bool { return c.status != "" }

// ID returns the community's id.
func (c *Community) ID() string { return c.id }

// Place returns where the community is.
func (c *Community) Place() Place { return c.place }

// RegisterCommunity is the command to register a new community.
type RegisterCommunity struct {
	ID         string
	Name       string
	Place      Place
	Population int
}

// Register records a new community; a community that already exists is
// refused (a correction would be its own event).
func (c *Community) Register(cmd RegisterCommunity) error {
	if c.Exists() {
		return Errorf(CodeAlreadyExists, "community %s already exists", c.id)
	}
	if err := ValidateID("id", cmd.ID); err != nil {
		return err
	}
	name, err := text("name", cmd.Name, true, maxName)
	if err != nil {
		return err
	}
	place, err := validatePlace(cmd.Place)
	if err != nil {
		return err
	}
	if cmd.Population < 0 || cmd.Population > 10_000_000 {
		return FieldError("population", "must be between 0 and 10000000")
	}
	record(&c.root, &CommunityRegistered{ID: cmd.ID, Name: name, Place: place, Population: cmd.Population}, c.apply)
	return nil
}

// Trigger records the triggering session; a community is triggered once.
func (c *Community) Trigger(attendance int) error {
	if err := c.allow(StepTrigger); err != nil {
		return err
	}
	if attendance < 0 || attendance > 100_000 {
		return FieldError("attendance", "must be between 0 and 100000")
	}
	record(&c.root, &CommunityTriggered{Attendance: attendance}, c.apply)
	return nil
}

// RecordVisit is the command for a follow-up visit.
type RecordVisit struct {
	Kind        string
	TrustRating int
	Concerns    []Concern
}

// RecordVisit records a visit; visits follow the triggering session.
func (c *Community) RecordVisit(cmd RecordVisit) error {
	if err := c.allow(StepRecordVisit); err != nil {
		return err
	}
	kind, err := VisitKinds.parse("kind", cmd.Kind, true)
	if err != nil {
		return err
	}
	if cmd.TrustRating < 1 || cmd.TrustRating > 5 {
		return FieldError("trust_rating", "must be an integer from 1 to 5")
	}
	concerns, err := validateConcerns(cmd.Concerns)
	if err != nil {
		return err
	}
	record(&c.root, &VisitRecorded{Kind: kind, TrustRating: cmd.TrustRating, Concerns: concerns}, c.apply)
	return nil
}

func (c *Community) allow(step string) error {
	if !c.Exists() {
		return Errorf(CodeNotFound, "community not found")
	}
	return communityLifecycle.check(c.status, step)
}

func (c *Community) apply(e Event) bool {
	switch e := e.(type) {
	case *CommunityRegistered:
		c.id, c.name, c.place, c.population = e.ID, e.Name, e.Place, e.Population
		c.status = StatusRegistered
	case *CommunityTriggered:
		c.attendance = e.Attendance
		c.status = StatusTriggered
	case *VisitRecorded:
		c.visits++
		c.lastTrust = e.TrustRating
		c.status = StatusUnderFollowUp
	default:
		return false
	}
	return true
}

// CommunityView is a community's current state, for reading.
type CommunityView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Place
	Population      int    `json:"population"`
	Status          string `json:"status"`
	Attendance      int    `json:"attendance"`
	Visits          int    `json:"visits"`
	LastTrustRating int    `json:"last_trust_rating,omitempty"`
	Revision        uint64 `json:"revision"`
}

// View returns the community's state as loaded plus recorded changes.
func (c *Community) View() CommunityView {
	return CommunityView{
		ID: c.id, Name: c.name, Place: c.place, Population: c.population, Status: c.status,
		Attendance: c.attendance, Visits: c.visits, LastTrustRating: c.lastTrust,
		Revision: c.revision + uint64(len(c.changes)),
	}
}

// CommunityRegistered.v1: a coordinator registered the community.
type CommunityRegistered struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Place
	Population int `json:"population"`
}

// EventType implements Event.
func (*CommunityRegistered) EventType() string { return "CommunityRegistered.v1" }
func (e *CommunityRegistered) encode(w *wire.Encoder) {
	w.String(e.ID)
	w.String(e.Name)
	encodePlace(w, e.Place)
	w.Varint(int64(e.Population))
}
func (e *CommunityRegistered) decode(r *wire.Decoder) {
	e.ID, e.Name, e.Place, e.Population = r.String(), r.String(), decodePlace(r), r.Int()
}

// CommunityTriggered.v1: the triggering session took place (occurred_at is
// its date).
type CommunityTriggered struct {
	Attendance int `json:"attendance"`
}

// EventType implements Event.
func (*CommunityTriggered) EventType() string        { return "CommunityTriggered.v1" }
func (e *CommunityTriggered) encode(w *wire.Encoder) { w.Varint(int64(e.Attendance)) }
func (e *CommunityTriggered) decode(r *wire.Decoder) { e.Attendance = r.Int() }

// VisitRecorded.v1: a mobilizer visited the community (occurred_at is when).
type VisitRecorded struct {
	Kind        string    `json:"kind"`
	TrustRating int       `json:"trust_rating"`
	Concerns    []Concern `json:"concerns,omitempty"`
}

// EventType implements Event.
func (*VisitRecorded) EventType() string { return "VisitRecorded.v1" }
func (e *VisitRecorded) encode(w *wire.Encoder) {
	w.String(e.Kind)
	w.Varint(int64(e.TrustRating))
	w.Uvarint(uint64(len(e.Concerns)))
	for _, c := range e.Concerns {
		w.String(c.Need)
		w.String(c.Text)
	}
}
func (e *VisitRecorded) decode(r *wire.Decoder) {
	e.Kind, e.TrustRating = r.String(), r.Int()
	for i, n := 0, r.Count(); i < n; i++ {
		e.Concerns = append(e.Concerns, Concern{Need: r.String(), Text: r.String()})
	}
}

func encodePlace(w *wire.Encoder, p Place) {
	w.String(p.District)
	w.String(p.Chiefdom)
	w.String(p.Section)
}

func decodePlace(r *wire.Decoder) Place {
	return Place{District: r.String(), Chiefdom: r.String(), Section: r.String()}
}

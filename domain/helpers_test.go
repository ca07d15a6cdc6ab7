package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Field times of the fixtures: a suspected case in Kailahun, February 2015.
var (
	raisedAt  = time.Date(2015, time.February, 10, 9, 30, 0, 0, time.UTC)
	onsetAt   = raisedAt.Add(-30 * time.Hour)
	arrivedAt = raisedAt.Add(5*time.Hour + 15*time.Minute)
	toldAt    = raisedAt.Add(72 * time.Hour)
)

// The closed vocabularies exactly as PRODUCT.md lists them. They are written
// out here, not taken from the domain package, so that a deviation shows.
var (
	specCategories    = []string{"surveillance", "isolation", "safe_burial", "hygiene", "referral", "by_law", "stigma", "other"}
	specActionKinds   = []string{"one_off", "continuous"}
	specVisitKinds    = []string{"initial", "follow_up"}
	specNeeds         = []string{"basic", "security", "autonomy", "respect", "social_support", "capacity"}
	specReferralKinds = []string{"suspected_case", "death_alert", "other"}
	specChannels      = []string{"mobilizer", "hotline_117", "other"}
	specOutcomes      = []string{"admitted", "safe_burial", "unsafe_burial", "not_found", "refused", "other"}
	specFeedbackTypes = []string{"question", "concern", "complaint", "rumour", "suggestion", "appreciation", "refusal"}
	specRoles         = []string{"mobilizer", "coordinator", "auditor", "admin"}
)

func registerCmd() domain.RegisterCommunity {
	return domain.RegisterCommunity{
		ID:         "KAI-0042",
		Name:       "Ngiehun",
		Place:      domain.Place{District: "Kailahun", Chiefdom: "Luawa", Section: "Giema"},
		Population: 812,
	}
}

func raiseAPCmd() domain.RaiseActionPoint {
	return domain.RaiseActionPoint{
		ID:       "AP-0001",
		Title:    "Build a hand-washing station at the market",
		Category: "hygiene",
		Kind:     "one_off",
		DueDate:  "2015-03-01",
	}
}

func raiseReferralCmd() domain.RaiseReferral {
	return domain.RaiseReferral{
		ID:           "REF-0001",
		Kind:         "suspected_case",
		Channel:      "hotline_117",
		PersonRef:    "P-2291",
		SymptomOnset: onsetAt,
		At:           raisedAt,
	}
}

func receiveCmd() domain.ReceiveFeedback {
	return domain.ReceiveFeedback{
		ID:           "FB-0001",
		Type:         "rumour",
		Text:         "People say the chlorine spreads the disease.",
		NeedCategory: "respect",
		Channel:      "mobilizer",
	}
}

func createUserCmd() domain.CreateUser {
	return domain.CreateUser{
		ID:        "u-mob-1",
		Name:      "Aminata Sesay",
		Role:      "mobilizer",
		District:  "Kailahun",
		Chiefdom:  "Luawa",
		TokenHash: []byte{0xde, 0xad, 0xbe, 0xef},
	}
}

func visitCmd() domain.RecordVisit {
	return domain.RecordVisit{
		Kind:        "follow_up",
		TrustRating: 4,
		Concerns: []domain.Concern{
			{Need: "basic", Text: "no rice since the quarantine"},
			{Need: "respect", Text: "burial team did not greet the elders"},
		},
	}
}

// mustOK fails the test now if err is not nil.
func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// wantError asserts that err matches the sentinel and, through errors.As, is
// an *domain.Error naming field (field "" means: names no field).
func wantError(t *testing.T, err error, sentinel error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want %v on field %q", sentinel, field)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("got error %v (code %s); want it to match %v", err, domain.ErrorCode(err), sentinel)
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not an *domain.Error", err, err)
	}
	if de.Field != field {
		t.Fatalf("error %v names field %q; want %q", err, de.Field, field)
	}
	if de.Message == "" {
		t.Errorf("error %v has an empty message", err)
	}
}

// wantInvalid asserts a CodeInvalid error on field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	wantError(t, err, domain.ErrInvalid, field)
}

// changes is the subset of an aggregate's API that every test needs.
type changes interface {
	Changes() []domain.Event
	Revision() uint64
}

// wantNoChanges asserts the aggregate recorded nothing.
func wantNoChanges(t *testing.T, a changes) {
	t.Helper()
	if n := len(a.Changes()); n != 0 {
		t.Fatalf("recorded %d events (%s); want none", n, eventTypes(a.Changes()))
	}
}

// wantEvents asserts the types of the recorded events, in order.
func wantEvents(t *testing.T, a changes, types ...string) {
	t.Helper()
	if got, want := eventTypes(a.Changes()), strings.Join(types, ","); got != want {
		t.Fatalf("recorded events [%s]; want [%s]", got, want)
	}
}

func eventTypes(es []domain.Event) string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.EventType()
	}
	return strings.Join(names, ",")
}

// newCommunity registers a community through its command.
func newCommunity(t *testing.T) *domain.Community {
	t.Helper()
	c := &domain.Community{}
	mustOK(t, c.Register(registerCmd()), "register community")
	return c
}

// triggeredCommunity registers and triggers a community.
func triggeredCommunity(t *testing.T) *domain.Community {
	t.Helper()
	c := newCommunity(t)
	mustOK(t, c.Trigger(143), "trigger community")
	return c
}

// newActionPoint raises the standard action point of c.
func newActionPoint(t *testing.T, c *domain.Community) *domain.ActionPoint {
	t.Helper()
	a := &domain.ActionPoint{}
	mustOK(t, a.Raise(raiseAPCmd(), c), "raise action point")
	return a
}

// newReferral raises the standard referral of c.
func newReferral(t *testing.T, c *domain.Community) *domain.Referral {
	t.Helper()
	r := &domain.Referral{}
	mustOK(t, r.Raise(raiseReferralCmd(), c), "raise referral")
	return r
}

// newFeedback receives the standard feedback item of c.
func newFeedback(t *testing.T, c *domain.Community) *domain.FeedbackItem {
	t.Helper()
	f := &domain.FeedbackItem{}
	mustOK(t, f.Receive(receiveCmd(), c), "receive feedback")
	return f
}

// knownBug fails the test on a regression of a defect that was found and
// fixed; the message says which.
func knownBug(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Fatalf("regression: "+format, args...)
}

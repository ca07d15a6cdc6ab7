package domain

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// enum is a closed set of lower-case names; parse refuses anything else and
// names the field and the allowed values, which is what a mobilizer fixing a
// form needs to see.
type enum []string

func (e enum) parse(field, v string, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return "", FieldError(field, "is required (one of %s)", strings.Join(e, ", "))
		}
		return "", nil
	}
	for _, ok := range e {
		if v == ok {
			return v, nil
		}
	}
	return "", FieldError(field, "must be one of %s", strings.Join(e, ", "))
}

// Closed vocabularies of PRODUCT.md.
var (
	Categories    = enum{"surveillance", "isolation", "safe_burial", "hygiene", "referral", "by_law", "stigma", "other"}
	ActionKinds   = enum{"one_off", "continuous"}
	VisitKinds    = enum{"initial", "follow_up"}
	Needs         = enum{"basic", "security", "autonomy", "respect", "social_support", "capacity"}
	ReferralKinds = enum{"suspected_case", "death_alert", "other"}
	Channels      = enum{"mobilizer", "hotline_117", "other"}
	Outcomes      = enum{"admitted", "safe_burial", "unsafe_burial", "not_found", "refused", "other"}
	FeedbackTypes = enum{"question", "concern", "complaint", "rumour", "suggestion", "appreciation", "refusal"}
	Roles         = enum{"mobilizer", "coordinator", "auditor", "admin"}
)

// Roles of users.
const (
	RoleMobilizer   = "mobilizer"
	RoleCoordinator = "coordinator"
	RoleAuditor     = "auditor"
	RoleAdmin       = "admin"
)

// Lifecycle statuses, as PRODUCT.md names them.
const (
	StatusRegistered    = "registered"
	StatusTriggered     = "triggered"
	StatusUnderFollowUp = "under_follow_up"

	StatusOpen       = "open"
	StatusInProgress = "in_progress"
	StatusAchieved   = "achieved"
	StatusDropped    = "dropped"

	StatusRaised       = "raised"
	StatusAcknowledged = "acknowledged"
	StatusCompleted    = "completed"
	StatusClosed       = "closed"
	StatusCancelled    = "cancelled"

	StatusReceived   = "received"
	StatusReferred   = "referred"
	StatusAnswered   = "answered"
	StatusLoopClosed = "loop_closed"
)

// Text limits: generous for field notes, small enough that one request cannot
// bloat the log.
const (
	maxName  = 200
	maxTitle = 300
	maxText  = 4000
	maxID    = 64
)

// text trims v and checks it is valid UTF-8 without control characters and
// within max runes.
func text(field, v string, required bool, max int) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return "", FieldError(field, "is required")
		}
		return "", nil
	}
	if !utf8.ValidString(v) {
		return "", FieldError(field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return "", FieldError(field, "is %d characters long; at most %d", n, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", FieldError(field, "contains a control character")
		}
	}
	return v, nil
}

// ValidateID checks a client-chosen identifier: a UUID or a short code such as
// "KEN-0042". It becomes part of a stream name and of URLs, so it is limited to
// characters that need no escaping.
func ValidateID(field, id string) error {
	if id == "" {
		return FieldError(field, "is required")
	}
	if len(id) > maxID {
		return FieldError(field, "is longer than %d characters", maxID)
	}
	for i, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '-' || r == '_' || r == '.' || r == ':')
		if !ok {
			return FieldError(field, "may hold only letters, digits and - _ . : (not first)")
		}
	}
	return nil
}

// Date is a calendar date, YYYY-MM-DD, as the field reports it.
type Date string

// ParseDate validates a YYYY-MM-DD date.
func ParseDate(field, v string, required bool) (Date, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return "", FieldError(field, "is required (YYYY-MM-DD)")
		}
		return "", nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return "", FieldError(field, "must be a date as YYYY-MM-DD")
	}
	if t.Before(earliestTime) || !t.Before(latestTime) {
		return "", FieldError(field, "must be between %d and %d", earliestTime.Year(), latestTime.Year()-1)
	}
	return Date(v), nil
}

// Time returns midnight UTC at the start of d, or the zero time.
func (d Date) Time() time.Time {
	t, err := time.Parse(time.DateOnly, string(d))
	if err != nil {
		return time.Time{}
	}
	return t
}

// Concern is something the community raised during a visit, with the unmet
// need behind it.
type Concern struct {
	Need string `json:"need"`
	Text string `json:"text"`
}

func validateConcerns(cs []Concern) ([]Concern, error) {
	if len(cs) > 50 {
		return nil, FieldError("concerns", "has %d items; at most 50", len(cs))
	}
	if len(cs) == 0 {
		return nil, nil
	}
	out := make([]Concern, 0, len(cs))
	for i, c := range cs {
		need, err := Needs.parse(fieldIndex("concerns", i, "need"), c.Need, true)
		if err != nil {
			return nil, err
		}
		t, err := text(fieldIndex("concerns", i, "text"), c.Text, false, maxText)
		if err != nil {
			return nil, err
		}
		out = append(out, Concern{Need: need, Text: t})
	}
	return out, nil
}

func fieldIndex(list string, i int, field string) string {
	return list + "[" + strconv.Itoa(i) + "]." + field
}

// Field times outside these bounds can only be typos (the response this
// system models began in 2014), and keeping them out keeps every time within
// what the wire encoding represents.
var (
	earliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latestTime   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// clockSkew is how much earlier than the event it follows a field time may
// be: phones' clocks drift by minutes, and refusing a loop closure two
// minutes "before" its receipt would lose a real report.
const clockSkew = 5 * time.Minute

// validTime checks a field time given by the client.
func validTime(field string, t time.Time, required bool) error {
	switch {
	case t.IsZero():
		if required {
			return FieldError(field, "is required")
		}
	case t.Before(earliestTime):
		return FieldError(field, "is before %d", earliestTime.Year())
	case !t.Before(latestTime):
		return FieldError(field, "is after %d", latestTime.Year()-1)
	}
	return nil
}

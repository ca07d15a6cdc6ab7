package app

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// Page bounds of every list.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ListRequest is what every list takes: the place, the page, and the
// position to wait for.
type ListRequest struct {
	Place
	// Cursor is the NextCursor of the previous page ("" for the first).
	Cursor string
	// Limit is the page size, 1 to MaxLimit (0: DefaultLimit).
	Limit       int
	MinPosition uint64
}

// Page is one page of a list; NextCursor is absent on the last page.
type Page[T any] struct {
	Position   uint64 `json:"position"`
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Cursors are opaque to clients: a version byte and the sort key of the
// last item served, base64url. Keys are the list's sort value plus the
// record id, so a page starts right after the last item served even when
// records were added or changed meanwhile.
const cursorVersion = 2

// EncodeCursor makes the opaque cursor of a page that ends at key.
func EncodeCursor(key string) string {
	if key == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(append([]byte{cursorVersion}, key...))
}

// DecodeCursor reads a cursor EncodeCursor made (400 naming `cursor`
// otherwise).
func DecodeCursor(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != cursorVersion {
		return "", domain.FieldError("cursor", "is not a cursor this server gave")
	}
	return string(b[1:]), nil
}

// list checks the page request and resolves the place.
func (r *Reads) list(ctx context.Context, actor Actor, q ListRequest) (projections.Filter, string, int, error) {
	if err := requireRole(actor, "read this list", ListRoles...); err != nil {
		return projections.Filter{}, "", 0, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return projections.Filter{}, "", 0, domain.FieldError("limit", "must be an integer from 1 to %d", MaxLimit)
	}
	after, err := DecodeCursor(q.Cursor)
	if err != nil {
		return projections.Filter{}, "", 0, err
	}
	f, err := r.scope(ctx, actor, q.Place, q.MinPosition, ListRoles)
	return f, after, limit, err
}

func oneOf(field, v string, allowed ...string) error {
	if v != "" && !slices.Contains(allowed, v) {
		return domain.FieldError(field, "must be one of %s", strings.Join(allowed, ", "))
	}
	return nil
}

func page[T any](p projections.ListPage[T], pos uint64) Page[T] {
	if p.Items == nil {
		p.Items = []T{}
	}
	return Page[T]{Position: pos, Items: p.Items, NextCursor: EncodeCursor(p.Next)}
}

// CommunityListRequest asks for communities.
type CommunityListRequest struct {
	ListRequest
	// Status is registered, triggered or under_follow_up.
	Status string
	// NoVisitDays, when positive, keeps communities not visited in the
	// last that many days (by the visits' occurred_at), including those
	// never visited.
	NoVisitDays int
	// Search keeps names containing it, case-insensitively.
	Search string
}

// Communities lists communities, by district, chiefdom and name.
func (r *Reads) Communities(ctx context.Context, actor Actor, q CommunityListRequest) (Page[projections.CommunityItem], error) {
	if err := requireRole(actor, "read this list", ListRoles...); err != nil {
		return Page[projections.CommunityItem]{}, err
	}
	if err := oneOf("status", q.Status, domain.StatusRegistered, domain.StatusTriggered, domain.StatusUnderFollowUp); err != nil {
		return Page[projections.CommunityItem]{}, err
	}
	if q.NoVisitDays < 0 || q.NoVisitDays > 3650 {
		return Page[projections.CommunityItem]{}, domain.FieldError("no_visit_days", "must be an integer from 0 to 3650")
	}
	if len(q.Search) > 200 {
		return Page[projections.CommunityItem]{}, domain.FieldError("q", "is longer than 200 characters")
	}
	f, after, limit, err := r.list(ctx, actor, q.ListRequest)
	if err != nil {
		return Page[projections.CommunityItem]{}, err
	}
	pq := projections.CommunityQuery{Filter: f, Status: q.Status, Search: q.Search, After: after, Limit: limit}
	if q.NoVisitDays > 0 {
		pq.NoVisitSince = f.Now.Add(-time.Duration(q.NoVisitDays) * 24 * time.Hour)
	}
	p, pos := r.models.Communities(pq)
	return page(p, pos), nil
}

// ActionPointListRequest asks for the follow-up list.
type ActionPointListRequest struct {
	ListRequest
	Category string
	Status   string
	// Overdue keeps only overdue action points.
	Overdue bool
}

// ActionPoints lists action points, overdue first, then by due date.
func (r *Reads) ActionPoints(ctx context.Context, actor Actor, q ActionPointListRequest) (Page[projections.ActionPointItem], error) {
	if err := requireRole(actor, "read this list", ListRoles...); err != nil {
		return Page[projections.ActionPointItem]{}, err
	}
	if err := oneOf("status", q.Status, domain.StatusOpen, domain.StatusInProgress, domain.StatusAchieved, domain.StatusDropped); err != nil {
		return Page[projections.ActionPointItem]{}, err
	}
	if err := oneOf("category", q.Category, domain.Categories...); err != nil {
		return Page[projections.ActionPointItem]{}, err
	}
	f, after, limit, err := r.list(ctx, actor, q.ListRequest)
	if err != nil {
		return Page[projections.ActionPointItem]{}, err
	}
	f.Category = q.Category
	p, pos := r.models.ActionPoints(projections.ActionPointQuery{Filter: f, Status: q.Status, Overdue: q.Overdue, After: after, Limit: limit})
	return page(p, pos), nil
}

// ReferralListRequest asks for the referrals queue.
type ReferralListRequest struct {
	ListRequest
	Status string
	Kind   string
	// OlderThanHours, when positive, keeps referrals raised (occurred_at)
	// at least that many hours ago.
	OlderThanHours int
}

// Referrals lists referrals, oldest raised first: status=raised with
// OlderThanHours=24 is "raised more than a day ago and not acknowledged".
func (r *Reads) Referrals(ctx context.Context, actor Actor, q ReferralListRequest) (Page[projections.ReferralItem], error) {
	if err := requireRole(actor, "read this list", ListRoles...); err != nil {
		return Page[projections.ReferralItem]{}, err
	}
	if err := oneOf("status", q.Status, domain.StatusRaised, domain.StatusAcknowledged, domain.StatusCompleted, domain.StatusClosed, domain.StatusCancelled); err != nil {
		return Page[projections.ReferralItem]{}, err
	}
	if err := oneOf("kind", q.Kind, domain.ReferralKinds...); err != nil {
		return Page[projections.ReferralItem]{}, err
	}
	if q.OlderThanHours < 0 || q.OlderThanHours > 87600 {
		return Page[projections.ReferralItem]{}, domain.FieldError("older_than_hours", "must be an integer from 0 to 87600")
	}
	f, after, limit, err := r.list(ctx, actor, q.ListRequest)
	if err != nil {
		return Page[projections.ReferralItem]{}, err
	}
	pq := projections.ReferralQuery{Filter: f, Status: q.Status, Kind: q.Kind, After: after, Limit: limit}
	if q.OlderThanHours > 0 {
		pq.RaisedBefore = f.Now.Add(-time.Duration(q.OlderThanHours) * time.Hour)
	}
	p, pos := r.models.Referrals(pq)
	return page(p, pos), nil
}

// FeedbackListRequest asks for the feedback queue.
type FeedbackListRequest struct {
	ListRequest
	Status string
	Type   string
	// LoopClosed, when set, keeps items whose loop is (true) or is not yet
	// (false) closed: false is every status before loop_closed.
	LoopClosed *bool
	// OlderThanDays, when positive, keeps items received (occurred_at) at
	// least that many days ago.
	OlderThanDays int
}

// Feedback lists feedback items, oldest received first: LoopClosed=false
// with OlderThanDays=7 is "not loop-closed after a week".
func (r *Reads) Feedback(ctx context.Context, actor Actor, q FeedbackListRequest) (Page[projections.FeedbackItem], error) {
	if err := requireRole(actor, "read this list", ListRoles...); err != nil {
		return Page[projections.FeedbackItem]{}, err
	}
	if err := oneOf("status", q.Status, domain.StatusReceived, domain.StatusReferred, domain.StatusAnswered, domain.StatusLoopClosed); err != nil {
		return Page[projections.FeedbackItem]{}, err
	}
	if err := oneOf("type", q.Type, domain.FeedbackTypes...); err != nil {
		return Page[projections.FeedbackItem]{}, err
	}
	if q.OlderThanDays < 0 || q.OlderThanDays > 3650 {
		return Page[projections.FeedbackItem]{}, domain.FieldError("older_than_days", "must be an integer from 0 to 3650")
	}
	f, after, limit, err := r.list(ctx, actor, q.ListRequest)
	if err != nil {
		return Page[projections.FeedbackItem]{}, err
	}
	pq := projections.FeedbackQuery{Filter: f, Status: q.Status, Type: q.Type, LoopClosed: q.LoopClosed, After: after, Limit: limit}
	if q.OlderThanDays > 0 {
		pq.ReceivedBefore = f.Now.Add(-time.Duration(q.OlderThanDays) * 24 * time.Hour)
	}
	p, pos := r.models.Feedback(pq)
	return page(p, pos), nil
}

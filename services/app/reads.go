package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// RequireRole refuses an actor whose role is not one of roles; action says
// what was refused, for the message.
func RequireRole(a Actor, action string, roles ...string) error {
	return requireRole(a, action, roles...)
}

// ReadScope decides which part of the country an actor may read indicators
// or lists for, and narrows an unscoped request to the actor's own area: a
// coordinator of Kenema asking for "everything" sees Kenema. roles are the
// roles the route admits.
func ReadScope(a Actor, asked domain.Area, communityPlace *domain.Place, roles ...string) (domain.Area, error) {
	if err := requireRole(a, "read this", roles...); err != nil {
		return domain.Area{}, err
	}
	if communityPlace != nil {
		if err := requireArea(a, *communityPlace); err != nil {
			return domain.Area{}, err
		}
	}
	if asked.District == "" && asked.Chiefdom != "" {
		return domain.Area{}, domain.FieldError("district", "is required when chiefdom is given")
	}
	if asked.District == "" {
		return a.Area, nil
	}
	if asked.Chiefdom == "" && a.Area.Chiefdom != "" && domain.PlaceKey(asked.District) == domain.PlaceKey(a.Area.District) {
		return a.Area, nil
	}
	if !a.Area.Covers(asked) {
		return domain.Area{}, domain.Errorf(domain.CodeForbidden, "outside your area")
	}
	return asked, nil
}

// ReadModels is what the read side offers the application: the indicator
// and list read models (projections.Engine is one). The application decides
// who may ask what, of which place; the read models only answer.
type ReadModels interface {
	// WaitFor blocks until the read models include the event at position,
	// or ctx ends (projections.ErrBehind).
	WaitFor(ctx context.Context, position uint64) error
	// CommunityPlace is where a community is, if the read models know it.
	CommunityPlace(id string) (domain.Place, bool)

	CompletionStats(f projections.Filter, weekly bool) (projections.CompletionStats, uint64)
	ReferralStats(f projections.Filter) (projections.ReferralStats, uint64)
	FeedbackStats(f projections.Filter, weekly bool) (projections.FeedbackStats, uint64)
	TrustStats(f projections.Filter) (projections.TrustStats, uint64)
	ConcernStats(f projections.Filter) (projections.ConcernStats, uint64)

	Communities(q projections.CommunityQuery) (projections.ListPage[projections.CommunityItem], uint64)
	ActionPoints(q projections.ActionPointQuery) (projections.ListPage[projections.ActionPointItem], uint64)
	Referrals(q projections.ReferralQuery) (projections.ListPage[projections.ReferralItem], uint64)
	Feedback(q projections.FeedbackQuery) (projections.ListPage[projections.FeedbackItem], uint64)
}

// Reads is the one query service over the read models: every indicator and
// work list, for the JSON API and the web console alike. Each method checks
// the caller's role, resolves the place asked about (the caller's own area
// when none is given; a community's place from the read models), refuses a
// place outside the caller's area, waits for MinPosition, and answers with
// the read models' position.
type Reads struct {
	models ReadModels
	clock  func() time.Time
	// MaxWait bounds how long a read waits for MinPosition.
	MaxWait time.Duration
	// ResolveNames, when set, checks the district and chiefdom a read
	// names against the place list and returns them in their canonical
	// spelling; an unknown name is refused (400 naming the field). Nil
	// takes the names as given.
	ResolveNames func(asked domain.Area) (domain.Area, error)
}

// NewReads returns the query service over models; clock is "now" for ages
// and overdue (nil: time.Now).
func NewReads(models ReadModels, clock func() time.Time) *Reads {
	if clock == nil {
		clock = time.Now
	}
	return &Reads{models: models, clock: clock, MaxWait: 2 * time.Second}
}

// CodeBehind: a read asked for a position the read models have not reached
// within the wait.
const CodeBehind domain.Code = "projection_behind"

// Who may read what (PRODUCT.md's route table): the indicators are for
// coordinators, auditors, and mobilizers for their own area; the lists for
// every role, within its area.
var (
	StatsRoles = []string{domain.RoleMobilizer, domain.RoleCoordinator, domain.RoleAuditor}
	ListRoles  = []string{domain.RoleMobilizer, domain.RoleCoordinator, domain.RoleAuditor, domain.RoleAdmin}
)

// Place is the part of the country a read is about; empty fields mean "the
// caller's own area".
type Place struct {
	District    string
	Chiefdom    string
	CommunityID string
}

// StatsRequest asks for indicators.
type StatsRequest struct {
	Place
	// From and To bound the period (From ≤ occurred_at < To); zero: open.
	From, To time.Time
	// Category narrows action-point indicators (completion only).
	Category string
	// Weekly asks for the weekly series too (completion, feedback).
	Weekly bool
	// MinPosition makes the read wait until the read models include it.
	MinPosition uint64
}

func (r *Reads) statsFilter(ctx context.Context, actor Actor, q StatsRequest) (projections.Filter, error) {
	if err := requireRole(actor, "read indicators", StatsRoles...); err != nil {
		return projections.Filter{}, err
	}
	if q.Category != "" && !slices.Contains(domain.Categories, q.Category) {
		return projections.Filter{}, domain.FieldError("category", "must be one of %s", strings.Join(domain.Categories, ", "))
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return projections.Filter{}, domain.FieldError("to", "must be after from")
	}
	f, err := r.scope(ctx, actor, q.Place, q.MinPosition, StatsRoles)
	f.Category, f.From, f.To = q.Category, q.From, q.To
	return f, err
}

// scope waits for minPosition and turns the place asked about into the
// filter the caller may read.
func (r *Reads) scope(ctx context.Context, actor Actor, p Place, minPosition uint64, roles []string) (projections.Filter, error) {
	if err := requireRole(actor, "read this", roles...); err != nil {
		return projections.Filter{}, err
	}
	if err := r.wait(ctx, minPosition); err != nil {
		return projections.Filter{}, err
	}
	area, err := r.resolveArea(actor, p, roles)
	if err != nil {
		return projections.Filter{}, err
	}
	return projections.Filter{District: area.District, Chiefdom: area.Chiefdom, CommunityID: p.CommunityID, Now: r.clock()}, nil
}

// resolveArea is the one place where the place a read asks about is
// resolved and checked against the caller's area: the names are checked
// against the place list (ResolveNames), a community's place comes from the
// read models (never from its stream), an unscoped request narrows to the
// caller's own area, and a place outside it is refused.
func (r *Reads) resolveArea(actor Actor, p Place, roles []string) (domain.Area, error) {
	asked := domain.Area{District: p.District, Chiefdom: p.Chiefdom}
	if r.ResolveNames != nil && (asked.District != "" || asked.Chiefdom != "") {
		var err error
		if asked, err = r.ResolveNames(asked); err != nil {
			return domain.Area{}, err
		}
	}
	var place *domain.Place
	if p.CommunityID != "" {
		pl, ok := r.models.CommunityPlace(p.CommunityID)
		if !ok {
			return domain.Area{}, &domain.Error{Code: domain.CodeNotFound, Field: "community_id", Message: "no community " + p.CommunityID}
		}
		place = &pl
	}
	return ReadScope(actor, asked, place, roles...)
}

// Reflect waits (up to MaxWait) until the read models include the event at
// position: a screen that answers a write with a redirect to a list shows
// that list with the write in it, as a JSON caller gets with min_position.
func (r *Reads) Reflect(ctx context.Context, position uint64) error {
	return r.wait(ctx, position)
}

func (r *Reads) wait(ctx context.Context, pos uint64) error {
	if pos == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.MaxWait)
	defer cancel()
	if err := r.models.WaitFor(ctx, pos); err != nil {
		if errors.Is(err, projections.ErrBehind) {
			return domain.Errorf(CodeBehind, "the read models have not reached position %d within %s; retry shortly", pos, r.MaxWait)
		}
		return err
	}
	return nil
}

// CompletionStats answers the action-point indicators.
func (r *Reads) CompletionStats(ctx context.Context, actor Actor, q StatsRequest) (projections.CompletionStats, uint64, error) {
	f, err := r.statsFilter(ctx, actor, q)
	if err != nil {
		return projections.CompletionStats{}, 0, err
	}
	st, pos := r.models.CompletionStats(f, q.Weekly)
	return st, pos, nil
}

// TrustStats answers the weekly trust trend.
func (r *Reads) TrustStats(ctx context.Context, actor Actor, q StatsRequest) (projections.TrustStats, uint64, error) {
	if err := onlyActionPoints(q); err != nil {
		return projections.TrustStats{}, 0, err
	}
	f, err := r.statsFilter(ctx, actor, q)
	if err != nil {
		return projections.TrustStats{}, 0, err
	}
	st, pos := r.models.TrustStats(f)
	return st, pos, nil
}

// ReferralStats answers the referral indicators.
func (r *Reads) ReferralStats(ctx context.Context, actor Actor, q StatsRequest) (projections.ReferralStats, uint64, error) {
	if err := onlyActionPoints(q); err != nil {
		return projections.ReferralStats{}, 0, err
	}
	f, err := r.statsFilter(ctx, actor, q)
	if err != nil {
		return projections.ReferralStats{}, 0, err
	}
	st, pos := r.models.ReferralStats(f)
	return st, pos, nil
}

// FeedbackStats answers the feedback indicators.
func (r *Reads) FeedbackStats(ctx context.Context, actor Actor, q StatsRequest) (projections.FeedbackStats, uint64, error) {
	if err := onlyActionPoints(q); err != nil {
		return projections.FeedbackStats{}, 0, err
	}
	f, err := r.statsFilter(ctx, actor, q)
	if err != nil {
		return projections.FeedbackStats{}, 0, err
	}
	st, pos := r.models.FeedbackStats(f, q.Weekly)
	return st, pos, nil
}

// ConcernStats answers the unmet needs raised at visits.
func (r *Reads) ConcernStats(ctx context.Context, actor Actor, q StatsRequest) (projections.ConcernStats, uint64, error) {
	if err := onlyActionPoints(q); err != nil {
		return projections.ConcernStats{}, 0, err
	}
	f, err := r.statsFilter(ctx, actor, q)
	if err != nil {
		return projections.ConcernStats{}, 0, err
	}
	st, pos := r.models.ConcernStats(f)
	return st, pos, nil
}

// onlyActionPoints refuses a category on indicators that are not about
// action points.
func onlyActionPoints(q StatsRequest) error {
	if q.Category != "" {
		return domain.FieldError("category", "narrows action-point indicators only")
	}
	return nil
}

// childTrustModels is what ChildTrust needs of the read models
// (projections.Engine has it); a port that lacks it answers no rows.
type childTrustModels interface {
	ChildTrust(f projections.Filter) ([]projections.PlaceTrust, uint64)
}

// ChildTrust answers the latest trust week of each place one level below the
// place asked (district → chiefdom → community), scoped as every indicator.
func (r *Reads) ChildTrust(ctx context.Context, actor Actor, q StatsRequest) ([]projections.PlaceTrust, uint64, error) {
	f, err := r.statsFilter(ctx, actor, q)
	if err != nil {
		return nil, 0, err
	}
	m, ok := r.models.(childTrustModels)
	if !ok {
		return nil, 0, nil
	}
	kids, pos := m.ChildTrust(f)
	return kids, pos, nil
}

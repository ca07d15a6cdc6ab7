package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// codeBehind: a read asked for a position the read models have not reached
// within the wait.
const codeBehind domain.Code = "projection_behind"

// minPositionWait bounds how long a read waits for its own writes.
const minPositionWait = 2 * time.Second

func (s *Server) mountStats(v1 v1Routes) {
	v1.handle(http.MethodGet, "/stats/completion", s.statsCompletion)
	v1.handle(http.MethodGet, "/stats/trust", s.statsTrust)
	v1.handle(http.MethodGet, "/stats/referrals", s.statsReferrals)
	v1.handle(http.MethodGet, "/stats/feedback", s.statsFeedback)
	v1.handle(http.MethodGet, "/action-points", s.listActionPoints)
}

var statsRoles = []string{domain.RoleCoordinator, domain.RoleAuditor}

// readQuery parses the query parameters shared by the read-model routes,
// checks the caller may read that place, and waits for min_position.
func (s *Server) readQuery(r *http.Request, allowed []string, roles ...string) (projections.Filter, url.Values, error) {
	if err := app.RequireRole(actorFrom(r.Context()), "read this", roles...); err != nil {
		return projections.Filter{}, nil, err
	}
	q := r.URL.Query()
	for k := range q {
		if !contains(allowed, k) {
			return projections.Filter{}, nil, domain.FieldError(k, "is not a parameter of this route (allowed: %s)", strings.Join(allowed, ", "))
		}
	}
	f, err := s.readFilter(r.Context(), actorFrom(r.Context()), domain.Area{District: q.Get("district"), Chiefdom: q.Get("chiefdom")}, q.Get("community_id"), roles...)
	if err != nil {
		return f, nil, err
	}
	f.Category = q.Get("category")
	if f.Category != "" && !contains(domain.Categories, f.Category) {
		return f, nil, domain.FieldError("category", "must be one of %s", strings.Join(domain.Categories, ", "))
	}
	if f.From, err = parseQueryTime(q, "from"); err != nil {
		return f, nil, err
	}
	if f.To, err = parseQueryTime(q, "to"); err != nil {
		return f, nil, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, nil, domain.FieldError("to", "must be after from")
	}
	if v := q.Get("interval"); v != "" && v != "week" {
		return f, nil, domain.FieldError("interval", "must be week")
	}
	if v := q.Get("min_position"); v != "" {
		pos, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return f, nil, domain.FieldError("min_position", "must be a position as returned by a write")
		}
		ctx, cancel := context.WithTimeout(r.Context(), minPositionWait)
		defer cancel()
		if err := s.read.WaitFor(ctx, pos); err != nil {
			if errors.Is(err, projections.ErrBehind) {
				return f, nil, domain.Errorf(codeBehind, "the read models have not reached position %d within %s; retry shortly", pos, minPositionWait)
			}
			return f, nil, err
		}
	}
	return f, q, nil
}

// readFilter is the place part of a read, shared by the JSON routes and the
// web console so both scope alike: the community's place when one is named,
// and the asked area narrowed to what the actor may read.
func (s *Server) readFilter(ctx context.Context, actor app.Actor, asked domain.Area, communityID string, roles ...string) (projections.Filter, error) {
	f := projections.Filter{CommunityID: communityID}
	var place *domain.Place
	if f.CommunityID != "" {
		v, err := s.app.Queries.Community(ctx, app.Actor{Role: domain.RoleAdmin}, f.CommunityID)
		if err != nil {
			if domain.ErrorCode(err) == domain.CodeNotFound {
				return f, &domain.Error{Code: domain.CodeNotFound, Field: "community_id", Message: "no community " + f.CommunityID}
			}
			return f, err
		}
		place = &v.Place
	}
	// An unknown place is a 400 with suggestions, not an empty answer.
	asked, err := s.app.Places.ResolveArea(asked.District, asked.Chiefdom)
	if err != nil {
		return f, err
	}
	area, err := app.ReadScope(actor, asked, place, roles...)
	if err != nil {
		return f, err
	}
	f.District, f.Chiefdom = area.District, area.Chiefdom
	return f, nil
}

// parseQueryTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func parseQueryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, domain.FieldError(name, "must be an RFC 3339 time or a YYYY-MM-DD date")
}

var (
	statsParams  = []string{"district", "chiefdom", "community_id", "from", "to", "min_position"}
	seriesParams = append([]string{"interval"}, statsParams...)
)

func (s *Server) statsCompletion(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.readQuery(r, append(seriesParams, "category"), statsRoles...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, pos := s.read.CompletionStats(f, q.Get("interval") == "week")
	writeJSON(w, http.StatusOK, struct {
		Position uint64 `json:"position"`
		projections.CompletionStats
	}{pos, st})
}

// statsTrust answers the weekly trust trend; interval=week is accepted
// because the trend is always weekly.
func (s *Server) statsTrust(w http.ResponseWriter, r *http.Request) {
	f, _, err := s.readQuery(r, seriesParams, statsRoles...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, pos := s.read.TrustStats(f)
	writeJSON(w, http.StatusOK, struct {
		Position uint64 `json:"position"`
		projections.TrustStats
	}{pos, st})
}

func (s *Server) statsReferrals(w http.ResponseWriter, r *http.Request) {
	f, _, err := s.readQuery(r, statsParams, statsRoles...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, pos := s.read.ReferralStats(f)
	writeJSON(w, http.StatusOK, struct {
		Position uint64 `json:"position"`
		projections.ReferralStats
	}{pos, st})
}

func (s *Server) statsFeedback(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.readQuery(r, seriesParams, statsRoles...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, pos := s.read.FeedbackStats(f, q.Get("interval") == "week")
	writeJSON(w, http.StatusOK, struct {
		Position uint64 `json:"position"`
		projections.FeedbackStats
	}{pos, st})
}

// listActionPoints is the coordinator's follow-up list, paged by an opaque
// cursor.
func (s *Server) listActionPoints(w http.ResponseWriter, r *http.Request) {
	f, q, err := s.readQuery(r, []string{"district", "chiefdom", "community_id", "category", "status", "overdue", "cursor", "limit", "min_position"},
		domain.RoleMobilizer, domain.RoleCoordinator, domain.RoleAuditor, domain.RoleAdmin)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := q.Get("status")
	if status != "" && !contains([]string{domain.StatusOpen, domain.StatusInProgress, domain.StatusAchieved, domain.StatusDropped}, status) {
		s.writeError(w, r, domain.FieldError("status", "must be one of open, in_progress, achieved, dropped"))
		return
	}
	overdue := false
	if v := q.Get("overdue"); v != "" {
		if overdue, err = strconv.ParseBool(v); err != nil {
			s.writeError(w, r, domain.FieldError("overdue", "must be true or false"))
			return
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			s.writeError(w, r, domain.FieldError("limit", "must be an integer from 1 to 1000"))
			return
		}
	}
	var after int32
	if v := q.Get("cursor"); v != "" {
		n, err := decodeCursor(v)
		if err != nil {
			s.writeError(w, r, domain.FieldError("cursor", "is not a cursor this server gave"))
			return
		}
		after = n
	}
	items, next, pos := s.read.ActionPoints(f, status, overdue, after, limit)
	if items == nil {
		items = []projections.ActionPointItem{}
	}
	resp := struct {
		Position   uint64                        `json:"position"`
		Items      []projections.ActionPointItem `json:"items"`
		NextCursor string                        `json:"next_cursor,omitempty"`
	}{Position: pos, Items: items}
	if next != 0 {
		resp.NextCursor = encodeCursor(next)
	}
	writeJSON(w, http.StatusOK, resp)
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

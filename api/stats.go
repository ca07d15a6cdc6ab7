package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// The read routes only translate query parameters into app.Reads requests
// and answers into JSON: who may read what, of which place (place names,
// community_id, the caller's area), is decided in the application layer
// (app.Reads, resolveArea), which the web console asks too.

// codeBehind: a read asked for a position the read models have not reached
// within the wait (the application's code, in the status table here).
const codeBehind = app.CodeBehind

func (s *Server) mountStats(v1 v1Routes) {
	v1.handle(http.MethodGet, "/stats/completion", s.statsCompletion)
	v1.handle(http.MethodGet, "/stats/trust", s.statsTrust)
	v1.handle(http.MethodGet, "/stats/referrals", s.statsReferrals)
	v1.handle(http.MethodGet, "/stats/feedback", s.statsFeedback)
	v1.handle(http.MethodGet, "/stats/concerns", s.statsConcerns)
	v1.handle(http.MethodGet, "/action-points", s.listActionPoints)
	v1.handle(http.MethodGet, "/communities", s.listCommunities)
	v1.handle(http.MethodGet, "/referrals", s.listReferrals)
	v1.handle(http.MethodGet, "/feedback", s.listFeedback)
}

// queryParams refuses parameters the route does not take, naming the first.
func queryParams(r *http.Request, allowed ...string) (url.Values, error) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(allowed, k) {
			return nil, domain.FieldError(k, "is not a parameter of this route (allowed: %s)", strings.Join(allowed, ", "))
		}
	}
	return q, nil
}

func placeParams(q url.Values) app.Place {
	return app.Place{District: q.Get("district"), Chiefdom: q.Get("chiefdom"), CommunityID: q.Get("community_id")}
}

func minPositionParam(q url.Values) (uint64, error) {
	v := q.Get("min_position")
	if v == "" {
		return 0, nil
	}
	pos, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, domain.FieldError("min_position", "must be a position as returned by a write")
	}
	return pos, nil
}

// intParam reads a non-negative integer (0 when absent).
func intParam(q url.Values, name string) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, domain.FieldError(name, "must be a whole number")
	}
	return n, nil
}

// boolParam reads true or false; nil when absent.
func boolParam(q url.Values, name string) (*bool, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, domain.FieldError(name, "must be true or false")
	}
	return &b, nil
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

// statsRequest parses the parameters of an indicator route.
func statsRequest(r *http.Request, allowed []string) (app.StatsRequest, error) {
	q, err := queryParams(r, allowed...)
	if err != nil {
		return app.StatsRequest{}, err
	}
	req := app.StatsRequest{Place: placeParams(q), Category: q.Get("category")}
	if req.From, err = parseQueryTime(q, "from"); err != nil {
		return req, err
	}
	if req.To, err = parseQueryTime(q, "to"); err != nil {
		return req, err
	}
	switch v := q.Get("interval"); v {
	case "":
	case "week":
		req.Weekly = true
	default:
		return req, domain.FieldError("interval", "must be week")
	}
	req.MinPosition, err = minPositionParam(q)
	return req, err
}

// stats answers one indicator route: parse, ask, write.
func stats[T any](s *Server, allowed []string, ask func(r *http.Request, req app.StatsRequest) (T, uint64, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := statsRequest(r, allowed)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		st, pos, err := ask(r, req)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, withPosition{pos, st})
	}
}

// withPosition writes an answer's fields after the read models' position.
type withPosition struct {
	Position uint64
	Answer   any
}

// MarshalJSON implements json.Marshaler.
func (p withPosition) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(p.Answer)
	if err != nil {
		return nil, err
	}
	out := strconv.AppendUint([]byte(`{"position":`), p.Position, 10)
	if len(b) > 2 && b[0] == '{' {
		return append(append(out, ','), b[1:]...), nil
	}
	return append(out, '}'), nil
}

func (s *Server) statsCompletion(w http.ResponseWriter, r *http.Request) {
	stats(s, append(seriesParams, "category"), func(r *http.Request, req app.StatsRequest) (projections.CompletionStats, uint64, error) {
		return s.app.Reads.CompletionStats(r.Context(), actorFrom(r.Context()), req)
	})(w, r)
}

// statsTrust answers the weekly trust trend; interval=week is accepted
// because the trend is always weekly.
func (s *Server) statsTrust(w http.ResponseWriter, r *http.Request) {
	stats(s, seriesParams, func(r *http.Request, req app.StatsRequest) (projections.TrustStats, uint64, error) {
		return s.app.Reads.TrustStats(r.Context(), actorFrom(r.Context()), req)
	})(w, r)
}

func (s *Server) statsReferrals(w http.ResponseWriter, r *http.Request) {
	stats(s, statsParams, func(r *http.Request, req app.StatsRequest) (projections.ReferralStats, uint64, error) {
		return s.app.Reads.ReferralStats(r.Context(), actorFrom(r.Context()), req)
	})(w, r)
}

func (s *Server) statsFeedback(w http.ResponseWriter, r *http.Request) {
	stats(s, seriesParams, func(r *http.Request, req app.StatsRequest) (projections.FeedbackStats, uint64, error) {
		return s.app.Reads.FeedbackStats(r.Context(), actorFrom(r.Context()), req)
	})(w, r)
}

// statsConcerns answers the unmet needs raised at visits; the series is
// always weekly.
func (s *Server) statsConcerns(w http.ResponseWriter, r *http.Request) {
	stats(s, seriesParams, func(r *http.Request, req app.StatsRequest) (projections.ConcernStats, uint64, error) {
		return s.app.Reads.ConcernStats(r.Context(), actorFrom(r.Context()), req)
	})(w, r)
}

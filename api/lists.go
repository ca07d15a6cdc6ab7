package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/actionledger/actionledger/domain"

	"github.com/actionledger/actionledger/services/app"
)

// The work lists: communities, the follow-up list of action points, the
// referrals and feedback queues. Each route parses its query into an
// app.Reads request; paging, scoping and filtering happen there.

var listParams = []string{"district", "chiefdom", "community_id", "cursor", "limit", "min_position"}

// listRequest parses the parameters every list takes, refusing any not in
// listParams or extra.
func listRequest(r *http.Request, extra ...string) (url.Values, app.ListRequest, error) {
	q, err := queryParams(r, append(extra, listParams...)...)
	if err != nil {
		return nil, app.ListRequest{}, err
	}
	req := app.ListRequest{Place: placeParams(q), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > app.MaxLimit {
			return q, req, domain.FieldError("limit", "must be an integer from 1 to %d", app.MaxLimit)
		}
		req.Limit = n
	}
	req.MinPosition, err = minPositionParam(q)
	return q, req, err
}

func (s *Server) listActionPoints(w http.ResponseWriter, r *http.Request) {
	q, lr, err := listRequest(r, "category", "status", "overdue")
	var overdue *bool
	if err == nil {
		overdue, err = boolParam(q, "overdue")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.app.Reads.ActionPoints(r.Context(), actorFrom(r.Context()), app.ActionPointListRequest{
		ListRequest: lr, Category: q.Get("category"), Status: q.Get("status"), Overdue: overdue != nil && *overdue,
	})
	s.answerList(w, r, page, err)
}

func (s *Server) listCommunities(w http.ResponseWriter, r *http.Request) {
	q, lr, err := listRequest(r, "status", "no_visit_days", "q")
	var days int
	if err == nil {
		days, err = intParam(q, "no_visit_days")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.app.Reads.Communities(r.Context(), actorFrom(r.Context()), app.CommunityListRequest{
		ListRequest: lr, Status: q.Get("status"), NoVisitDays: days, Search: q.Get("q"),
	})
	s.answerList(w, r, page, err)
}

func (s *Server) listReferrals(w http.ResponseWriter, r *http.Request) {
	q, lr, err := listRequest(r, "status", "kind", "older_than_hours")
	var hours int
	if err == nil {
		hours, err = intParam(q, "older_than_hours")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.app.Reads.Referrals(r.Context(), actorFrom(r.Context()), app.ReferralListRequest{
		ListRequest: lr, Status: q.Get("status"), Kind: q.Get("kind"), OlderThanHours: hours,
	})
	s.answerList(w, r, page, err)
}

func (s *Server) listFeedback(w http.ResponseWriter, r *http.Request) {
	q, lr, err := listRequest(r, "status", "type", "loop_closed", "older_than_days")
	var days int
	var closed *bool
	if err == nil {
		days, err = intParam(q, "older_than_days")
	}
	if err == nil {
		closed, err = boolParam(q, "loop_closed")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.app.Reads.Feedback(r.Context(), actorFrom(r.Context()), app.FeedbackListRequest{
		ListRequest: lr, Status: q.Get("status"), Type: q.Get("type"), LoopClosed: closed, OlderThanDays: days,
	})
	s.answerList(w, r, page, err)
}

func (s *Server) answerList(w http.ResponseWriter, r *http.Request, page any, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

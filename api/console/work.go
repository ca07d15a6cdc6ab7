package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// workPage is how many items a work-list page shows; a CSV download takes
// the largest page the lists give.
const workPage = 25

// Waiting thresholds of the work lists (PRODUCT.md): a referral not
// acknowledged a day after it was raised, a feedback loop open a week after
// the feedback came in.
const (
	referralWaitHours = 24
	feedbackWaitDays  = 7
)

// workView is one of the lists a coordinator follows up, with the forms to
// act on its items. Tab says which list.
type workView struct {
	Tab      string
	Name     string
	Items    []workItem
	Status   string
	Overdue  bool
	All      bool // referrals and feedback: every item, not only those waiting
	Statuses []string
	Next     string
	CSV      string
	Position uint64
	Here     string
	CanAct   bool
	// Done is a text key after an action taken from the list.
	Done     string
	Concerns *projections.ConcernStats
}

// workItem is one row: what the list read model says of it, and the
// revision of the aggregate, for the form's If-Match.
type workItem struct {
	Kind, ID, Title, Community, CommunityID string
	Status, Detail                          string
	Overdue                                 bool
	Revision                                uint64
	Href                                    string
	// Action is the one-click action the row offers ("" none).
	Action string
}

func (c *Console) work(w http.ResponseWriter, r *http.Request) {
	c.workList(w, r, "action-points")
}

func (c *Console) workReferrals(w http.ResponseWriter, r *http.Request) {
	c.workList(w, r, "referrals")
}

func (c *Console) workFeedback(w http.ResponseWriter, r *http.Request) {
	c.workList(w, r, "feedback")
}

func (c *Console) workConcerns(w http.ResponseWriter, r *http.Request) {
	c.workList(w, r, "concerns")
}

func (c *Console) workList(w http.ResponseWriter, r *http.Request, tab string) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	asked, _ := askedArea(r)
	ctx := r.Context()
	v := c.view(r, "work", s, actor)
	wv := &workView{Tab: tab, Status: q.Get("status"), Overdue: q.Get("overdue") == "true", All: q.Get("all") == "true",
		CanAct: actor.Role == domain.RoleCoordinator}
	list := app.ListRequest{Place: app.Place{District: asked.District, Chiefdom: asked.Chiefdom}, Cursor: q.Get("cursor"), Limit: workPage}
	if wantsCSV(r) {
		list.Limit = app.MaxLimit
	}
	var next string
	var err error
	switch tab {
	case "action-points":
		wv.Statuses = []string{domain.StatusOpen, domain.StatusInProgress, domain.StatusAchieved, domain.StatusDropped}
		next, err = c.actionPointRows(ctx, actor, wv, list)
	case "referrals":
		wv.Statuses = []string{domain.StatusRaised, domain.StatusAcknowledged, domain.StatusCompleted, domain.StatusClosed, domain.StatusCancelled}
		next, err = c.referralRows(ctx, actor, wv, list)
	case "feedback":
		wv.Statuses = []string{domain.StatusReceived, domain.StatusReferred, domain.StatusAnswered, domain.StatusLoopClosed}
		next, err = c.feedbackRows(ctx, actor, wv, list)
	case "concerns":
		var st projections.ConcernStats
		st, wv.Position, err = c.cfg.App.Reads.ConcernStats(ctx, actor, app.StatsRequest{Place: list.Place})
		wv.Concerns = &st
	}
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	if area, err := displayArea(actor, asked); err == nil {
		wv.Name = titled(v.Lang, area)
	} else {
		wv.Name = titled(v.Lang, actor.Area)
	}
	if wantsCSV(r) {
		writeCSV(w, r, tab, workCSV(wv))
		return
	}
	base := url.Values{}
	for _, k := range []string{"district", "chiefdom", "status"} {
		if q.Get(k) != "" {
			base.Set(k, q.Get(k))
		}
	}
	if wv.Overdue {
		base.Set("overdue", "true")
	}
	if wv.All {
		base.Set("all", "true")
	}
	path := "/work"
	if tab != "action-points" {
		path += "/" + tab
	}
	here := cloneValues(base)
	if c := q.Get("cursor"); c != "" {
		here.Set("cursor", c)
	}
	wv.Here = path + "?" + here.Encode()
	if next != "" {
		n := cloneValues(base)
		n.Set("cursor", next)
		wv.Next = path + "?" + n.Encode()
	}
	csvq := cloneValues(base)
	csvq.Set("format", "csv")
	wv.CSV = path + "?" + csvq.Encode()
	if done := q.Get("done"); done != "" {
		if _, ok := text(v.Lang, "done_"+done); ok {
			wv.Done = "done_" + done
		}
	}
	v.Data = wv
	c.render(w, r, http.StatusOK, v)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// actionPointRows fills the action points, overdue first (the list's own
// order).
func (c *Console) actionPointRows(ctx context.Context, actor app.Actor, wv *workView, list app.ListRequest) (string, error) {
	p, err := c.cfg.App.Reads.ActionPoints(ctx, actor, app.ActionPointListRequest{ListRequest: list, Status: wv.Status, Overdue: wv.Overdue})
	if err != nil {
		return "", err
	}
	wv.Position = p.Position
	for _, it := range p.Items {
		row := workItem{Kind: app.CaseActionPoint, ID: it.ID, Title: it.Title, Community: it.CommunityName, CommunityID: it.CommunityID,
			Status: it.Status, Detail: it.DueDate, Overdue: it.Overdue, Href: "/case/action-point/" + url.PathEscape(it.ID),
			Action: rowAction(actor, app.CaseActionPoint, it.Status, domain.StepDrop, domain.StepReopen)}
		if it.Overdue {
			row.Detail += " · " + strconv.Itoa(it.DaysOverdue)
		}
		wv.Items = append(wv.Items, row)
	}
	return p.NextCursor, c.revisions(ctx, actor, wv)
}

// rowAction is the one-click step a row offers: the first of oneClick (steps
// that need at most a reason) that the application's Steps allows the actor
// on an item in status, or "" for none.
func rowAction(actor app.Actor, kind, status string, oneClick ...string) string {
	steps := app.Steps(actor, kind, status)
	for _, s := range oneClick {
		if slices.Contains(steps, s) {
			return s
		}
	}
	return ""
}

// referralRows fills the referrals: by default those raised more than a day
// ago and not yet acknowledged.
func (c *Console) referralRows(ctx context.Context, actor app.Actor, wv *workView, list app.ListRequest) (string, error) {
	req := app.ReferralListRequest{ListRequest: list, Status: wv.Status}
	if !wv.All && wv.Status == "" {
		req.Status, req.OlderThanHours = domain.StatusRaised, referralWaitHours
	}
	p, err := c.cfg.App.Reads.Referrals(ctx, actor, req)
	if err != nil {
		return "", err
	}
	wv.Position = p.Position
	for _, it := range p.Items {
		row := workItem{Kind: app.CaseReferral, ID: it.ID, Title: it.Kind, Community: it.CommunityName, CommunityID: it.CommunityID,
			Status: it.Status, Detail: strconv.Itoa(it.AgeHours), Href: "/case/referral/" + url.PathEscape(it.ID),
			Action: rowAction(actor, app.CaseReferral, it.Status, domain.StepAcknowledge)}
		wv.Items = append(wv.Items, row)
	}
	return p.NextCursor, c.revisions(ctx, actor, wv)
}

// feedbackRows fills the feedback: by default loops still open a week after
// the feedback came in.
func (c *Console) feedbackRows(ctx context.Context, actor app.Actor, wv *workView, list app.ListRequest) (string, error) {
	req := app.FeedbackListRequest{ListRequest: list, Status: wv.Status}
	if !wv.All && wv.Status == "" {
		open := false
		req.LoopClosed, req.OlderThanDays = &open, feedbackWaitDays
	}
	p, err := c.cfg.App.Reads.Feedback(ctx, actor, req)
	if err != nil {
		return "", err
	}
	wv.Position = p.Position
	for _, it := range p.Items {
		wv.Items = append(wv.Items, workItem{Kind: app.CaseFeedback, ID: it.ID, Title: it.Type, Community: it.CommunityName, CommunityID: it.CommunityID,
			Status: it.Status, Detail: strconv.Itoa(it.AgeDays), Href: "/case/feedback/" + url.PathEscape(it.ID)})
	}
	return p.NextCursor, nil
}

// revisions reads the current revision of each row that offers an action:
// the form's If-Match. The list models do not keep revisions; the aggregate
// query is the one that answers the JSON API's ETag.
func (c *Console) revisions(ctx context.Context, actor app.Actor, wv *workView) error {
	if !wv.CanAct {
		return nil
	}
	for i := range wv.Items {
		it := &wv.Items[i]
		if it.Action == "" {
			continue
		}
		var rev uint64
		var err error
		switch it.Kind {
		case app.CaseActionPoint:
			var v domain.ActionPointView
			v, err = c.cfg.App.Queries.ActionPoint(ctx, actor, it.ID)
			rev = v.Revision
		case app.CaseReferral:
			var v domain.ReferralView
			v, err = c.cfg.App.Queries.Referral(ctx, actor, it.ID)
			rev = v.Revision
		}
		if err != nil {
			if domain.ErrorCode(err) == domain.CodeNotFound {
				it.Action = ""
				continue
			}
			return err
		}
		it.Revision = rev
	}
	return nil
}

func workCSV(wv *workView) [][]string {
	if wv.Concerns != nil {
		rows := [][]string{{"need", "concerns"}}
		for _, need := range domain.Needs {
			rows = append(rows, []string{need, strconv.Itoa(wv.Concerns.ByNeed[need])})
		}
		return rows
	}
	rows := [][]string{{"kind", "id", "title", "community_id", "community", "status", "detail", "overdue"}}
	for _, it := range wv.Items {
		rows = append(rows, []string{it.Kind, it.ID, it.Title, it.CommunityID, it.Community, it.Status, strings.TrimSpace(it.Detail), strconv.FormatBool(it.Overdue)})
	}
	return rows
}

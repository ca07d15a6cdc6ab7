package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// workPage is how many items a work-list page shows.
const workPage = 25

// workView is the action points a coordinator follows up: overdue first,
// each with the forms to act on it.
type workView struct {
	Name     string
	Items    []workItem
	Status   string
	Overdue  bool
	Statuses []string
	Next     string
	CSV      string
	Position uint64
	Here     string
	CanAct   bool
	// Done is a text key after an action taken from the list.
	Done string
}

type workItem struct {
	projections.ActionPointItem
	Title    string
	Revision uint64
	Href     string
}

func (c *Console) work(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	asked, _ := askedArea(r)
	status := q.Get("status")
	if status != "" && !slices.Contains([]string{domain.StatusOpen, domain.StatusInProgress, domain.StatusAchieved, domain.StatusDropped}, status) {
		status = ""
	}
	overdue := q.Get("overdue") == "true"
	var after int32
	if n, err := strconv.ParseInt(q.Get("after"), 10, 32); err == nil && n > 0 {
		after = int32(n)
	}
	limit := workPage
	if wantsCSV(r) {
		limit = 1000
	}
	ctx := r.Context()
	items, next, pos, err := c.cfg.Reads.ActionPoints(ctx, actor, asked, status, overdue, after, limit)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	area, err := displayArea(actor, asked)
	if err != nil {
		area = actor.Area
	}
	v := c.view(r, "work", s, actor)
	wv := &workView{Name: titled(v.Lang, area), Status: status, Overdue: overdue, Position: pos,
		Statuses: []string{domain.StatusOpen, domain.StatusInProgress, domain.StatusAchieved, domain.StatusDropped},
		CanAct:   actor.Role == domain.RoleCoordinator}
	for _, it := range items {
		wi := workItem{ActionPointItem: it, Href: "/case/" + "action-point/" + url.PathEscape(it.ID)}
		if ap, err := c.cfg.App.Queries.ActionPoint(ctx, actor, it.ID); err == nil {
			wi.Title, wi.Revision = ap.Title, ap.Revision
		}
		wv.Items = append(wv.Items, wi)
	}
	// Overdue first: the list's own order (oldest raised first) otherwise.
	slices.SortStableFunc(wv.Items, func(a, b workItem) int {
		switch {
		case a.Overdue == b.Overdue:
			return 0
		case a.Overdue:
			return -1
		}
		return 1
	})
	if wantsCSV(r) {
		rows := [][]string{{"id", "title", "community_id", "district", "chiefdom", "category", "kind", "status", "due_date", "overdue"}}
		for _, it := range wv.Items {
			rows = append(rows, []string{it.ID, it.Title, it.CommunityID, it.District, it.Chiefdom, it.Category, it.Kind, it.Status, it.DueDate, strconv.FormatBool(it.Overdue)})
		}
		writeCSV(w, r, "action-points", rows)
		return
	}
	base := url.Values{}
	for _, k := range []string{"district", "chiefdom"} {
		if q.Get(k) != "" {
			base.Set(k, q.Get(k))
		}
	}
	if status != "" {
		base.Set("status", status)
	}
	if overdue {
		base.Set("overdue", "true")
	}
	here := url.Values{}
	for k, vs := range base {
		here[k] = vs
	}
	if after > 0 {
		here.Set("after", strconv.Itoa(int(after)))
	}
	wv.Here = "/work?" + here.Encode()
	if done := q.Get("done"); done != "" {
		if _, ok := text(v.Lang, "done_"+done); ok {
			wv.Done = "done_" + done
		}
	}
	if next != 0 {
		n := url.Values{}
		for k, vs := range base {
			n[k] = vs
		}
		n.Set("after", strconv.Itoa(int(next)))
		wv.Next = "/work?" + n.Encode()
	}
	csvq := url.Values{}
	for k, vs := range base {
		csvq[k] = vs
	}
	csvq.Set("format", "csv")
	wv.CSV = "/work?" + csvq.Encode()
	v.Data = wv
	c.render(w, r, http.StatusOK, v)
}

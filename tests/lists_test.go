package tests_test

// The work lists (communities, action points, referrals, feedback) and the
// concerns statistic, checked against the test's own record of what it
// sent: every filter and page size walks the whole list, which must be the
// recount, in the documented order, each item once.

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type communityItemJSON struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	District         string  `json:"district"`
	Chiefdom         string  `json:"chiefdom"`
	Status           string  `json:"status"`
	Visits           int     `json:"visits"`
	OpenActionPoints int     `json:"open_action_points"`
	LastVisitAt      *string `json:"last_visit_at"`
}

type referralItemJSON struct {
	ID            string `json:"id"`
	CommunityID   string `json:"community_id"`
	CommunityName string `json:"community_name"`
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	RaisedAt      string `json:"raised_at"`
	AgeHours      int    `json:"age_hours"`
	Outcome       string `json:"outcome"`
	RaisedBy      string `json:"raised_by"`
}

type feedbackItemJSON struct {
	ID            string `json:"id"`
	CommunityID   string `json:"community_id"`
	CommunityName string `json:"community_name"`
	Type          string `json:"type"`
	NeedCategory  string `json:"need_category"`
	Status        string `json:"status"`
	ReceivedAt    string `json:"received_at"`
	AgeDays       int    `json:"age_days"`
	RaisedBy      string `json:"raised_by"`
}

type workAPItemJSON struct {
	ID            string `json:"id"`
	Title         string `json:"title"`
	CommunityID   string `json:"community_id"`
	CommunityName string `json:"community_name"`
	Status        string `json:"status"`
	DueDate       string `json:"due_date"`
	Overdue       bool   `json:"overdue"`
	DaysOverdue   int    `json:"days_overdue"`
	RaisedBy      string `json:"raised_by"`
}

// walk pages through a list with limit and returns every item's raw JSON
// decoded into T, the time just before the first request and just after the
// last (ages are judged between the two), failing on a page over the limit
// or an id listed twice.
func walk[T any](t *testing.T, e *env, token, route string, q url.Values, limit int, id func(T) string) ([]T, time.Time, time.Time) {
	t.Helper()
	var out []T
	seen := map[string]bool{}
	cursor := ""
	before := time.Now()
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("%s?%s: more than 1000 pages", route, q.Encode())
		}
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("limit", fmt.Sprint(limit))
		if cursor != "" {
			pq.Set("cursor", cursor)
		}
		var res struct {
			Position   uint64 `json:"position"`
			Items      []T    `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		e.on(t).getStats(token, route, pq, &res)
		if len(res.Items) > limit {
			t.Fatalf("%s?%s: %d items, limit %d", route, pq.Encode(), len(res.Items), limit)
		}
		for _, it := range res.Items {
			if seen[id(it)] {
				t.Errorf("%s?%s: %s listed twice", route, q.Encode(), id(it))
			}
			seen[id(it)] = true
		}
		out = append(out, res.Items...)
		if res.NextCursor == "" {
			return out, before, time.Now()
		}
		if len(res.Items) == 0 {
			t.Fatalf("%s?%s: an empty page with a next cursor", route, pq.Encode())
		}
		cursor = res.NextCursor
	}
}

// sameIDs compares the ids listed, in order, with the recount's; ids in
// maybe (ages on the boundary while the pages were read) may be either
// listed or not.
func sameIDs(t *testing.T, what string, got, want []string, maybe map[string]bool) {
	t.Helper()
	var g []string
	for _, id := range got {
		if !maybe[id] {
			g = append(g, id)
		}
	}
	var w []string
	for _, id := range want {
		if !maybe[id] {
			w = append(w, id)
		}
	}
	if !slices.Equal(g, w) {
		t.Errorf("%s: listed %d %v\nwant %d %v", what, len(g), g, len(w), w)
	}
}

// listWorld is the world of the list tests, with the users' ids.
type listWorld struct {
	*world
	ids map[string]string // token name -> user id
	// extra are communities registered and never triggered, by id.
	extra []*simCommunity
}

func newListWorld(t *testing.T, e *env) *listWorld {
	t.Helper()
	lw := &listWorld{world: newWorld(7), ids: map[string]string{}}
	for _, u := range [][4]string{
		{"coord", "coordinator", "Kenema", ""},
		{"mob", "mobilizer", "Kenema", ""},
		{"mob-kailahun", "mobilizer", "Kailahun", ""},
		{"coord-national", "coordinator", "", ""},
		{"auditor", "auditor", "", ""},
		{"coord-nongowa", "coordinator", "Kenema", "Nongowa"},
	} {
		lw.ids[u[0]] = e.user(u[0], u[1], u[2], u[3])
	}
	lw.run(e, lw.registerCommunities())
	// Two communities a mobilizer registered and nobody triggered yet.
	for _, id := range []string{"KEN-7", "KEN-8"} {
		c := &simCommunity{id: id, district: "Kenema", chiefdom: "Nongowa", dKey: "kenema", cKey: "nongowa", mob: "mob"}
		lw.run(e, []op{{path: "/v1/communities", token: "mob", want: http.StatusCreated,
			body:  map[string]any{"id": id, "name": "Village " + id, "district": c.district, "chiefdom": c.chiefdom},
			apply: func() { lw.extra = append(lw.extra, c); lw.byID[id] = c }}})
	}
	lw.run(e, lw.plan(70, 45, 45))
	return lw
}

// allCommunities lists every community, triggered or not.
func (lw *listWorld) allCommunities() []*simCommunity {
	return append(slices.Clone(lw.comms), lw.extra...)
}

func apOpen(status string) bool { return status == "open" || status == "in_progress" }

// TestWorkListsMatchRecount walks every list with its filters and page
// sizes and compares it with the recount of what was sent.
func TestWorkListsMatchRecount(t *testing.T) {
	e := start(t)
	lw := newListWorld(t, e)
	guardDay(t, lw.world)
	t.Log(lw.summary())
	pos := itoa(lw.lastPos)
	today := time.Now().UTC().Format(time.DateOnly)
	scopes := []struct {
		token string
		sc    scope
	}{
		{"coord-national", scope{}},
		{"auditor", scope{district: " KENEMA "}},
		{"coord", scope{implied: "Kenema"}},
		{"coord-nongowa", scope{implied: "Kenema"}},
		{"mob-kailahun", scope{district: "kailahun", chiefdom: "luawa"}},
		{"coord-national", scope{community: "KEN-3"}},
	}
	// coord-nongowa's own area is its chiefdom; the recount narrows too.
	inScope := func(i int, community string) bool {
		ok := scopes[i].sc.has(lw.world, community)
		if scopes[i].token == "coord-nongowa" {
			ok = ok && lw.byID[community].cKey == "nongowa"
		}
		return ok
	}

	t.Run("communities", func(t *testing.T) {
		visits := map[string][]time.Time{}
		for _, v := range lw.visits {
			visits[v.community] = append(visits[v.community], v.at)
		}
		open := map[string]int{}
		for _, ap := range lw.aps {
			if apOpen(ap.status) {
				open[ap.community]++
			}
		}
		lastVisit := func(id string) time.Time {
			var last time.Time
			for _, at := range visits[id] {
				if at.After(last) {
					last = at
				}
			}
			return last
		}
		status := func(c *simCommunity) string {
			switch {
			case len(visits[c.id]) > 0:
				return "under_follow_up"
			case slices.Contains(lw.extra, c):
				return "registered"
			}
			return "triggered"
		}
		sortKey := func(c *simCommunity) string {
			return c.dKey + "\x00" + c.cKey + "\x00" + norm("Village "+c.id) + "\x00" + c.id
		}
		for i, s := range scopes {
			for _, f := range []struct {
				q       url.Values
				keep    func(c *simCommunity) bool
				noVisit int
			}{
				{q: url.Values{}, keep: func(*simCommunity) bool { return true }},
				{q: url.Values{"status": {"registered"}}, keep: func(c *simCommunity) bool { return status(c) == "registered" }},
				{q: url.Values{"status": {"under_follow_up"}}, keep: func(c *simCommunity) bool { return status(c) == "under_follow_up" }},
				{q: url.Values{"q": {" village KEN "}}, keep: func(c *simCommunity) bool { return strings.HasPrefix(c.id, "KEN") }},
				{q: url.Values{"q": {"-2"}}, keep: func(c *simCommunity) bool { return strings.Contains(c.id, "-2") }},
				{q: url.Values{"no_visit_days": {"7"}}, noVisit: 7},
				{q: url.Values{"no_visit_days": {"3"}, "status": {"under_follow_up"}}, noVisit: 3,
					keep: func(c *simCommunity) bool { return status(c) == "under_follow_up" }},
			} {
				q := s.sc.query(0, false)
				for k, v := range f.q {
					q[k] = v
				}
				q.Set("min_position", pos)
				for _, limit := range []int{2, 1000} {
					got, before, after := walk(t, e, s.token, "/v1/communities", q, limit, func(c communityItemJSON) string { return c.ID })
					var want []*simCommunity
					maybe := map[string]bool{}
					for _, c := range lw.allCommunities() {
						if !inScope(i, c.id) || f.keep != nil && !f.keep(c) {
							continue
						}
						if f.noVisit > 0 {
							last, d := lastVisit(c.id), time.Duration(f.noVisit)*24*time.Hour
							switch {
							case last.IsZero() || last.Before(before.Add(-d)):
							case !last.Before(after.Add(-d)):
								continue
							default:
								maybe[c.id] = true
							}
						}
						want = append(want, c)
					}
					slices.SortFunc(want, func(a, b *simCommunity) int { return cmp.Compare(sortKey(a), sortKey(b)) })
					var wantIDs, gotIDs []string
					for _, c := range want {
						wantIDs = append(wantIDs, c.id)
					}
					for _, it := range got {
						gotIDs = append(gotIDs, it.ID)
						c := lw.byID[it.ID]
						if c == nil {
							t.Errorf("unknown community %s", it.ID)
							continue
						}
						last := lastVisit(c.id)
						if it.Name != "Village "+c.id || norm(it.District) != c.dKey || norm(it.Chiefdom) != c.cKey || it.Status != status(c) ||
							it.Visits != len(visits[c.id]) || it.OpenActionPoints != open[c.id] ||
							(last.IsZero() != (it.LastVisitAt == nil)) || it.LastVisitAt != nil && *it.LastVisitAt != rfc(last) {
							t.Errorf("%s: row %+v does not match the record (%d visits, last %v, %d open, %s)", q.Encode(), it, len(visits[c.id]), last, open[c.id], status(c))
						}
					}
					sameIDs(t, fmt.Sprintf("%s %s?%s limit %d", s.token, "/v1/communities", q.Encode(), limit), gotIDs, wantIDs, maybe)
				}
			}
		}
	})

	t.Run("action points", func(t *testing.T) {
		class := func(ap *simAP) int {
			switch {
			case apOverdue(ap.due, ap.status, today):
				return 0
			case ap.due != "":
				return 1
			}
			return 2
		}
		for i, s := range scopes {
			for _, f := range []struct {
				q    url.Values
				keep func(ap *simAP) bool
			}{
				{url.Values{}, func(*simAP) bool { return true }},
				{url.Values{"overdue": {"true"}}, func(ap *simAP) bool { return apOverdue(ap.due, ap.status, today) }},
				{url.Values{"status": {"in_progress"}, "category": {"hygiene"}}, func(ap *simAP) bool { return ap.status == "in_progress" && ap.category == "hygiene" }},
				{url.Values{"status": {"open"}}, func(ap *simAP) bool { return ap.status == "open" }},
			} {
				q := s.sc.query(0, false)
				for k, v := range f.q {
					q[k] = v
				}
				q.Set("min_position", pos)
				for _, limit := range []int{3, 1000} {
					got, _, _ := walk(t, e, s.token, "/v1/action-points", q, limit, func(a workAPItemJSON) string { return a.ID })
					var want []*simAP
					for _, ap := range lw.aps {
						if inScope(i, ap.community) && f.keep(ap) {
							want = append(want, ap)
						}
					}
					slices.SortFunc(want, func(a, b *simAP) int {
						return cmp.Or(cmp.Compare(class(a), class(b)), cmp.Compare(a.due, b.due), cmp.Compare(a.id, b.id))
					})
					var wantIDs, gotIDs []string
					for _, ap := range want {
						wantIDs = append(wantIDs, ap.id)
					}
					for _, it := range got {
						gotIDs = append(gotIDs, it.ID)
						ap := apByID(lw.world, it.ID)
						if ap == nil {
							t.Errorf("unknown action point %s", it.ID)
							continue
						}
						days := 0
						if apOverdue(ap.due, ap.status, today) {
							due, _ := time.Parse(time.DateOnly, ap.due)
							now, _ := time.Parse(time.DateOnly, today)
							days = int(now.Sub(due).Hours() / 24)
						}
						if it.Title != "Action "+ap.id || it.CommunityID != ap.community || it.CommunityName != "Village "+ap.community ||
							it.Status != ap.status || it.DueDate != ap.due || it.DaysOverdue != days || it.RaisedBy != lw.ids[lw.byID[ap.community].mob] {
							t.Errorf("%s: row %+v does not match the record %+v (%d days overdue, raised by %s)", q.Encode(), it, *ap, days, lw.ids[lw.byID[ap.community].mob])
						}
					}
					sameIDs(t, fmt.Sprintf("%s /v1/action-points?%s limit %d", s.token, q.Encode(), limit), gotIDs, wantIDs, nil)
				}
			}
		}
	})

	t.Run("referrals", func(t *testing.T) {
		for i, s := range scopes {
			for _, f := range []struct {
				q     url.Values
				keep  func(r *simReferral) bool
				hours int
			}{
				{q: url.Values{}, keep: func(*simReferral) bool { return true }},
				{q: url.Values{"status": {"raised"}, "older_than_hours": {"24"}}, keep: func(r *simReferral) bool { return r.status == "raised" }, hours: 24},
				{q: url.Values{"kind": {"death_alert"}}, keep: func(r *simReferral) bool { return r.kind == "death_alert" }},
				{q: url.Values{"older_than_hours": {"500"}}, keep: func(*simReferral) bool { return true }, hours: 500},
				{q: url.Values{"status": {"completed"}, "kind": {"suspected_case"}}, keep: func(r *simReferral) bool { return r.status == "completed" && r.kind == "suspected_case" }},
			} {
				q := s.sc.query(0, false)
				for k, v := range f.q {
					q[k] = v
				}
				q.Set("min_position", pos)
				for _, limit := range []int{4, 1000} {
					got, before, after := walk(t, e, s.token, "/v1/referrals", q, limit, func(r referralItemJSON) string { return r.ID })
					var want []*simReferral
					maybe := map[string]bool{}
					for _, r := range lw.refs {
						if !inScope(i, r.community) || !f.keep(r) {
							continue
						}
						if f.hours > 0 {
							d := time.Duration(f.hours) * time.Hour
							switch {
							case !r.raisedAt.After(before.Add(-d)):
							case r.raisedAt.After(after.Add(-d)):
								continue
							default:
								maybe[r.id] = true
							}
						}
						want = append(want, r)
					}
					slices.SortFunc(want, func(a, b *simReferral) int { return cmp.Or(a.raisedAt.Compare(b.raisedAt), cmp.Compare(a.id, b.id)) })
					var wantIDs, gotIDs []string
					for _, r := range want {
						wantIDs = append(wantIDs, r.id)
					}
					for _, it := range got {
						gotIDs = append(gotIDs, it.ID)
						r := refByID(lw.world, it.ID)
						if r == nil {
							t.Errorf("unknown referral %s", it.ID)
							continue
						}
						age := int(time.Since(r.raisedAt).Hours())
						if it.CommunityID != r.community || it.CommunityName != "Village "+r.community || it.Kind != r.kind || it.Status != r.status ||
							it.RaisedAt != rfc(r.raisedAt) || it.Outcome != r.outcome || it.RaisedBy != lw.ids[lw.byID[r.community].mob] ||
							it.AgeHours < age-1 || it.AgeHours > age {
							t.Errorf("%s: row %+v does not match the record %+v (age about %d h)", q.Encode(), it, *r, age)
						}
					}
					sameIDs(t, fmt.Sprintf("%s /v1/referrals?%s limit %d", s.token, q.Encode(), limit), gotIDs, wantIDs, maybe)
				}
			}
		}
	})

	t.Run("feedback", func(t *testing.T) {
		for i, s := range scopes {
			for _, f := range []struct {
				q    url.Values
				keep func(f *simFeedback) bool
				days int
			}{
				{q: url.Values{}, keep: func(*simFeedback) bool { return true }},
				{q: url.Values{"loop_closed": {"false"}, "older_than_days": {"7"}}, keep: func(f *simFeedback) bool { return f.status != "loop_closed" }, days: 7},
				{q: url.Values{"loop_closed": {"true"}}, keep: func(f *simFeedback) bool { return f.status == "loop_closed" }},
				{q: url.Values{"status": {"referred"}, "type": {"rumour"}}, keep: func(f *simFeedback) bool { return f.status == "referred" && f.typ == "rumour" }},
				{q: url.Values{"older_than_days": {"30"}}, keep: func(*simFeedback) bool { return true }, days: 30},
			} {
				q := s.sc.query(0, false)
				for k, v := range f.q {
					q[k] = v
				}
				q.Set("min_position", pos)
				for _, limit := range []int{5, 1000} {
					got, before, after := walk(t, e, s.token, "/v1/feedback", q, limit, func(f feedbackItemJSON) string { return f.ID })
					var want []*simFeedback
					maybe := map[string]bool{}
					for _, fb := range lw.fbs {
						if !inScope(i, fb.community) || !f.keep(fb) {
							continue
						}
						if f.days > 0 {
							d := time.Duration(f.days) * 24 * time.Hour
							switch {
							case !fb.receivedAt.After(before.Add(-d)):
							case fb.receivedAt.After(after.Add(-d)):
								continue
							default:
								maybe[fb.id] = true
							}
						}
						want = append(want, fb)
					}
					slices.SortFunc(want, func(a, b *simFeedback) int {
						return cmp.Or(a.receivedAt.Compare(b.receivedAt), cmp.Compare(a.id, b.id))
					})
					var wantIDs, gotIDs []string
					for _, fb := range want {
						wantIDs = append(wantIDs, fb.id)
					}
					for _, it := range got {
						gotIDs = append(gotIDs, it.ID)
						fb := fbByID(lw.world, it.ID)
						if fb == nil {
							t.Errorf("unknown feedback item %s", it.ID)
							continue
						}
						age := int(time.Since(fb.receivedAt).Hours() / 24)
						if it.CommunityID != fb.community || it.CommunityName != "Village "+fb.community || it.Type != fb.typ || it.NeedCategory != fb.need ||
							it.Status != fb.status || it.ReceivedAt != rfc(fb.receivedAt) || it.RaisedBy != lw.ids[lw.byID[fb.community].mob] ||
							it.AgeDays < age-1 || it.AgeDays > age {
							t.Errorf("%s: row %+v does not match the record %+v", q.Encode(), it, *fb)
						}
					}
					sameIDs(t, fmt.Sprintf("%s /v1/feedback?%s limit %d", s.token, q.Encode(), limit), gotIDs, wantIDs, maybe)
				}
			}
		}
	})

	t.Run("areas", func(t *testing.T) {
		for _, route := range []string{"/v1/communities", "/v1/action-points", "/v1/referrals", "/v1/feedback"} {
			// A chiefdom coordinator never sees another chiefdom.
			for _, q := range []string{"district=Kenema&chiefdom=Small%20Bo", "district=Kailahun", "community_id=KEN-4"} {
				e.on(t).problem(req{method: "GET", path: route + "?" + q, token: "coord-nongowa"}, http.StatusForbidden, "forbidden", "")
			}
			// A mobilizer reads their own area, and no other.
			e.on(t).must(http.StatusOK, req{method: "GET", path: route + "?district=Kailahun", token: "mob-kailahun"})
			e.on(t).problem(req{method: "GET", path: route + "?district=Kenema", token: "mob-kailahun"}, http.StatusForbidden, "forbidden", "")
			e.on(t).problem(req{method: "GET", path: route + "?community_id=KEN-1", token: "mob-kailahun"}, http.StatusForbidden, "forbidden", "")
			e.on(t).problem(req{method: "GET", path: route + "?community_id=NOPE", token: "auditor"}, http.StatusNotFound, "not_found", "community_id")
			e.on(t).problem(req{method: "GET", path: route + "?cursor=AQE", token: "auditor"}, http.StatusBadRequest, "invalid_input", "cursor")
			e.on(t).problem(req{method: "GET", path: route + "?limit=1001", token: "auditor"}, http.StatusBadRequest, "invalid_input", "limit")
			e.on(t).problem(req{method: "GET", path: route + "?from=2015-01-01", token: "auditor"}, http.StatusBadRequest, "invalid_input", "from")
			e.on(t).problem(req{method: "GET", path: route}, http.StatusUnauthorized, "unauthenticated", "")
		}
		for _, c := range []struct{ route, query, field string }{
			{"/v1/communities", "status=open", "status"},
			{"/v1/communities", "no_visit_days=-1", "no_visit_days"},
			{"/v1/communities", "no_visit_days=x", "no_visit_days"},
			{"/v1/referrals", "status=received", "status"},
			{"/v1/referrals", "kind=rumour", "kind"},
			{"/v1/referrals", "older_than_hours=abc", "older_than_hours"},
			{"/v1/feedback", "loop_closed=maybe", "loop_closed"},
			{"/v1/feedback", "type=death_alert", "type"},
			{"/v1/feedback", "older_than_days=-3", "older_than_days"},
		} {
			e.on(t).problem(req{method: "GET", path: c.route + "?" + c.query, token: "coord-national"}, http.StatusBadRequest, "invalid_input", c.field)
		}
	})

	t.Run("concerns", func(t *testing.T) {
		national, districts, chiefdoms, communities := placeScopes(lw.world)
		all := append(append(append([]scope{national}, districts...), chiefdoms...), communities...)
		bounded := []scope{
			{from: lw.start.AddDate(0, 0, 10), to: lw.start.AddDate(0, 0, 31)},
			{district: "Kailahun", from: lw.start.AddDate(0, 0, 20)},
			{district: "Kenema", chiefdom: "Nongowa", to: lw.start.AddDate(0, 0, 25)},
		}
		for _, sc := range append(all, bounded...) {
			checkConcerns(t, e, lw.world, "auditor", sc, lw.lastPos)
		}
		// The coordinator's own area; a mobilizer's own area.
		checkConcerns(t, e, lw.world, "coord", scope{implied: "Kenema"}, lw.lastPos)
		checkConcerns(t, e, lw.world, "mob-kailahun", scope{implied: "Kailahun"}, lw.lastPos)
		checkConcerns(t, e, lw.world, "mob-kailahun", scope{district: "Kailahun", chiefdom: "Jawie"}, lw.lastPos)
		e.on(t).problem(req{method: "GET", path: "/v1/stats/concerns?district=Kenema", token: "mob-kailahun"}, http.StatusForbidden, "forbidden", "")
		e.on(t).problem(req{method: "GET", path: "/v1/stats/concerns?district=Kenema&chiefdom=Small%20Bo", token: "coord-nongowa"}, http.StatusForbidden, "forbidden", "")
		e.on(t).problem(req{method: "GET", path: "/v1/stats/concerns", token: "admin"}, http.StatusForbidden, "forbidden", "")
	})
}

type concernCountsJSON struct {
	Visits   int            `json:"visits"`
	Concerns int            `json:"concerns"`
	ByNeed   map[string]int `json:"by_need"`
}

type concernsJSON struct {
	Position           uint64         `json:"position"`
	Visits             int            `json:"visits"`
	VisitsWithConcerns int            `json:"visits_with_concerns"`
	Concerns           int            `json:"concerns"`
	ByNeed             map[string]int `json:"by_need"`
	Series             []struct {
		Week string `json:"week"`
		concernCountsJSON
	} `json:"series"`
	ByPlace []struct {
		District    string `json:"district"`
		Chiefdom    string `json:"chiefdom"`
		CommunityID string `json:"community_id"`
		concernCountsJSON
	} `json:"by_place"`
}

// checkConcerns compares /v1/stats/concerns for sc with the recount of the
// visits sent.
func checkConcerns(t *testing.T, e *env, w *world, token string, sc scope, minPos uint64) {
	t.Helper()
	var got concernsJSON
	e.on(t).getStats(token, "/v1/stats/concerns", sc.query(minPos, false), &got)
	want := concernsJSON{ByNeed: map[string]int{}}
	weeks := map[string]*concernCountsJSON{}
	places := map[string]*concernCountsJSON{}
	level := 0
	switch {
	case sc.community != "" || sc.chiefdom != "":
		level = 2
	case sc.district != "" || sc.implied != "":
		level = 1
	}
	count := func(m map[string]*concernCountsJSON, k string, needs []string) {
		if m[k] == nil {
			m[k] = &concernCountsJSON{ByNeed: map[string]int{}}
		}
		m[k].Visits++
		m[k].Concerns += len(needs)
		for _, n := range needs {
			m[k].ByNeed[n]++
		}
	}
	var first, last time.Time
	for _, v := range w.visits {
		if !sc.has(w, v.community) || !sc.inTime(v.at) {
			continue
		}
		span(&first, &last, v.at)
		c := w.byID[v.community]
		key := []string{c.dKey, c.dKey + "/" + c.cKey, c.id}[level]
		count(weeks, isoWeek(v.at), v.needs)
		count(places, key, v.needs)
		want.Visits++
		want.Concerns += len(v.needs)
		if len(v.needs) > 0 {
			want.VisitsWithConcerns++
		}
		for _, n := range v.needs {
			want.ByNeed[n]++
		}
	}
	label := token + " concerns " + sc.String()
	if got.Visits != want.Visits || got.Concerns != want.Concerns || got.VisitsWithConcerns != want.VisitsWithConcerns {
		t.Errorf("%s: %d visits, %d with concerns, %d concerns; want %d, %d, %d", label, got.Visits, got.VisitsWithConcerns, got.Concerns, want.Visits, want.VisitsWithConcerns, want.Concerns)
	}
	sameNeeds := func(what string, got, want map[string]int) {
		t.Helper()
		for _, n := range simNeeds {
			if got[n] != want[n] {
				t.Errorf("%s: %s by_need %v, want %v", label, what, got, want)
				return
			}
		}
		if len(got) != len(simNeeds) {
			t.Errorf("%s: %s by_need %v does not list every category", label, what, got)
		}
	}
	sameNeeds("total", got.ByNeed, want.ByNeed)
	var labels []string
	for _, s := range got.Series {
		labels = append(labels, s.Week)
		w := weeks[s.Week]
		if w == nil {
			w = &concernCountsJSON{ByNeed: map[string]int{}}
		}
		if s.Visits != w.Visits || s.Concerns != w.Concerns {
			t.Errorf("%s: week %s has %d visits, %d concerns; want %d, %d", label, s.Week, s.Visits, s.Concerns, w.Visits, w.Concerns)
		}
		sameNeeds("week "+s.Week, s.ByNeed, w.ByNeed)
		delete(weeks, s.Week)
	}
	if len(weeks) > 0 {
		t.Errorf("%s: weeks with visits missing from the series: %v (series %v)", label, weeks, labels)
	}
	if want.Visits > 0 || !sc.from.IsZero() {
		checkWeeks(t, label, labels, sc.from, first, last)
	}
	for _, p := range got.ByPlace {
		key := []string{norm(p.District), norm(p.District) + "/" + norm(p.Chiefdom), p.CommunityID}[level]
		w := places[key]
		if w == nil {
			w = &concernCountsJSON{ByNeed: map[string]int{}}
		}
		if p.Visits != w.Visits || p.Concerns != w.Concerns {
			t.Errorf("%s: place %s has %d visits, %d concerns; want %d, %d", label, key, p.Visits, p.Concerns, w.Visits, w.Concerns)
		}
		sameNeeds("place "+key, p.ByNeed, w.ByNeed)
		delete(places, key)
	}
	if len(places) > 0 {
		t.Errorf("%s: places with visits missing from by_place: %v", label, places)
	}
}

func refByID(w *world, id string) *simReferral {
	for _, r := range w.refs {
		if r.id == id {
			return r
		}
	}
	return nil
}

func fbByID(w *world, id string) *simFeedback {
	for _, f := range w.fbs {
		if f.id == id {
			return f
		}
	}
	return nil
}

// TestListCursorsHoldUnderWrites: a cursor continues right after the last
// item served while records are added between pages: nothing is listed
// twice, a record that sorts before the cursor is not listed, and one that
// sorts after it is.
func TestListCursorsHoldUnderWrites(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	t0 := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	raise := func(id string, at time.Time) uint64 {
		t.Helper()
		res := e.must(http.StatusCreated, req{method: "POST", path: "/v1/referrals", token: "mob",
			body: map[string]any{"id": id, "community_id": "KEN-1", "kind": "other", "occurred_at": rfc(at)}})
		return uint64(res.num("position"))
	}
	var pos uint64
	for i := 1; i <= 9; i++ {
		pos = raise(fmt.Sprintf("R-%02d", i), t0.Add(time.Duration(i)*time.Hour))
	}
	page := func(cursor string, minPos uint64) ([]string, string) {
		t.Helper()
		q := url.Values{"limit": {"3"}, "min_position": {itoa(minPos)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var res struct {
			Items      []referralItemJSON `json:"items"`
			NextCursor string             `json:"next_cursor"`
		}
		e.getStats("coord", "/v1/referrals", q, &res)
		var ids []string
		for _, it := range res.Items {
			ids = append(ids, it.ID)
		}
		return ids, res.NextCursor
	}
	ids, cursor := page("", pos)
	if want := []string{"R-01", "R-02", "R-03"}; !slices.Equal(ids, want) {
		t.Fatalf("first page %v, want %v", ids, want)
	}
	// Written between pages: one before the cursor, one between the
	// pages' items, one after all.
	raise("R-00", t0)
	raise("R-04b", t0.Add(4*time.Hour+30*time.Minute))
	pos = raise("R-99", t0.Add(40*time.Hour))
	var rest []string
	for cursor != "" {
		var more []string
		more, cursor = page(cursor, pos)
		rest = append(rest, more...)
	}
	if want := []string{"R-04", "R-04b", "R-05", "R-06", "R-07", "R-08", "R-09", "R-99"}; !slices.Equal(rest, want) {
		t.Errorf("the following pages listed %v, want %v", rest, want)
	}
}

// TestListsUnderConcurrentWrites: lists read while referrals are raised
// out of field-time order (late syncs) answer every time, and once the
// writes are in, the list holds each exactly once, in order.
func TestListsUnderConcurrentWrites(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	t0 := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	done := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				path := []string{"/v1/referrals?limit=7", "/v1/communities", "/v1/stats/concerns", "/v1/referrals?status=raised&older_than_hours=1"}[r]
				hr, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
				hr.Header.Set("Authorization", "Bearer "+e.tokens["coord"])
				res, err := http.DefaultClient.Do(hr)
				if err != nil {
					errs <- err
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("GET %s: %d", path, res.StatusCode)
					return
				}
			}
		}()
	}
	var pos uint64
	var want []string
	for i := range 120 {
		id := fmt.Sprintf("R-%03d", i)
		// Every third arrives late: raised well before the ones before it.
		at := t0.Add(time.Duration(i) * time.Hour)
		if i%3 == 2 {
			at = t0.Add(-time.Duration(i) * time.Hour)
		}
		res := e.must(http.StatusCreated, req{method: "POST", path: "/v1/referrals", token: "mob",
			body: map[string]any{"id": id, "community_id": "KEN-1", "kind": "other", "occurred_at": rfc(at)}})
		pos = uint64(res.num("position"))
		want = append(want, fmt.Sprintf("%s %s", rfc(at), id))
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	slices.Sort(want)
	got, _, _ := walk(t, e, "coord", "/v1/referrals", url.Values{"min_position": {itoa(pos)}}, 9, func(r referralItemJSON) string { return r.ID })
	var ids []string
	for _, r := range got {
		ids = append(ids, r.RaisedAt+" "+r.ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("listed %v\nwant %v", ids, want)
	}
}

package tests_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/places"
)

var statsRoutes = []string{"/v1/stats/completion", "/v1/stats/trust", "/v1/stats/referrals", "/v1/stats/feedback"}

// TestReadRoutesRolesAndAreas checks who may read the indicators and of
// which place, the refusal of bad parameters, and the follow-up list's
// filters and paging.
func TestReadRoutesRolesAndAreas(t *testing.T) {
	e := start(t)
	e.staff()
	w := newWorld(42)
	w.run(e, w.registerCommunities())
	w.run(e, w.plan(80, 25, 25))
	guardDay(t, w)
	pos := itoa(w.lastPos)

	t.Run("roles", func(t *testing.T) {
		for _, route := range statsRoutes {
			for _, tok := range []string{"coord", "coord-national", "auditor"} {
				e.on(t).must(http.StatusOK, req{method: "GET", path: route + "?min_position=" + pos, token: tok})
			}
			for _, tok := range []string{"mob", "mob-kailahun", "admin"} {
				e.on(t).problem(req{method: "GET", path: route, token: tok}, http.StatusForbidden, "forbidden", "")
			}
			e.on(t).problem(req{method: "GET", path: route}, http.StatusUnauthorized, "unauthenticated", "")
		}
	})

	t.Run("areas", func(t *testing.T) {
		kenema := scope{district: "Kenema"}
		// A Kenema coordinator without district reads Kenema: the same
		// answer as with district=Kenema, the recount of Kenema, and less
		// than the auditor's national numbers.
		for _, route := range statsRoutes {
			var implicit, explicit, national map[string]any
			e.on(t).getStats("coord", route, url.Values{"min_position": {pos}}, &implicit)
			e.on(t).getStats("coord", route, url.Values{"district": {"Kenema"}}, &explicit)
			e.on(t).getStats("auditor", route, url.Values{}, &national)
			if a, b := mustJSON(t, implicit), mustJSON(t, explicit); a != b {
				t.Errorf("%s: the Kenema coordinator without district reads\n%s\nbut with district=Kenema\n%s", route, a, b)
			}
			if mustJSON(t, implicit) == mustJSON(t, national) {
				t.Errorf("%s: the Kenema coordinator reads the national numbers", route)
			}
		}
		c := checkCompletion(t, e, w, "coord", scope{implied: "Kenema"}, false, w.lastPos)
		k := checkCompletion(t, e, w, "coord", kenema, false, w.lastPos)
		var n completionJSON
		e.on(t).getStats("auditor", "/v1/stats/completion", nil, &n)
		if c.Total != k.Total || n.Total <= c.Total || n.Total != len(w.aps) {
			t.Errorf("completion totals: coordinator %d, with district=Kenema %d, auditor national %d (all: %d)", c.Total, k.Total, n.Total, len(w.aps))
		}
		// The coordinator's implicit answer is the recount of Kenema.
		checkReferrals(t, e, w, "coord", scope{implied: "Kenema"}, w.lastPos)
		checkFeedback(t, e, w, "coord", scope{implied: "Kenema"}, true, w.lastPos)
		checkTrust(t, e, w, "coord", scope{implied: "Kenema"}, w.lastPos)
		var rk, rn referralsJSON
		e.on(t).getStats("coord", "/v1/stats/referrals", nil, &rk)
		e.on(t).getStats("auditor", "/v1/stats/referrals", nil, &rn)
		if rk.Total != recountReferrals(w, kenema).total || rn.Total != len(w.refs) || rn.Total <= rk.Total {
			t.Errorf("referral totals: Kenema coordinator %d, auditor %d (all %d)", rk.Total, rn.Total, len(w.refs))
		}

		for _, route := range statsRoutes {
			e.on(t).problem(req{method: "GET", path: route + "?district=Kailahun", token: "coord"}, http.StatusForbidden, "forbidden", "")
			e.on(t).problem(req{method: "GET", path: route + "?district=kailahun&chiefdom=Luawa", token: "coord"}, http.StatusForbidden, "forbidden", "")
			e.on(t).problem(req{method: "GET", path: route + "?community_id=KAI-1", token: "coord"}, http.StatusForbidden, "forbidden", "")
			e.on(t).problem(req{method: "GET", path: route + "?community_id=NOPE-1", token: "coord"}, http.StatusNotFound, "not_found", "community_id")
			e.on(t).problem(req{method: "GET", path: route + "?community_id=NOPE-1", token: "auditor"}, http.StatusNotFound, "not_found", "community_id")
			e.on(t).problem(req{method: "GET", path: route + "?chiefdom=Nongowa", token: "auditor"}, http.StatusBadRequest, "invalid_input", "district")
			// Names match case-insensitively and trimmed, within the area too.
			e.on(t).must(http.StatusOK, req{method: "GET", path: route + "?district=%20KENEMA%20&chiefdom=nongowa", token: "coord"})
			e.on(t).must(http.StatusOK, req{method: "GET", path: route + "?community_id=KEN-3", token: "coord"})
		}
		checkCompletion(t, e, w, "coord", scope{district: " KENEMA ", chiefdom: "nongowa"}, false, w.lastPos)
		checkCompletion(t, e, w, "coord", scope{community: "KEN-3"}, false, w.lastPos)
	})

	t.Run("bad parameters", func(t *testing.T) {
		cases := []struct{ query, field string }{
			{"interval=month", "interval"},
			{"from=yesterday", "from"},
			{"to=2015-13-45", "to"},
			{"from=2015-03-01&to=2015-02-01", "to"},
			{"foo=1", "foo"},
			{"min_position=abc", "min_position"},
			{"min_position=-1", "min_position"},
		}
		for _, route := range statsRoutes {
			for _, c := range cases {
				e.on(t).problem(req{method: "GET", path: route + "?" + c.query, token: "coord-national"}, http.StatusBadRequest, "invalid_input", c.field)
			}
		}
		e.on(t).problem(req{method: "GET", path: "/v1/stats/completion?category=magic", token: "coord-national"}, http.StatusBadRequest, "invalid_input", "category")
		// category narrows action points only; elsewhere it is not a parameter.
		e.on(t).problem(req{method: "GET", path: "/v1/stats/trust?category=hygiene", token: "coord-national"}, http.StatusBadRequest, "invalid_input", "category")
	})

	t.Run("follow-up list", func(t *testing.T) {
		today := time.Now().UTC().Format(time.DateOnly)
		want := func(sc scope, status string, overdue bool) []string {
			var ids []string
			for _, ap := range w.aps {
				if sc.has(w, ap.community) && (status == "" || ap.status == status) && (!overdue || apOverdue(ap.due, ap.status, today)) {
					ids = append(ids, ap.id)
				}
			}
			sort.Strings(ids)
			return ids
		}
		check := func(t *testing.T, token string, q url.Values, limit int, wantIDs []string) {
			t.Helper()
			got := listAll(t, e, token, q, limit)
			ids := make([]string, 0, len(got))
			seen := map[string]bool{}
			for _, it := range got {
				if seen[it.ID] {
					t.Errorf("%s: %s listed twice", q.Encode(), it.ID)
				}
				seen[it.ID] = true
				ids = append(ids, it.ID)
				ap := apByID(w, it.ID)
				if ap == nil {
					t.Errorf("%s: unknown action point %s", q.Encode(), it.ID)
					continue
				}
				c := w.byID[ap.community]
				// Places as the places list spells them, whatever the case
				// and spaces they were registered with.
				canonical, err := places.Default().ResolveArea(c.district, c.chiefdom)
				if err != nil {
					t.Fatalf("community %s: %v", c.id, err)
				}
				if it.Status != ap.status || it.CommunityID != ap.community || it.Category != ap.category || it.Kind != ap.kind ||
					it.DueDate != ap.due || it.Overdue != apOverdue(ap.due, ap.status, today) ||
					it.District != canonical.District || it.Chiefdom != canonical.Chiefdom {
					t.Errorf("%s: item %+v does not match the record %+v", q.Encode(), it, *ap)
				}
			}
			sort.Strings(ids)
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("%s (limit %d): listed %d items %v, want %d %v", q.Encode(), limit, len(ids), ids, len(wantIDs), wantIDs)
			}
		}
		national, kenema, kailahun := scope{}, scope{district: "Kenema"}, scope{district: "Kailahun"}
		overdue := want(national, "", true)
		if len(overdue) < 10 {
			t.Fatalf("only %d overdue action points; the paging check proves little", len(overdue))
		}
		for _, limit := range []int{1, 3, 7, 1000} {
			check(t, "coord-national", url.Values{"overdue": {"true"}, "min_position": {pos}}, limit, overdue)
		}
		check(t, "coord", url.Values{"overdue": {"true"}}, 4, want(kenema, "", true))
		check(t, "auditor", url.Values{"overdue": {"true"}, "district": {"kailahun"}}, 5, want(kailahun, "", true))
		check(t, "mob-kailahun", url.Values{}, 9, want(kailahun, "", false))
		check(t, "coord-national", url.Values{"overdue": {"false"}}, 50, want(national, "", false))
		for _, st := range []string{"open", "in_progress", "achieved", "dropped"} {
			check(t, "coord-national", url.Values{"status": {st}}, 6, want(national, st, false))
			check(t, "coord", url.Values{"status": {st}, "overdue": {"true"}}, 2, want(kenema, st, true))
		}
		check(t, "auditor", url.Values{"community_id": {"KEN-2"}}, 2, want(scope{community: "KEN-2"}, "", false))

		for _, c := range []struct{ query, field string }{
			{"status=done", "status"}, {"overdue=maybe", "overdue"}, {"limit=0", "limit"}, {"limit=abc", "limit"},
			{"cursor=not-a-cursor", "cursor"}, {"colour=red", "colour"},
		} {
			e.on(t).problem(req{method: "GET", path: "/v1/action-points?" + c.query, token: "coord-national"}, http.StatusBadRequest, "invalid_input", c.field)
		}
		e.on(t).problem(req{method: "GET", path: "/v1/action-points?district=Kailahun", token: "coord"}, http.StatusForbidden, "forbidden", "")
	})
}

type apItemJSON struct {
	ID          string `json:"id"`
	CommunityID string `json:"community_id"`
	District    string `json:"district"`
	Chiefdom    string `json:"chiefdom"`
	Category    string `json:"category"`
	Kind        string `json:"kind"`
	Status      string `json:"status"`
	DueDate     string `json:"due_date"`
	Overdue     bool   `json:"overdue"`
}

// listAll pages through GET /v1/action-points with limit, following
// next_cursor until there is none.
func listAll(t *testing.T, e *env, token string, q url.Values, limit int) []apItemJSON {
	t.Helper()
	var out []apItemJSON
	cursor := ""
	for page := 0; ; page++ {
		if page > 2000 {
			t.Fatalf("%s: more than 2000 pages", q.Encode())
		}
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("limit", itoa(uint64(limit)))
		if cursor != "" {
			pq.Set("cursor", cursor)
		}
		var res struct {
			Items      []apItemJSON `json:"items"`
			NextCursor string       `json:"next_cursor"`
		}
		e.on(t).getStats(token, "/v1/action-points", pq, &res)
		if len(res.Items) > limit {
			t.Fatalf("%s: page of %d items, limit %d", pq.Encode(), len(res.Items), limit)
		}
		out = append(out, res.Items...)
		if res.NextCursor == "" {
			return out
		}
		if len(res.Items) == 0 {
			t.Fatalf("%s: an empty page with a next cursor", pq.Encode())
		}
		cursor = res.NextCursor
	}
}

func apByID(w *world, id string) *simAP {
	for _, ap := range w.aps {
		if ap.id == id {
			return ap
		}
	}
	return nil
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

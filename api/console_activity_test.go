package api_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"
)

// A mobilizer's week, over real HTTP: what they wrote counts as items this
// week, what the server refused (sync items and single requests) as items
// refused, on GET /v1/users and on the console's Mobilizers page alike, and
// a refused write adds nothing to the event log.
func TestMobilizerItemsThisWeekAndRefused(t *testing.T) {
	d := newDemoSite(t)
	st, _, u := d.api(t, http.MethodPost, "/v1/users", demoAdmin, map[string]any{"name": "Week Mobilizer", "role": "mobilizer", "district": "Kenema", "chiefdom": "Nongowa"}, nil)
	if st != http.StatusCreated {
		t.Fatalf("creating the mobilizer: %d %v", st, u)
	}
	id, token := u["id"].(string), u["token"].(string)
	d.settle(t)
	head := func() uint64 {
		h, err := d.m.Store().Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := head()

	community := map[string]any{"id": "C-WEEK-1", "name": "Week village", "district": "Kenema", "chiefdom": "Nongowa", "population": 300}
	st, _, res := d.api(t, http.MethodPost, "/v1/sync", token, map[string]any{"items": []any{
		map[string]any{"key": "week-1", "method": "POST", "path": "/v1/communities", "body": community},
		map[string]any{"key": "week-2", "method": "POST", "path": "/v1/communities/C-NO-SUCH/triggering", "body": map[string]any{"attendance": 10}},
		map[string]any{"key": "week-2b", "method": "POST", "path": "/v1/no-such-route", "body": map[string]any{}},
		map[string]any{"key": "week-3", "method": "POST", "path": "/v1/communities", "body": map[string]any{"id": "C-WEEK-2", "name": "", "district": "Kenema", "chiefdom": "Nongowa"}},
	}}, nil)
	if st != http.StatusOK {
		t.Fatalf("sync: %d %v", st, res)
	}
	want := []float64{201, 404, 404, 400}
	for i, r := range res["results"].([]any) {
		if got := r.(map[string]any)["status"].(float64); got != want[i] {
			t.Fatalf("item %d answered %v; want %v (%v)", i, got, want[i], r)
		}
	}
	// And one refused single request.
	if st, _, _ := d.api(t, http.MethodPost, "/v1/communities/C-WEEK-1/visits", token, map[string]any{"kind": "follow_up", "trust_rating": 3}, nil); st != http.StatusConflict {
		t.Fatalf("a visit before the triggering session: %d; want 409", st)
	}
	if got := head(); got != before+1 {
		t.Errorf("the log grew by %d events; want 1 (the accepted item): refusals are not events", got-before)
	}
	d.settle(t)

	t.Run("GET /v1/users", func(t *testing.T) {
		for _, who := range []struct{ name, token string }{{"admin", demoAdmin}, {"coordinator", d.tokens["coordinator"]}} {
			st, _, list := d.api(t, http.MethodGet, "/v1/users?role=mobilizer&limit=200", who.token, nil, nil)
			if st != http.StatusOK {
				t.Fatalf("%s lists users: %d", who.name, st)
			}
			var found map[string]any
			for _, it := range list["items"].([]any) {
				if it.(map[string]any)["id"] == id {
					found = it.(map[string]any)
				}
			}
			if found == nil {
				t.Fatalf("%s: the mobilizer is not listed: %v", who.name, list)
			}
			if found["items_this_week"] != float64(1) || found["items_refused"] != float64(4) {
				t.Errorf("%s: items_this_week %v, items_refused %v; want 1 and 4", who.name, found["items_this_week"], found["items_refused"])
			}
		}
	})

	t.Run("the Mobilizers page", func(t *testing.T) {
		p := d.signIn(t, d.tokens["coordinator"]).get("/users?role=mobilizer")
		row := regexp.MustCompile(regexp.QuoteMeta(id) + `</span></th>(?s:.*?)data-col="items-this-week">(\d+)</td>\s*<td class="num" data-col="items-refused">(?:<span class="alert">)?(\d+)`).FindStringSubmatch(p.body)
		if row == nil {
			t.Fatalf("no row with the figures for %s:\n%s", id, p.body)
		}
		if row[1] != "1" || row[2] != "4" {
			t.Errorf("items this week %s, refused %s; want 1 and 4", row[1], row[2])
		}
	})
}

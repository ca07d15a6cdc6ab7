package tests_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Field times are ordered within a record, over HTTP: an event dated before
// its record began (or a record of a community dated before the community
// was registered) is a 400 naming occurred_at with a sentence that says
// what it is before; the clock-skew allowance still lets a phone a few
// minutes off through.
func TestFieldTimesFollowTheRecord(t *testing.T) {
	e := start(t)
	e.staff()
	registered := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord",
		body: map[string]any{"id": "KEN-9", "name": "Village KEN-9", "district": "Kenema", "chiefdom": "Nongowa", "section": "Hangha",
			"population": 800, "occurred_at": rfc(registered)}})
	quarterCentury := registered.AddDate(-25, 0, 0)
	cases := []struct {
		name string
		r    req
		ok   bool
	}{
		{"triggering 25 years before the community was registered",
			req{method: "POST", path: "/v1/communities/KEN-9/triggering", token: "mob", body: map[string]any{"attendance": 90, "occurred_at": rfc(quarterCentury)}}, false},
		{"triggering four minutes before registration (a phone's clock)",
			req{method: "POST", path: "/v1/communities/KEN-9/triggering", token: "mob", body: map[string]any{"attendance": 90, "occurred_at": rfc(registered.Add(-4 * time.Minute))}}, true},
		{"visit 25 years before the community existed",
			req{method: "POST", path: "/v1/communities/KEN-9/visits", token: "mob", body: map[string]any{"kind": "follow_up", "trust_rating": 4, "occurred_at": rfc(quarterCentury)}}, false},
		{"action point raised a day before the community was registered",
			req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{"id": "AP-9", "community_id": "KEN-9", "title": "Buckets",
				"category": "hygiene", "kind": "continuous", "occurred_at": rfc(registered.AddDate(0, 0, -1))}}, false},
		{"action point raised a week after registration",
			req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{"id": "AP-9", "community_id": "KEN-9", "title": "Buckets",
				"category": "hygiene", "kind": "continuous", "occurred_at": rfc(registered.AddDate(0, 0, 7))}}, true},
		{"action point started 25 years before it was raised",
			req{method: "POST", path: "/v1/action-points/AP-9/start", token: "mob", body: map[string]any{"occurred_at": rfc(quarterCentury)}}, false},
		{"feedback received 25 years before the community existed",
			req{method: "POST", path: "/v1/feedback", token: "mob", body: map[string]any{"id": "F-9", "community_id": "KEN-9", "type": "question",
				"text": "When does the team come?", "occurred_at": rfc(quarterCentury)}}, false},
		{"action point started now",
			req{method: "POST", path: "/v1/action-points/AP-9/start", token: "mob", body: map[string]any{}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ok {
				res := e.do(tc.r)
				if res.status >= 300 {
					t.Fatalf("refused: %d %s", res.status, res.raw)
				}
				return
			}
			res := e.problem(tc.r, http.StatusBadRequest, "invalid_input", "occurred_at")
			if d := res.str("detail"); !strings.Contains(d, "before") {
				t.Errorf("detail %q does not say what the time is before", d)
			}
		})
	}
	// Nothing refused was written.
	view := e.must(http.StatusOK, req{method: "GET", path: "/v1/communities/KEN-9", token: "coord"})
	if view.num("visits") != 0 || view.str("status") != "triggered" {
		t.Errorf("community after the refusals: %s", view.raw)
	}
	if e.do(req{method: "GET", path: "/v1/feedback/F-9", token: "coord"}).status != http.StatusNotFound {
		t.Error("a refused feedback item was stored")
	}
}

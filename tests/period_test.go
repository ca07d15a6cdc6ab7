package tests_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// A period ending at `to` shows nothing dated from `to` on, in the stats and
// in the after-action report alike: a visit an hour after `to`, in the same
// ISO week, must not appear in the week's trust row beside a completion row
// that stops at the edge.
func TestPeriodEndsExactlyAtTo(t *testing.T) {
	e := start(t)
	e.staff()
	to := mondayOf(time.Now()).AddDate(0, 0, -12) // a Wednesday, 00:00 UTC, two weeks back
	week := isoWeek(to)
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord",
		body: map[string]any{"id": "KEN-P", "name": "Village KEN-P", "district": "Kenema", "chiefdom": "Nongowa", "population": 500,
			"occurred_at": rfc(to.AddDate(0, 0, -30))}})
	e.must(http.StatusOK, req{method: "POST", path: "/v1/communities/KEN-P/triggering", token: "mob",
		body: map[string]any{"attendance": 80, "occurred_at": rfc(to.AddDate(0, 0, -29))}})
	var last float64
	for _, v := range []struct {
		at     time.Time
		rating int
	}{{to.Add(-time.Hour), 5}, {to, 1}, {to.Add(time.Hour), 1}} {
		last = e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities/KEN-P/visits", token: "mob",
			body: map[string]any{"kind": "follow_up", "trust_rating": v.rating, "occurred_at": rfc(v.at)}}).num("position")
	}
	// An action point raised before to and started after it.
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{"id": "AP-P", "community_id": "KEN-P",
		"title": "Buckets", "category": "hygiene", "kind": "continuous", "occurred_at": rfc(to.Add(-2 * time.Hour))}})
	last = e.must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-P/start", token: "mob",
		body: map[string]any{"occurred_at": rfc(to.Add(2 * time.Hour))}}).num("position")

	q := url.Values{"district": {"Kenema"}, "to": {rfc(to)}, "min_position": {strconv.FormatFloat(last, 'f', 0, 64)}}
	var trust trustJSON
	e.getStats("coord", "/v1/stats/trust", q, &trust)
	if len(trust.Series) == 0 || trust.Series[len(trust.Series)-1].Week != week {
		t.Fatalf("trust series %+v, want it to end at %s", trust.Series, week)
	}
	if w := trust.Series[len(trust.Series)-1]; w.Visits != 1 || w.T1 == nil || *w.T1 != 1 {
		t.Errorf("trust %s up to %s: %d visits, t1 %s; want 1 visit, t1 1 (the visits at and after to left out)", week, rfc(to), w.Visits, fmtRate(w.T1))
	}
	var comp completionJSON
	q.Set("interval", "week")
	e.getStats("coord", "/v1/stats/completion", q, &comp)
	if comp.Total != 1 || comp.Open != 1 || comp.InProgress != 0 {
		t.Errorf("completion up to %s: %+v; want the action point open (it started after to)", rfc(to), comp.countsJSON)
	}

	page := e.must(http.StatusOK, req{method: "GET", path: "/v1/audit/export?format=html&district=Kenema&to=" + url.QueryEscape(rfc(to)), token: "auditor"}).raw
	// The trust table's rows have seven values: index, T1..T4, visits, falling.
	row := regexp.MustCompile(`<tr><td>` + week + `</td>((?:<td class="n">[^<]*</td>){7})</tr>`).FindSubmatch(page)
	if row == nil {
		t.Fatalf("the report has no trust row for %s:\n%s", week, page)
	}
	cells := regexp.MustCompile(`<td class="n">([^<]*)</td>`).FindAllSubmatch(row[1], -1)
	if string(cells[1][1]) != "100.0%" || string(cells[5][1]) != "1" {
		t.Errorf("the report's trust row for %s: T1 %s, %s visits; want 100.0%%, 1 (nothing from %s on)", week, cells[1][1], cells[5][1], rfc(to))
	}
}

package tests_test

import (
	"net/http"
	"testing"
	"time"
)

func TestActionPointLifecycle(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")

	created := e.actionPoint("AP-1", "KEN-1")
	if created.str("id") != "AP-1" || created.num("revision") != 1 || created.num("position") == 0 {
		t.Fatalf("create answer: %s", created.raw)
	}
	if created.header.Get("ETag") != `"1"` || created.header.Get("Location") != "/v1/action-points/AP-1" {
		t.Fatalf("create headers: ETag %q Location %q", created.header.Get("ETag"), created.header.Get("Location"))
	}

	steps := []struct {
		name, path, token string
		body              map[string]any
		wantStatus        string
	}{
		{"start", "start", "mob", map[string]any{"note": "Buckets ordered"}, "in_progress"},
		{"progress", "progress", "mob", map[string]any{"note": "Two of three stations built"}, "in_progress"},
		{"achieve", "achieve", "mob", map[string]any{"evidence": "Seen on visit"}, "achieved"},
		{"coordinator reopens", "reopen", "coord", map[string]any{"reason": "Station broken"}, "in_progress"},
		{"coordinator drops", "drop", "coord", map[string]any{"reason": "Market moved"}, "dropped"},
		{"mobilizer reopens", "reopen", "mob", map[string]any{"reason": "Market back"}, "in_progress"},
	}
	lastPos := created.num("position")
	for i, s := range steps {
		res := e.must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-1/" + s.path, token: s.token, body: s.body})
		if got, want := res.num("revision"), float64(i+2); got != want {
			t.Fatalf("%s: revision %v, want %v", s.name, got, want)
		}
		if res.num("position") <= lastPos {
			t.Fatalf("%s: position %v did not advance past %v", s.name, res.num("position"), lastPos)
		}
		lastPos = res.num("position")
		for _, reader := range []string{"mob", "coord", "coord-national", "auditor", "admin"} {
			if got := e.status("/v1/action-points/AP-1", reader); got != s.wantStatus {
				t.Fatalf("%s: %s reads status %q, want %q", s.name, reader, got, s.wantStatus)
			}
		}
	}
	view := e.must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-1", token: "mob"})
	if view.header.Get("ETag") != `"7"` || view.num("revision") != 7 || view.str("community_id") != "KEN-1" ||
		view.str("district") != "Kenema" || view.str("category") != "hygiene" || view.str("due_date") != "2015-03-01" {
		t.Fatalf("view: ETag %s %s", view.header.Get("ETag"), view.raw)
	}
}

func TestCommunityLifecycle(t *testing.T) {
	e := start(t)
	e.staff()
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord",
		body: map[string]any{"id": "KEN-2", "name": "Kpayama", "district": " kenema ", "chiefdom": "Nongowa", "section": "Kpayama", "population": 1200}})
	if got := e.status("/v1/communities/KEN-2", "mob"); got != "registered" {
		t.Fatalf("status %q, want registered", got)
	}
	// A visit before the triggering session is out of order.
	e.problem(req{method: "POST", path: "/v1/communities/KEN-2/visits", token: "mob",
		body: map[string]any{"kind": "initial", "trust_rating": 3}}, http.StatusConflict, "transition_not_allowed", "")
	e.must(http.StatusOK, req{method: "POST", path: "/v1/communities/KEN-2/triggering", token: "mob",
		body: map[string]any{"attendance": 150, "occurred_at": rfc(time.Now().Add(-48 * time.Hour))}})
	if got := e.status("/v1/communities/KEN-2", "mob"); got != "triggered" {
		t.Fatalf("status %q, want triggered", got)
	}
	e.problem(req{method: "POST", path: "/v1/communities/KEN-2/triggering", token: "mob",
		body: map[string]any{"attendance": 150}}, http.StatusConflict, "transition_not_allowed", "")
	visit := e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities/KEN-2/visits", token: "mob",
		body: map[string]any{"kind": "initial", "trust_rating": 4, "concerns": []map[string]string{{"need": "basic", "text": "Food for quarantined homes"}}}})
	if visit.str("id") != "KEN-2" || visit.num("revision") != 3 {
		t.Fatalf("visit answer: %s", visit.raw)
	}
	view := e.must(http.StatusOK, req{method: "GET", path: "/v1/communities/KEN-2", token: "auditor"})
	if view.str("status") != "under_follow_up" || view.num("visits") != 1 || view.num("last_trust_rating") != 4 || view.str("district") != "Kenema" { // stored in the places list's spelling
		t.Fatalf("view: %s", view.raw)
	}
}

func TestReferralLifecycle(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-3")
	onset := time.Now().Add(-30 * time.Hour)
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/referrals", token: "mob", body: map[string]any{
		"id": "R-1", "community_id": "KEN-3", "kind": "suspected_case", "channel": "hotline_117",
		"person_ref": "P-0042", "symptom_onset": rfc(onset), "occurred_at": rfc(time.Now().Add(-3 * time.Hour))}})
	e.problem(req{method: "POST", path: "/v1/referrals/R-1/acknowledge", token: "mob"}, http.StatusForbidden, "forbidden", "")
	e.problem(req{method: "POST", path: "/v1/referrals/R-1/complete", token: "mob",
		body: map[string]any{"arrived_at": rfc(time.Now()), "outcome": "admitted"}}, http.StatusConflict, "transition_not_allowed", "")
	e.must(http.StatusOK, req{method: "POST", path: "/v1/referrals/R-1/acknowledge", token: "coord"})
	e.problem(req{method: "POST", path: "/v1/referrals/R-1/complete", token: "mob",
		body: map[string]any{"arrived_at": rfc(time.Now()), "outcome": "teleported"}}, http.StatusBadRequest, "invalid_input", "outcome")
	e.must(http.StatusOK, req{method: "POST", path: "/v1/referrals/R-1/complete", token: "mob",
		body: map[string]any{"arrived_at": rfc(time.Now().Add(-time.Hour)), "outcome": "admitted"}})
	e.problem(req{method: "POST", path: "/v1/referrals/R-1/cancel", token: "coord",
		body: map[string]any{"reason": "too late"}}, http.StatusConflict, "transition_not_allowed", "")
	e.must(http.StatusOK, req{method: "POST", path: "/v1/referrals/R-1/close", token: "coord"})
	view := e.must(http.StatusOK, req{method: "GET", path: "/v1/referrals/R-1", token: "auditor"})
	if view.str("status") != "closed" || view.str("outcome") != "admitted" || view.str("person_ref") != "P-0042" || view.num("revision") != 4 {
		t.Fatalf("view: %s", view.raw)
	}

	// The other way out: cancelled before completion.
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/referrals", token: "mob", body: map[string]any{
		"id": "R-2", "community_id": "KEN-3", "kind": "death_alert"}})
	e.problem(req{method: "POST", path: "/v1/referrals/R-2/cancel", token: "coord", body: map[string]any{}},
		http.StatusBadRequest, "invalid_input", "reason")
	e.must(http.StatusOK, req{method: "POST", path: "/v1/referrals/R-2/cancel", token: "coord", body: map[string]any{"reason": "Duplicate of a hotline call"}})
	if got := e.status("/v1/referrals/R-2", "coord"); got != "cancelled" {
		t.Fatalf("status %q, want cancelled", got)
	}
}

func TestFeedbackLifecycle(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-4")
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/feedback", token: "mob", body: map[string]any{
		"id": "F-1", "community_id": "KEN-4", "type": "rumour", "text": "The chlorine spreads the disease", "need_category": "security",
		"occurred_at": rfc(time.Now().Add(-3 * time.Hour))}})
	e.problem(req{method: "POST", path: "/v1/feedback/F-1/answer", token: "coord", body: map[string]any{"response": "No"}},
		http.StatusConflict, "transition_not_allowed", "")
	e.problem(req{method: "POST", path: "/v1/feedback/F-1/refer", token: "mob", body: map[string]any{"to": "DHMT"}},
		http.StatusForbidden, "forbidden", "")
	e.must(http.StatusOK, req{method: "POST", path: "/v1/feedback/F-1/refer", token: "coord", body: map[string]any{"to": "District health team"}})
	e.must(http.StatusOK, req{method: "POST", path: "/v1/feedback/F-1/answer", token: "coord", body: map[string]any{"response": "Chlorine kills the virus; here is why."}})
	e.problem(req{method: "POST", path: "/v1/feedback/F-1/close-loop", token: "mob", body: map[string]any{}},
		http.StatusBadRequest, "invalid_input", "satisfied")
	communicated := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	e.must(http.StatusOK, req{method: "POST", path: "/v1/feedback/F-1/close-loop", token: "mob",
		body: map[string]any{"communicated_at": rfc(communicated), "satisfied": true}})
	view := e.must(http.StatusOK, req{method: "GET", path: "/v1/feedback/F-1", token: "coord"})
	if view.str("status") != "loop_closed" || view.body["satisfied"] != true || view.str("communicated_at") != rfc(communicated) {
		t.Fatalf("view: %s", view.raw)
	}
}

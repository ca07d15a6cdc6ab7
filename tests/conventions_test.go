package tests_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	cases := []struct {
		name   string
		header map[string]string
		status int
		code   string
	}{
		{"no header", nil, 401, "unauthenticated"},
		{"not bearer", map[string]string{"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, 401, "unauthenticated"},
		{"unknown token", map[string]string{"Authorization": "Bearer alt_not-a-real-token"}, 401, "unauthenticated"},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, 401, "unauthenticated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.on(t).problem(req{method: "GET", path: "/v1/communities/KEN-1", header: c.header}, c.status, c.code, "")
			if res.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/v1/openapi.json"} {
		t.Run("open "+path, func(t *testing.T) { e.on(t).must(http.StatusOK, req{method: "GET", path: path}) })
	}
}

func TestRolesAndAreas(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	e.actionPoint("AP-1", "KEN-1")
	e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/referrals", token: "mob", body: map[string]any{"id": "R-1", "community_id": "KEN-1", "kind": "other"}})
	e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/feedback", token: "mob", body: map[string]any{"id": "F-1", "community_id": "KEN-1", "type": "question", "text": "When does school reopen?"}})

	forbidden := []struct {
		name  string
		token string
		path  string
		body  map[string]any
	}{
		{"auditor registers community", "auditor", "/v1/communities", map[string]any{"id": "KEN-9", "name": "X", "district": "Kenema", "chiefdom": "Nongowa"}},
		{"auditor raises action point", "auditor", "/v1/action-points", map[string]any{"id": "AP-9", "community_id": "KEN-1", "title": "t", "category": "hygiene", "kind": "continuous"}},
		{"auditor starts action point", "auditor", "/v1/action-points/AP-1/start", nil},
		{"auditor drops action point", "auditor", "/v1/action-points/AP-1/drop", map[string]any{"reason": "r"}},
		{"auditor visits", "auditor", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 3}},
		{"auditor creates user", "auditor", "/v1/users", map[string]any{"name": "n", "role": "auditor"}},
		{"foreign mobilizer registers community", "mob-kailahun", "/v1/communities", map[string]any{"id": "KEN-9", "name": "X", "district": "Kenema", "chiefdom": "Nongowa"}},
		{"mobilizer creates user", "mob", "/v1/users", map[string]any{"name": "n", "role": "mobilizer", "district": "Kenema"}},
		{"coordinator raises action point", "coord", "/v1/action-points", map[string]any{"id": "AP-9", "community_id": "KEN-1", "title": "t", "category": "hygiene", "kind": "continuous"}},
		{"coordinator starts action point", "coord", "/v1/action-points/AP-1/start", nil},
		{"admin raises referral", "admin", "/v1/referrals", map[string]any{"id": "R-9", "community_id": "KEN-1", "kind": "other"}},
		{"foreign mobilizer starts action point", "mob-kailahun", "/v1/action-points/AP-1/start", nil},
		{"foreign mobilizer visits", "mob-kailahun", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 3}},
		{"foreign mobilizer raises action point", "mob-kailahun", "/v1/action-points", map[string]any{"id": "AP-9", "community_id": "KEN-1", "title": "t", "category": "hygiene", "kind": "continuous"}},
		{"foreign mobilizer raises feedback", "mob-kailahun", "/v1/feedback", map[string]any{"id": "F-9", "community_id": "KEN-1", "type": "question", "text": "?"}},
		{"foreign mobilizer closes loop", "mob-kailahun", "/v1/feedback/F-1/close-loop", map[string]any{"satisfied": true}},
	}
	for _, c := range forbidden {
		t.Run(c.name, func(t *testing.T) {
			e.on(t).problem(req{method: "POST", path: c.path, token: c.token, body: c.body}, http.StatusForbidden, "forbidden", "")
		})
	}
	t.Run("foreign coordinator registers in Kenema", func(t *testing.T) {
		e.user("coord-kailahun", "coordinator", "Kailahun", "")
		e.on(t).problem(req{method: "POST", path: "/v1/communities", token: "coord-kailahun",
			body: map[string]any{"id": "KEN-9", "name": "X", "district": "Kenema", "chiefdom": "Nongowa"}}, http.StatusForbidden, "forbidden", "")
	})
	t.Run("foreign mobilizer reads", func(t *testing.T) {
		for _, p := range []string{"/v1/action-points/AP-1", "/v1/communities/KEN-1", "/v1/referrals/R-1", "/v1/feedback/F-1"} {
			e.on(t).problem(req{method: "GET", path: p, token: "mob-kailahun"}, http.StatusForbidden, "forbidden", "")
		}
	})
	t.Run("chiefdom-bound mobilizer", func(t *testing.T) {
		e.user("mob-other-chiefdom", "mobilizer", "KENEMA", "Lower Bambara")
		e.on(t).problem(req{method: "POST", path: "/v1/action-points/AP-1/progress", token: "mob-other-chiefdom", body: map[string]any{"note": "n"}}, http.StatusForbidden, "forbidden", "")
		e.user("mob-same-chiefdom", "mobilizer", "kenema", " nongowa ")
		e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-1/progress", token: "mob-same-chiefdom", body: map[string]any{"note": "n"}})
	})
	t.Run("mobilizer registers in their own area", func(t *testing.T) {
		e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "mob",
			body: map[string]any{"id": "KEN-10", "name": "X", "district": "Kenema", "chiefdom": "Nongowa"}})
	})
	t.Run("national coordinator acts anywhere", func(t *testing.T) {
		e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/referrals/R-1/acknowledge", token: "coord-national"})
	})
}

func TestNotFound(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	for _, c := range []struct {
		method, path, token string
		body                any
	}{
		{"GET", "/v1/action-points/NOPE", "coord", nil},
		{"GET", "/v1/communities/NOPE", "coord", nil},
		{"GET", "/v1/referrals/NOPE", "coord", nil},
		{"GET", "/v1/feedback/NOPE", "coord", nil},
		{"POST", "/v1/action-points/NOPE/start", "mob", map[string]any{}},
		{"POST", "/v1/referrals/NOPE/close", "coord", nil},
		{"POST", "/v1/communities/NOPE/triggering", "mob", map[string]any{"attendance": 1}},
		{"GET", "/v1/action-points/bad%20id", "coord", nil},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			e.on(t).problem(req{method: c.method, path: c.path, token: c.token, body: c.body}, http.StatusNotFound, "not_found", "")
		})
	}
	t.Run("unknown community in body", func(t *testing.T) {
		e.on(t).problem(req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{
			"id": "AP-1", "community_id": "NOPE", "title": "t", "category": "hygiene", "kind": "continuous"}}, http.StatusNotFound, "not_found", "community_id")
	})
	t.Run("unknown route", func(t *testing.T) {
		e.on(t).problem(req{method: "GET", path: "/v1/nothing-here", token: "coord"}, http.StatusNotFound, "route_not_found", "")
	})
	t.Run("wrong method", func(t *testing.T) {
		e.on(t).problem(req{method: "DELETE", path: "/v1/action-points/AP-1", token: "coord"}, http.StatusMethodNotAllowed, "method_not_allowed", "")
	})
}

func TestBadInput(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	e.actionPoint("AP-1", "KEN-1")
	raise := func(overrides map[string]any) map[string]any {
		b := map[string]any{"id": "AP-2", "community_id": "KEN-1", "title": "t", "category": "hygiene", "kind": "one_off", "due_date": "2015-03-01"}
		for k, v := range overrides {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	cases := []struct {
		name   string
		token  string
		path   string
		body   any
		status int
		code   string
		field  string
	}{
		{"unknown field", "mob", "/v1/action-points", raise(map[string]any{"colour": "red"}), 400, "invalid_input", "colour"},
		{"missing title", "mob", "/v1/action-points", raise(map[string]any{"title": nil}), 400, "invalid_input", "title"},
		{"blank title", "mob", "/v1/action-points", raise(map[string]any{"title": "   "}), 400, "invalid_input", "title"},
		{"bad category", "mob", "/v1/action-points", raise(map[string]any{"category": "magic"}), 400, "invalid_input", "category"},
		{"bad kind", "mob", "/v1/action-points", raise(map[string]any{"kind": "sometimes"}), 400, "invalid_input", "kind"},
		{"one-off without due date", "mob", "/v1/action-points", raise(map[string]any{"due_date": nil}), 400, "invalid_input", "due_date"},
		{"bad due date", "mob", "/v1/action-points", raise(map[string]any{"due_date": "01/03/2015"}), 400, "invalid_input", "due_date"},
		{"title of wrong type", "mob", "/v1/action-points", raise(map[string]any{"title": 42}), 400, "invalid_input", "title"},
		{"id with spaces", "mob", "/v1/action-points", raise(map[string]any{"id": "a b"}), 400, "invalid_input", "id"},
		{"occurred_at not a time", "mob", "/v1/action-points", raise(map[string]any{"occurred_at": "yesterday"}), 400, "invalid_input", "occurred_at"},
		{"occurred_at in the future", "mob", "/v1/action-points", raise(map[string]any{"occurred_at": rfc(time.Now().Add(time.Hour))}), 400, "invalid_input", "occurred_at"},
		{"not JSON", "mob", "/v1/action-points", "{title: 'x'", 400, "invalid_input", "body"},
		{"JSON array", "mob", "/v1/action-points", "[1,2]", 400, "invalid_input", "body"},
		{"two objects", "mob", "/v1/action-points", `{"id":"AP-3"} {"id":"AP-4"}`, 400, "invalid_input", "body"},
		{"trust rating too high", "mob", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 6}, 400, "invalid_input", "trust_rating"},
		{"trust rating missing", "mob", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up"}, 400, "invalid_input", "trust_rating"},
		{"trust rating fractional", "mob", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 3.5}, 400, "invalid_input", "trust_rating"},
		{"bad concern need", "mob", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 3, "concerns": []map[string]string{{"need": "money"}}}, 400, "invalid_input", "concerns[0].need"},
		{"unknown concern field", "mob", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 3, "concerns": []map[string]string{{"need": "basic", "who": "x"}}}, 400, "invalid_input", "concerns[0].who"},
		{"field name in another case", "mob", "/v1/action-points", `{"id":"AP-2","community_id":"KEN-1","TITLE":"t","category":"hygiene","kind":"continuous"}`, 400, "invalid_input", "TITLE"},
		{"field given twice", "mob", "/v1/action-points", `{"id":"AP-2","id":"AP-3","community_id":"KEN-1","title":"t","category":"hygiene","kind":"continuous"}`, 400, "invalid_input", "id"},
		{"name as person_ref", "mob", "/v1/referrals", map[string]any{"id": "R-1", "community_id": "KEN-1", "kind": "other", "person_ref": "Fatmata Kamara"}, 400, "invalid_input", "person_ref"},
		{"suspected case without onset", "mob", "/v1/referrals", map[string]any{"id": "R-1", "community_id": "KEN-1", "kind": "suspected_case"}, 400, "invalid_input", "symptom_onset"},
		{"bad role", "admin", "/v1/users", map[string]any{"name": "n", "role": "king"}, 400, "invalid_input", "role"},
		{"mobilizer without district", "admin", "/v1/users", map[string]any{"name": "n", "role": "mobilizer"}, 400, "invalid_input", "district"},
		{"bad If-Match", "mob", "/v1/action-points/AP-1/start", map[string]any{}, 400, "invalid_input", "If-Match"},
		{"too large", "mob", "/v1/action-points", `{"title":"` + strings.Repeat("x", 300<<10) + `"}`, 413, "body_too_large", ""},
		{"xml", "mob", "/v1/action-points", "<ap/>", 415, "unsupported_media_type", ""},
		{"control character", "mob", "/v1/action-points", raise(map[string]any{"title": "bell\u0007"}), 400, "invalid_input", "title"},
		{"over-long text", "mob", "/v1/action-points/AP-1/drop", map[string]any{"reason": strings.Repeat("é", 5000)}, 400, "invalid_input", "reason"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := req{method: "POST", path: c.path, token: c.token, body: c.body}
			if c.field == "If-Match" {
				r.ifMatch = "banana"
			}
			if c.name == "xml" {
				r.header = map[string]string{"Content-Type": "application/xml"}
			}
			e.on(t).problem(r, c.status, c.code, c.field)
		})
	}
	// Nothing refused above was written.
	if got := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-1", token: "mob"}).num("revision"); got != 1 {
		t.Fatalf("AP-1 revision %v after refused requests, want 1", got)
	}
	e.on(t).problem(req{method: "GET", path: "/v1/action-points/AP-2", token: "mob"}, 404, "not_found", "")
}

func TestIfMatch(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	e.actionPoint("AP-1", "KEN-1")
	etag := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-1", token: "mob"}).header.Get("ETag")
	if etag != `"1"` {
		t.Fatalf("ETag %q", etag)
	}
	res := e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-1/start", token: "mob", ifMatch: etag})
	if res.header.Get("ETag") != `"2"` {
		t.Fatalf("ETag after start %q", res.header.Get("ETag"))
	}
	// A second phone that still holds revision 1.
	e.on(t).problem(req{method: "POST", path: "/v1/action-points/AP-1/progress", token: "mob", ifMatch: etag, body: map[string]any{"note": "n"}},
		http.StatusPreconditionFailed, "stale_revision", "")
	e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-1/progress", token: "mob", ifMatch: `"2"`, body: map[string]any{"note": "n"}})
	// A transition the lifecycle forbids is 409 even with a current revision.
	e.on(t).problem(req{method: "POST", path: "/v1/action-points/AP-1/start", token: "mob", ifMatch: `"3"`}, http.StatusConflict, "transition_not_allowed", "")
}

func TestIdempotencyKey(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	body := map[string]any{"id": "AP-1", "community_id": "KEN-1", "title": "Buckets", "category": "hygiene", "kind": "continuous"}
	first := e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", key: "k-1", body: body})
	again := e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", key: "k-1", body: body})
	if string(first.raw) != string(again.raw) || again.header.Get("ETag") != first.header.Get("ETag") {
		t.Fatalf("replay differs: %s vs %s", first.raw, again.raw)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay not marked")
	}
	e.on(t).problem(req{method: "POST", path: "/v1/action-points", token: "mob", key: "k-1", body: map[string]any{
		"id": "AP-1", "community_id": "KEN-1", "title": "Soap", "category": "hygiene", "kind": "continuous"}},
		http.StatusUnprocessableEntity, "idempotency_key_reused", "")

	// A transition replayed after the aggregate moved on answers the first
	// result, not a 409.
	start1 := e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-1/start", token: "mob", key: "k-2"})
	e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-1/progress", token: "mob", key: "k-3", body: map[string]any{"note": "n"}})
	start2 := e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-1/start", token: "mob", key: "k-2"})
	if string(start1.raw) != string(start2.raw) {
		t.Fatalf("start replay %s, first %s", start2.raw, start1.raw)
	}
	// The same key on another resource is refused, not applied.
	e.actionPoint("AP-2", "KEN-1")
	e.on(t).problem(req{method: "POST", path: "/v1/action-points/AP-2/start", token: "mob", key: "k-2"}, http.StatusUnprocessableEntity, "idempotency_key_reused", "")
	if got := e.status("/v1/action-points/AP-2", "mob"); got != "open" {
		t.Fatalf("AP-2 is %s after a refused key reuse", got)
	}
	// Keys belong to their sender: another user's identical key is a new request.
	e.user("mob2", "mobilizer", "Kenema", "")
	e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-2/start", token: "mob2", key: "k-2"})
	// Server-chosen ids are stable under replay.
	noID := map[string]any{"community_id": "KEN-1", "title": "Radio message", "category": "stigma", "kind": "continuous"}
	a := e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", key: "k-4", body: noID})
	b := e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", key: "k-4", body: noID})
	if a.str("id") == "" || a.str("id") != b.str("id") {
		t.Fatalf("server-chosen ids %q and %q", a.str("id"), b.str("id"))
	}
	// Nothing was written twice: AP-1 has raised, started, progress.
	if got := e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-1", token: "mob"}).num("revision"); got != 3 {
		t.Fatalf("AP-1 revision %v, want 3", got)
	}
	// A user created twice with one key is one user with one token.
	u1 := e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/users", token: "admin", key: "u-1", body: map[string]any{"name": "Aminata", "role": "auditor"}})
	u2 := e.on(t).must(http.StatusCreated, req{method: "POST", path: "/v1/users", token: "admin", key: "u-1", body: map[string]any{"name": "Aminata", "role": "auditor"}})
	if u1.str("token") == "" || u1.str("token") != u2.str("token") || u1.str("id") != u2.str("id") {
		t.Fatalf("user replay: %s vs %s", u1.raw, u2.raw)
	}
	e.tokens["aminata"] = u1.str("token")
	e.on(t).must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-1", token: "aminata"})
}

func TestConcurrentTransitions(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-1")
	e.actionPoint("AP-1", "KEN-1")
	const n = 16
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(req{method: "POST", path: "/v1/action-points/AP-1/start", token: "mob"}).status
		}()
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 409:
			conflict++
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Fatalf("%d successes and %d conflicts, want 1 and %d", ok, conflict, n-1)
	}
	// Progress notes without If-Match all land: the loser re-decides.
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(req{method: "POST", path: "/v1/action-points/AP-1/progress", token: "mob", body: map[string]any{"note": "n"}}).status
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		if s != 200 {
			t.Fatalf("progress status %d", s)
		}
	}
	if got := e.on(t).must(200, req{method: "GET", path: "/v1/action-points/AP-1", token: "mob"}).num("revision"); got != 2+n {
		t.Fatalf("revision %v, want %d", got, 2+n)
	}
}

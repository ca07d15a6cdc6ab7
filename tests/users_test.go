package tests_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore/kurrenttest"
)

// Users who can be switched off (PRODUCT.md, "POST /v1/users/{id}/deactivate").

// wantDeactivated asserts the 401 a deactivated user's token answers: the
// stable code, the reason in the detail, and wipe.
func wantDeactivated(t *testing.T, res response, reason string, wipe bool) {
	t.Helper()
	if res.status != http.StatusUnauthorized || res.str("code") != "user_deactivated" {
		t.Fatalf("status %d code %q, want 401 user_deactivated: %s", res.status, res.str("code"), res.raw)
	}
	if !strings.Contains(res.str("detail"), reason) || res.str("reason") != reason {
		t.Errorf("the problem does not name the reason %q: %s", reason, res.raw)
	}
	if w, ok := res.body["wipe"].(bool); !ok || w != wipe {
		t.Errorf("wipe = %v, want %v: %s", res.body["wipe"], wipe, res.raw)
	}
}

func TestDeactivateUser(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-U1")
	mobID := e.user("mob-2", "mobilizer", "Kenema", "Nongowa")
	kaiID := e.user("mob-kai-2", "mobilizer", "Kailahun", "")
	coordID := e.user("coord-2", "coordinator", "Kenema", "")
	// The mobilizer works: their write will be their last_seen.
	last := e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob-2",
		body: map[string]any{"id": "AP-U1", "community_id": "KEN-U1", "title": "Buckets", "category": "hygiene", "kind": "one_off", "due_date": "2015-03-01"}})

	t.Run("who_may", func(t *testing.T) {
		e := e.on(t)
		e.problem(req{method: "POST", path: "/v1/users/" + mobID + "/deactivate", token: "mob", body: map[string]any{"reason": "x"}}, http.StatusForbidden, "forbidden", "")
		e.problem(req{method: "POST", path: "/v1/users/" + mobID + "/deactivate", token: "auditor", body: map[string]any{"reason": "x"}}, http.StatusForbidden, "forbidden", "")
		e.problem(req{method: "POST", path: "/v1/users/" + kaiID + "/deactivate", token: "coord", body: map[string]any{"reason": "x"}}, http.StatusForbidden, "forbidden", "")
		e.problem(req{method: "POST", path: "/v1/users/" + coordID + "/deactivate", token: "coord", body: map[string]any{"reason": "x"}}, http.StatusForbidden, "forbidden", "")
		e.problem(req{method: "POST", path: "/v1/users/" + kaiID + "/token", token: "coord", body: map[string]any{}}, http.StatusForbidden, "forbidden", "")
		e.problem(req{method: "POST", path: "/v1/users/nobody/deactivate", token: "admin", body: map[string]any{"reason": "x"}}, http.StatusNotFound, "not_found", "")
		e.problem(req{method: "POST", path: "/v1/users/admin/deactivate", token: "admin", body: map[string]any{"reason": "x"}}, http.StatusConflict, "transition_not_allowed", "")
		e.problem(req{method: "POST", path: "/v1/users/" + mobID + "/deactivate", token: "coord", body: map[string]any{}}, http.StatusBadRequest, "invalid_input", "reason")
		e.problem(req{method: "POST", path: "/v1/users/" + mobID + "/deactivate", token: "coord", body: map[string]any{"reason": "x", "wipe": "yes"}}, http.StatusBadRequest, "invalid_input", "wipe")
		// None of that switched anyone off.
		e.must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-U1", token: "mob-2"})
		e.must(http.StatusOK, req{method: "GET", path: "/v1/users", token: "coord-2"})
	})

	const reason = "Phone stolen at Kenema market"
	var deactivatedAt time.Time
	t.Run("deactivate_then_the_token_is_refused_at_once", func(t *testing.T) {
		e := e.on(t)
		res := e.must(http.StatusOK, req{method: "POST", path: "/v1/users/" + mobID + "/deactivate", token: "coord", key: "deact-1",
			body: map[string]any{"reason": reason, "wipe": true}})
		deactivatedAt = time.Now()
		if res.str("id") != mobID {
			t.Errorf("answer %s", res.raw)
		}
		for _, r := range []req{
			{method: "GET", path: "/v1/action-points/AP-U1", token: "mob-2"},
			{method: "POST", path: "/v1/action-points/AP-U1/start", token: "mob-2", body: map[string]any{}},
			{method: "GET", path: "/v1/stats/completion", token: "mob-2"},
			{method: "POST", path: "/v1/sync", token: "mob-2", body: map[string]any{"items": []syncItem{{Key: "q1", Method: "POST", Path: "/v1/action-points/AP-U1/start", Body: map[string]any{}}}}},
		} {
			wantDeactivated(t, e.do(r), reason, true)
		}
		if got := e.status("/v1/action-points/AP-U1", "mob"); got != "open" {
			t.Errorf("the refused writes changed the action point: %s", got)
		}
		// The same request again is the same answer, and no second event.
		again := e.must(http.StatusOK, req{method: "POST", path: "/v1/users/" + mobID + "/deactivate", token: "coord", key: "deact-1",
			body: map[string]any{"reason": reason, "wipe": true}})
		if again.header.Get("Idempotent-Replayed") != "true" || again.num("position") != res.num("position") {
			t.Errorf("repeat: %s %s", again.header, again.raw)
		}
		p := e.problem(req{method: "POST", path: "/v1/users/" + mobID + "/deactivate", token: "admin", body: map[string]any{"reason": "again"}}, http.StatusConflict, "transition_not_allowed", "")
		if !strings.Contains(p.str("detail"), "already deactivated") {
			t.Errorf("second deactivation: %s", p.raw)
		}
		e.problem(req{method: "POST", path: "/v1/users/" + mobID + "/token", token: "admin", body: map[string]any{}}, http.StatusConflict, "transition_not_allowed", "")
	})

	t.Run("a_sync_item_run_for_a_deactivated_user_is_refused", func(t *testing.T) {
		// A batch is authenticated once; its items run in process as its
		// actor. One that runs after the deactivation must be refused.
		actor := app.Actor{ID: mobID, Role: domain.RoleMobilizer, Area: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}}
		status, body, _ := e.main.API().Execute(context.Background(), actor, "POST", "/v1/action-points/AP-U1/start", "late-1", "", []byte(`{}`))
		var p map[string]any
		_ = json.Unmarshal(body, &p)
		if status != http.StatusUnauthorized || p["code"] != "user_deactivated" || p["reason"] != reason {
			t.Errorf("item as a deactivated user: %d %s", status, body)
		}
	})

	t.Run("the_list_shows_it_without_tokens", func(t *testing.T) {
		e := e.on(t)
		res := e.must(http.StatusOK, req{method: "GET", path: "/v1/users?role=mobilizer", token: "coord"})
		var list struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(res.raw, &list); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range list.Items {
			ids = append(ids, it["id"].(string))
			if it["district"] != "Kenema" || it["role"] != "mobilizer" {
				t.Errorf("coordinator of Kenema sees %v", it)
			}
			if it["id"] == mobID {
				if it["active"] != false || it["deactivation_reason"] != reason || it["wipe"] != true || it["deactivated_by"] == "" {
					t.Errorf("deactivated user listed as %v", it)
				}
				at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(it["deactivated_at"]))
				if err != nil || at.After(deactivatedAt.Add(time.Second)) || at.Before(deactivatedAt.Add(-time.Minute)) {
					t.Errorf("deactivated_at %v (answer came at %v)", it["deactivated_at"], deactivatedAt)
				}
			}
		}
		if !slices.Contains(ids, mobID) || slices.Contains(ids, kaiID) || slices.Contains(ids, coordID) {
			t.Errorf("coordinator of Kenema lists %v", ids)
		}
		wantInactive := e.must(http.StatusOK, req{method: "GET", path: "/v1/users?active=false", token: "admin"})
		if !strings.Contains(string(wantInactive.raw), mobID) || strings.Contains(string(wantInactive.raw), kaiID) {
			t.Errorf("active=false: %s", wantInactive.raw)
		}
		all := e.must(http.StatusOK, req{method: "GET", path: "/v1/users", token: "admin"})
		for name, tok := range e.tokens {
			h := sha256.Sum256([]byte(tok))
			for _, leak := range []string{tok, hex.EncodeToString(h[:]), base64.StdEncoding.EncodeToString(h[:]), base64.RawURLEncoding.EncodeToString(h[:])} {
				if strings.Contains(string(all.raw), leak) {
					t.Errorf("GET /v1/users shows %s's token or its hash", name)
				}
			}
		}
		if strings.Contains(string(all.raw), "token") || strings.Contains(string(all.raw), "hash") {
			t.Errorf("GET /v1/users has a token or hash field: %s", all.raw)
		}
		e.problem(req{method: "GET", path: "/v1/users", token: "mob"}, http.StatusForbidden, "forbidden", "")
		e.problem(req{method: "GET", path: "/v1/users", token: "auditor"}, http.StatusForbidden, "forbidden", "")
		e.problem(req{method: "GET", path: "/v1/users?role=chief", token: "admin"}, http.StatusBadRequest, "invalid_input", "role")
	})

	t.Run("last_seen_is_the_last_write", func(t *testing.T) {
		e := e.on(t)
		pos := uint64(last.num("position"))
		// last_seen comes from a read model: wait until it has the write.
		e.must(http.StatusOK, req{method: "GET", path: fmt.Sprintf("/v1/stats/completion?min_position=%d", pos), token: "coord-national"})
		deadline := time.Now().Add(5 * time.Second)
		for {
			items := listUsers(t, e, "admin", "")
			seen, ok := items[mobID]["last_seen"].(string)
			if ok {
				at, err := time.Parse(time.RFC3339Nano, seen)
				if err != nil || time.Since(at) > time.Minute {
					t.Errorf("last_seen %q", seen)
				}
				if _, ok := items[kaiID]["last_seen"]; ok {
					t.Errorf("a user who never wrote has a last_seen: %v", items[kaiID])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no last_seen for a user who wrote: %v", items[mobID])
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("the_audit_trail_shows_who_and_when", func(t *testing.T) {
		evs := auditEvents(t, e.on(t), "auditor", "/v1/streams/users/events", nil, 100)
		var found bool
		for _, ev := range evs {
			if ev.Type != "UserDeactivated.v1" {
				continue
			}
			found = true
			var data map[string]any
			_ = json.Unmarshal(ev.Data, &data)
			if data["id"] != mobID || data["reason"] != reason || data["wipe"] != true {
				t.Errorf("event data %s", ev.Data)
			}
			if ev.ActorID != e.coordID(t) || ev.ActorRole != "coordinator" || ev.RecordedAt.IsZero() {
				t.Errorf("who and when: %s %s at %v", ev.ActorID, ev.ActorRole, ev.RecordedAt)
			}
		}
		if !found {
			t.Fatal("no UserDeactivated event in the users stream")
		}
	})
}

// coordID finds the id of the "coord" user through the users list.
func (e *env) coordID(t *testing.T) string {
	t.Helper()
	res := e.must(http.StatusOK, req{method: "GET", path: "/v1/users?role=coordinator", token: "admin"})
	var list struct {
		Items []map[string]any `json:"items"`
	}
	_ = json.Unmarshal(res.raw, &list)
	for _, it := range list.Items {
		if it["name"] == "coord" {
			return it["id"].(string)
		}
	}
	t.Fatalf("no coord in %s", res.raw)
	return ""
}

// listUsers pages through GET /v1/users?query and returns the items by id.
func listUsers(t *testing.T, e *env, token, query string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	cursor := ""
	for pages := 0; pages < 1000; pages++ {
		path := "/v1/users?limit=2" + query
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		res := e.must(http.StatusOK, req{method: "GET", path: path, token: token})
		var list struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(res.raw, &list); err != nil {
			t.Fatal(err)
		}
		for _, it := range list.Items {
			id := it["id"].(string)
			if _, dup := out[id]; dup {
				t.Fatalf("user %s on two pages", id)
			}
			out[id] = it
		}
		if list.NextCursor == "" {
			return out
		}
		cursor = list.NextCursor
	}
	t.Fatal("paging does not end")
	return nil
}

func TestIssueToken(t *testing.T) {
	e := start(t)
	e.staff()
	mobID := e.user("mob-2", "mobilizer", "Kenema", "")
	old := e.tokens["mob-2"]
	res := e.must(http.StatusOK, req{method: "POST", path: "/v1/users/" + mobID + "/token", token: "coord", key: "rot-1", body: map[string]any{}})
	tok := res.str("token")
	if res.str("id") != mobID || !strings.HasPrefix(tok, "alt_") || tok == old {
		t.Fatalf("answer %s", res.raw)
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	e.problem(req{method: "GET", path: "/v1/action-points/none", token: "raw:" + old}, http.StatusUnauthorized, "unauthenticated", "")
	e.must(http.StatusNotFound, req{method: "GET", path: "/v1/action-points/none", token: "raw:" + tok})
	again := e.must(http.StatusOK, req{method: "POST", path: "/v1/users/" + mobID + "/token", token: "coord", key: "rot-1", body: map[string]any{}})
	if again.str("token") != tok || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat with the same key: %s", again.raw)
	}
	e.problem(req{method: "POST", path: "/v1/users/" + mobID + "/token", token: "coord", key: "rot-1", body: map[string]any{"occurred_at": "2015-01-01T00:00:00Z"}},
		http.StatusUnprocessableEntity, "idempotency_key_reused", "")

	evs := auditEvents(t, e, "auditor", "/v1/streams/users/events", nil, 100)
	i := slices.IndexFunc(evs, func(ev auditEvent) bool { return ev.Type == "UserTokenIssued.v1" })
	if i < 0 {
		t.Fatal("no UserTokenIssued event")
	}
	if ev := evs[i]; ev.IdempotencyKey != "" || !slices.Contains(ev.Redacted, "idempotency_key") || strings.Contains(string(ev.Data), "hash") {
		t.Errorf("the token event shows what derives the token: %+v %s", ev, ev.Data)
	}
}

// A sync batch in flight when its user is switched off, or given a new
// token: the items before the change land, every one after it is refused.
func TestSyncBatchStraddlingAChange(t *testing.T) {
	for _, tc := range []struct {
		name     string
		path     string
		body     map[string]any
		code     string
		inDetail string
	}{
		{"deactivation", "deactivate", map[string]any{"reason": "left mid-sync"}, "user_deactivated", "left mid-sync"},
		{"new_token", "token", map[string]any{}, "unauthenticated", "replaced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t)
			e.staff()
			e.community("KEN-S1")
			mobID := e.user("mob-2", "mobilizer", "Kenema", "")
			e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob-2",
				body: map[string]any{"id": "AP-S1", "community_id": "KEN-S1", "title": "Buckets", "category": "hygiene", "kind": "continuous"}})
			results := straddle(t, e, "mob-2", func() {
				e.must(http.StatusOK, req{method: "POST", path: "/v1/users/" + mobID + "/" + tc.path, token: "admin", body: tc.body})
			})
			first := slices.IndexFunc(results, func(r syncResult) bool { return r.Status != http.StatusOK })
			if first < 0 {
				t.Fatal("no item was refused, though the change came while the batch ran")
			}
			if first < 3 {
				t.Fatalf("first refused item %d: the batch was under way (3 writes) before the change", first)
			}
			for i, r := range results[first:] {
				var p map[string]any
				_ = json.Unmarshal(r.Body, &p)
				if r.Status != http.StatusUnauthorized || p["code"] != tc.code || !strings.Contains(fmt.Sprint(p["detail"]), tc.inDetail) {
					t.Fatalf("item %d after the first refused one: %d %s", first+i, r.Status, r.Body)
				}
			}
			t.Logf("%d items landed before the change, %d refused", first, len(results)-first)
		})
	}
}

// straddle sends a batch of 500 progress notes on AP-S1 as token, runs
// change once the batch has written 3 events, and returns the results.
func straddle(t *testing.T, e *env, token string, change func()) []syncResult {
	t.Helper()
	const n = 500
	items := make([]syncItem, n)
	for i := range items {
		items[i] = syncItem{Key: fmt.Sprintf("n-%d", i), Method: "POST", Path: "/v1/action-points/AP-S1/progress", Body: map[string]any{"note": "note"}}
	}
	before := e.head()
	var wg sync.WaitGroup
	var results []syncResult
	var batchErr string
	wg.Add(1)
	go func() {
		defer wg.Done()
		raw, _ := json.Marshal(map[string]any{"items": items})
		r, _ := http.NewRequest(http.MethodPost, e.base+"/v1/sync", strings.NewReader(string(raw)))
		r.Header.Set("Authorization", "Bearer "+e.tokens[token])
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			batchErr = err.Error()
			return
		}
		defer resp.Body.Close()
		var out struct {
			Results []syncResult `json:"results"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
			batchErr = fmt.Sprintf("status %d: %v", resp.StatusCode, err)
		}
		results = out.Results
	}()
	deadline := time.Now().Add(10 * time.Second)
	for e.head() < before+3 {
		if time.Now().After(deadline) {
			t.Fatal("the batch wrote nothing")
		}
		time.Sleep(time.Millisecond)
	}
	change()
	wg.Wait()
	if batchErr != "" {
		t.Fatal(batchErr)
	}
	if len(results) != n {
		t.Fatalf("%d results for %d items", len(results), n)
	}
	return results
}

// A deactivation or a new token made through one replica ends the old
// token on another within a second (PRODUCT.md).
func TestDeactivationReachesEveryReplica(t *testing.T) {
	srv := kurrenttest.Start(t, kurrenttest.Options{})
	a := startReplica(t, srv.URL())
	b := startReplica(t, srv.URL())
	a.staff()
	b = b.sharing(a)
	mobID := a.user("mob-2", "mobilizer", "Kenema", "")
	rotID := a.user("mob-3", "mobilizer", "Kenema", "")
	// B knows both tokens: refusing them needs more than a refresh on an
	// unknown token.
	for _, name := range []string{"mob-2", "mob-3"} {
		b.must(http.StatusNotFound, req{method: "GET", path: "/v1/action-points/none", token: name})
	}

	// within waits for B to answer r with want, for at most a second after
	// the change was answered on A.
	within := func(t *testing.T, r req, want int, changed time.Time) response {
		t.Helper()
		for {
			res := b.on(t).do(r)
			if res.status == want {
				return res
			}
			if time.Since(changed) > time.Second {
				t.Fatalf("replica B still answers %d, want %d, %v after the change on A: %s", res.status, want, time.Since(changed), res.raw)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Run("deactivation", func(t *testing.T) {
		a.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/users/" + mobID + "/deactivate", token: "coord", body: map[string]any{"reason": "lost phone"}})
		changed := time.Now()
		res := within(t, req{method: "GET", path: "/v1/action-points/none", token: "mob-2"}, http.StatusUnauthorized, changed)
		wantDeactivated(t, res, "lost phone", false)
	})
	t.Run("new_token", func(t *testing.T) {
		res := a.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/users/" + rotID + "/token", token: "admin", body: map[string]any{}})
		changed := time.Now()
		within(t, req{method: "GET", path: "/v1/action-points/none", token: "mob-3"}, http.StatusUnauthorized, changed)
		b.on(t).must(http.StatusNotFound, req{method: "GET", path: "/v1/action-points/none", token: "raw:" + res.str("token")})
	})
}

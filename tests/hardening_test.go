package tests_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The faults a hostile review found (issue 12), each as the user meets it.

// TestMetricsCarryNoAreaData: the open /metrics has operational metrics only;
// the per-district indicators are served to those who may read every
// district, at GET /v1/stats/metrics.
func TestMetricsCarryNoAreaData(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-M1")
	e.actionPoint("KEN-M1-AP1", "KEN-M1")
	e.must(http.StatusOK, req{method: "GET", path: "/v1/stats/completion?min_position=" + itoa(e.head()), token: "coord"})

	open := e.must(http.StatusOK, req{method: "GET", path: "/metrics"})
	for _, leak := range []string{"actionledger_completion_rate", "actionledger_action_points", "actionledger_trust_index",
		`district="Kenema"`, "Kenema"} {
		if strings.Contains(string(open.raw), leak) {
			t.Errorf("/metrics without a token carries %q", leak)
		}
	}
	if !strings.Contains(string(open.raw), "actionledger_http_request_duration_seconds") {
		t.Errorf("/metrics lost its operational metrics")
	}

	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"district coordinator", "coord", http.StatusForbidden},
		{"mobilizer", "mob", http.StatusForbidden},
		{"admin", "admin", http.StatusForbidden},
		{"auditor", "auditor", http.StatusOK},
		{"national coordinator", "coord-national", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.on(t).do(req{method: "GET", path: "/v1/stats/metrics", token: tc.token})
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.raw)
			}
			if tc.status == http.StatusOK && !strings.Contains(string(res.raw), `actionledger_action_points{district="Kenema",status="open"} 1`) {
				t.Errorf("no Kenema action-point gauge: %s", res.raw)
			}
		})
	}
}

// TestQueryThatDoesNotParse: a query string Go's URL.Query() would silently
// read as less than was sent is a 400 on every route.
func TestQueryThatDoesNotParse(t *testing.T) {
	e := start(t)
	e.staff()
	tooMany := strings.Repeat("x=1&", 10001) + "district=Kailahun"
	for _, tc := range []struct {
		name, path, token string
	}{
		{"too many parameters, stats", "/v1/stats/completion?" + tooMany, "coord"},
		{"too many parameters, audit", "/v1/audit/events?" + tooMany, "auditor"},
		{"too many parameters, list", "/v1/action-points?" + tooMany, "coord"},
		{"bad escape", "/v1/stats/completion?district=%zz", "coord"},
		{"semicolon", "/v1/stats/completion?district=Kenema;chiefdom=Nongowa", "coord"},
		{"bad escape on a write", "/v1/communities?x=%", "coord"},
		{"bad escape, unauthenticated route", "/healthz?%zz", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if strings.HasPrefix(tc.path, "/v1/communities") {
				method = "POST"
			}
			res := e.on(t).problem(req{method: method, path: tc.path, token: tc.token, body: map[string]any{}}, http.StatusBadRequest, "invalid_input", "query")
			if !strings.Contains(res.str("detail"), "query") {
				t.Errorf("detail does not name the problem: %s", res.raw)
			}
		})
	}
}

// TestWeakIfMatchIsRefused: If-Match compares strongly (RFC 9110); a weak
// tag is refused, not taken as a match.
func TestWeakIfMatchIsRefused(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-W1")
	e.actionPoint("AP-W1", "KEN-W1")
	for _, tag := range []string{`W/"1"`, ` W/"1"`, `W/1`} {
		e.problem(req{method: "POST", path: "/v1/action-points/AP-W1/start", token: "mob", ifMatch: tag}, http.StatusBadRequest, "invalid_input", "If-Match")
	}
	if got := e.must(http.StatusOK, req{method: "GET", path: "/v1/action-points/AP-W1", token: "mob"}).num("revision"); got != 1 {
		t.Fatalf("revision %v after weak If-Match, want 1 (nothing written)", got)
	}
	e.must(http.StatusOK, req{method: "POST", path: "/v1/action-points/AP-W1/start", token: "mob", ifMatch: `"1"`})
}

// TestInvalidUTF8IsRefused: text that is not valid Unicode is a 400 naming
// the field, on a single route and in a sync item, never stored as U+FFFD.
func TestInvalidUTF8IsRefused(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-U1")
	raise := func(title string) string {
		return `{"id":"AP-U1","community_id":"KEN-U1","title":"` + title + `","category":"hygiene","kind":"one_off","due_date":"2015-03-01"}`
	}
	for _, tc := range []struct {
		name, path, body, field string
	}{
		{"invalid byte", "/v1/action-points", raise("Hand\xffwashing"), "title"},
		{"truncated sequence", "/v1/action-points", raise("caf\xc3"), "title"},
		{"lone surrogate escape", "/v1/action-points", raise(`caf\ud800`), "title"},
		{"nested field", "/v1/communities/KEN-U1/visits", `{"kind":"follow_up","trust_rating":3,"concerns":[{"need":"basic","text":"ok"},{"need":"basic","text":"` + "\xe9t\xe9" + `"}]}`, "concerns[1].text"},
		// A syntax error inside a list once sent the strict-key walk round
		// for ever.
		{"bad escape in a list", "/v1/communities/KEN-U1/visits", `{"kind":"follow_up","trust_rating":3,"concerns":[{"need":"basic","text":"\x"}]}`, "body"},
		{"invalid key", "/v1/action-points", `{"id":"AP-U1","t\xffitle":"x"}`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.on(t).problem(req{method: "POST", path: tc.path, token: "mob", body: tc.body}, http.StatusBadRequest, "invalid_input", tc.field)
		})
	}
	e.problem(req{method: "GET", path: "/v1/action-points/AP-U1", token: "mob"}, http.StatusNotFound, "not_found", "")
	// A real U+FFFD, sent as such, is text like any other.
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", body: raise(`bucket \ufffd \uFFFD`)})

	// In a batch, the item is refused by its route and the rest run.
	batch := `{"items":[` +
		`{"key":"u1","method":"POST","path":"/v1/communities/KEN-U1/visits","body":{"kind":"initial","trust_rating":4,"concerns":[{"need":"basic","text":"no ` + "\xff" + `water"}]}},` +
		`{"key":"u2","method":"POST","path":"/v1/communities/KEN-U1/visits","body":{"kind":"follow_up","trust_rating":4}}]}`
	res := e.must(http.StatusOK, req{method: "POST", path: "/v1/sync", token: "mob", body: batch})
	var out struct{ Results []syncResult }
	if err := json.Unmarshal(res.raw, &out); err != nil || len(out.Results) != 2 {
		t.Fatalf("sync answer %s: %v", res.raw, err)
	}
	if code, field := problemOf(t, out.Results[0].Body); out.Results[0].Status != 400 || code != "invalid_input" || field != "concerns[0].text" {
		t.Errorf("item with invalid UTF-8: %d %s", out.Results[0].Status, out.Results[0].Body)
	}
	if out.Results[1].Status != http.StatusCreated {
		t.Errorf("the next item: %d %s", out.Results[1].Status, out.Results[1].Body)
	}
	// Invalid UTF-8 in an item's own fields refuses the batch, naming it.
	e.problem(req{method: "POST", path: "/v1/sync", token: "mob", body: `{"items":[{"key":"k` + "\xff" + `","method":"POST","path":"/v1/x"}]}`},
		http.StatusBadRequest, "invalid_input", "items[0].key")
}

// TestSyncRunsWritesOnly: a batch replays queued writes; a read in it is
// refused per item, so 500 list reads neither wait nor build a huge answer.
func TestSyncRunsWritesOnly(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-S9")
	for i := range 40 {
		e.actionPoint("KEN-S9-AP"+strconv.Itoa(i), "KEN-S9")
	}
	list := "/v1/action-points?district=Kenema&limit=100"
	if one := e.must(http.StatusOK, req{method: "GET", path: list, token: "mob"}); len(one.raw) < 4000 {
		t.Fatalf("the list read is too small to tell (%d bytes)", len(one.raw))
	}

	t.Run("500 list reads", func(t *testing.T) {
		items := make([]syncItem, 500)
		for i := range items {
			items[i] = syncItem{Key: "r" + strconv.Itoa(i), Method: "GET", Path: list}
		}
		res := e.on(t).must(http.StatusOK, req{method: "POST", path: "/v1/sync", token: "mob", body: map[string]any{"items": items}})
		// Each refusal is a short problem; the reads themselves would be
		// about 500 × 10 KB.
		if len(res.raw) > 500*512 {
			t.Errorf("answer of %d bytes for 500 refused items", len(res.raw))
		}
		results := e.on(t).syncBatch("mob", items[:3])
		for i, r := range results {
			if code, field := problemOf(t, r.Body); r.Status != 400 || code != "invalid_input" || field != "items["+strconv.Itoa(i)+"].method" {
				t.Errorf("item %d: %d %s", i, r.Status, r.Body)
			}
		}
	})

	t.Run("reads waiting for a position are not run", func(t *testing.T) {
		items := []syncItem{}
		for i := range 5 {
			items = append(items, syncItem{Key: "w" + strconv.Itoa(i), Method: "GET", Path: "/v1/stats/completion?min_position=999999999"})
		}
		items = append(items, syncItem{Key: "w-visit", Method: "POST", Path: "/v1/communities/KEN-S9/visits", Body: map[string]any{"kind": "initial", "trust_rating": 3}})
		results := e.on(t).syncBatch("mob", items)
		for i, r := range results[:5] {
			if r.Status != http.StatusBadRequest {
				t.Errorf("item %d: %d %s, want 400", i, r.Status, r.Body)
			}
		}
		if results[5].Status != http.StatusCreated {
			t.Errorf("the write after the reads: %d %s", results[5].Status, results[5].Body)
		}
	})
}

// TestProjectionBehindIsNotAnError: any caller can ask for a position not
// yet reached; the 503 it gets is logged below error level.
func TestProjectionBehindIsNotAnError(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.Open(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AdminToken: adminToken, TokenSecret: tokenSecret}, zap.New(core))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = m.Close() })
	e := &env{t: t, base: m.URL(), main: m, tokens: map[string]string{"admin": adminToken}}
	e.staff()
	e.problem(req{method: "GET", path: "/v1/stats/completion?min_position=999999999", token: "coord"}, http.StatusServiceUnavailable, "projection_behind", "")
	for _, entry := range logs.All() {
		if entry.Level >= zapcore.ErrorLevel {
			t.Errorf("logged at %s: %s %v", entry.Level, entry.Message, entry.ContextMap())
		}
	}
	if logs.FilterMessage("read models behind the request").Len() == 0 {
		t.Errorf("the 503 was not logged at all")
	}
}

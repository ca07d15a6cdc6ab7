package tests_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// syncItem is one item of a POST /v1/sync batch.
type syncItem struct {
	Key     string `json:"key"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	IfMatch string `json:"if_match,omitempty"`
	Body    any    `json:"body,omitempty"`
}

type syncResult struct {
	Key      string          `json:"key"`
	Status   int             `json:"status"`
	Body     json.RawMessage `json:"body"`
	ETag     string          `json:"etag"`
	Replayed bool            `json:"replayed"`
}

// syncBatch sends items as token and decodes the 200 answer.
func (e *env) syncBatch(token string, items []syncItem) []syncResult {
	e.t.Helper()
	res := e.must(http.StatusOK, req{method: "POST", path: "/v1/sync", token: token, body: map[string]any{"items": items}})
	var out struct {
		Results []syncResult `json:"results"`
	}
	if err := json.Unmarshal(res.raw, &out); err != nil {
		e.t.Fatalf("sync answer %s: %v", res.raw, err)
	}
	if len(out.Results) != len(items) {
		e.t.Fatalf("sync answered %d results for %d items: %s", len(out.Results), len(items), res.raw)
	}
	for i, r := range out.Results {
		if r.Key != items[i].Key {
			t := e.t
			t.Fatalf("result %d has key %q, want %q (results must keep the batch's order)", i, r.Key, items[i].Key)
		}
	}
	return out.Results
}

func (e *env) head() uint64 {
	e.t.Helper()
	h, err := e.main.Store().Head(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func problemOf(t *testing.T, raw json.RawMessage) (code, field string) {
	t.Helper()
	var p struct{ Code, Field string }
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("problem %s: %v", raw, err)
	}
	return p.Code, p.Field
}

// TestSyncBatch replays a phone's backlog: every item answers what its
// route answers alone, in order, one failure stopping nothing; the same
// batch again writes nothing and answers the same.
func TestSyncBatch(t *testing.T) {
	e := start(t)
	e.staff()
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord",
		body: map[string]any{"id": "KEN-S1", "name": "Sembehun", "district": "Kenema", "chiefdom": "Nongowa", "section": "Hangha", "population": 700,
			"occurred_at": rfc(time.Now().AddDate(0, 0, -30))}})
	day := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Minute)
	items := []syncItem{
		{Key: "p1-0001", Method: "POST", Path: "/v1/communities/KEN-S1/triggering", Body: map[string]any{"attendance": 120, "occurred_at": rfc(day)}},
		{Key: "p1-0002", Method: "post", Path: "/v1/communities/KEN-S1/visits", Body: map[string]any{"kind": "initial", "trust_rating": 3, "occurred_at": rfc(day.Add(time.Hour))}},
		{Key: "p1-0003", Method: "POST", Path: "/v1/action-points", Body: map[string]any{"id": "KEN-S1-AP1", "community_id": "KEN-S1", "title": "Hand-washing at the market", "category": "hygiene", "kind": "one_off", "due_date": "2015-03-01"}},
		{Key: "p1-0004", Method: "POST", Path: "/v1/action-points/KEN-S1-AP1/reopen", Body: map[string]any{"reason": "never closed"}},
		{Key: "p1-0005", Method: "POST", Path: "/v1/action-points/KEN-S1-AP1/start", IfMatch: `"1"`},
		{Key: "p1-0006", Method: "POST", Path: "/v1/action-points/KEN-S1-AP1/progress", IfMatch: `"1"`, Body: map[string]any{"note": "stale"}},
		{Key: "p1-0007", Method: "POST", Path: "/v1/action-points/KEN-S1-AP1/progress", Body: map[string]any{"note": "Buckets bought"}},
		{Key: "p1-0008", Method: "POST", Path: "/v1/communities/KEN-S1/visits", Body: map[string]any{"kind": "follow_up", "trust_rating": 9}},
		{Key: "p1-0009", Method: "POST", Path: "/v1/users", Body: map[string]any{"name": "X", "role": "auditor"}},
		{Key: "p1-0010", Method: "POST", Path: "/v1/no-such-route", Body: map[string]any{}},
		{Key: "p1-0011", Method: "POST", Path: "/v1/communities/KEN-S1", Body: map[string]any{}},
		{Key: "p1-0012", Method: "POST", Path: "/v1/action-points/NOPE/start"},
		{Key: "p1-0013", Method: "POST", Path: "/v1/action-points", Body: map[string]any{"id": "KEN-S1-AP2", "community_id": "KEN-S1", "title": "t", "category": "hygiene", "kind": "continuous", "zzz": 1}},
		{Key: "p1-0014", Method: "GET", Path: "/v1/action-points/KEN-S1-AP1"},
	}
	want := []struct {
		status int
		code   string
		field  string
	}{
		{200, "", ""},
		{201, "", ""},
		{201, "", ""},
		{409, "transition_not_allowed", ""},
		{200, "", ""},
		{412, "stale_revision", ""},
		{200, "", ""},
		{400, "invalid_input", "trust_rating"},
		{403, "forbidden", ""},
		{404, "route_not_found", ""},
		{405, "method_not_allowed", ""},
		{404, "not_found", ""},
		{400, "invalid_input", "zzz"},
		{200, "", ""},
	}
	before := e.head()
	first := e.syncBatch("mob", items)
	for i, w := range want {
		r := first[i]
		if r.Status != w.status {
			t.Errorf("item %d (%s %s): status %d, want %d: %s", i, items[i].Method, items[i].Path, r.Status, w.status, r.Body)
			continue
		}
		if w.code != "" {
			if code, field := problemOf(t, r.Body); code != w.code || field != w.field {
				t.Errorf("item %d: problem %s/%s, want %s/%s: %s", i, code, field, w.code, w.field, r.Body)
			}
		}
		if r.Replayed {
			t.Errorf("item %d: replayed on first sync", i)
		}
	}
	if first[2].ETag != `"1"` || !strings.Contains(string(first[2].Body), `"id":"KEN-S1-AP1"`) {
		t.Errorf("create result: etag %q body %s", first[2].ETag, first[2].Body)
	}
	wrote := e.head() - before
	if wrote != 5 {
		t.Errorf("first sync appended %d events, want 5 (trigger, visit, raise, start, progress)", wrote)
	}
	if got := e.status("/v1/action-points/KEN-S1-AP1", "mob"); got != "in_progress" {
		t.Errorf("action point status %q after the batch", got)
	}

	// The same batch again: nothing new, the same answers, replays marked.
	head := e.head()
	again := e.syncBatch("mob", items)
	if e.head() != head {
		t.Errorf("resending the batch appended %d events", e.head()-head)
	}
	for i := range items {
		a, b := first[i], again[i]
		if a.Status != b.Status || a.ETag != b.ETag {
			t.Errorf("item %d: resend answered %d %s, first %d %s", i, b.Status, b.ETag, a.Status, a.ETag)
		}
		if a.Status/100 == 2 && items[i].Method == "POST" {
			if !b.Replayed || !bytes.Equal(a.Body, b.Body) {
				t.Errorf("item %d: resend body %s replayed=%v, first %s", i, b.Body, b.Replayed, a.Body)
			}
		}
	}

	// An item is the single route's request: sending it alone with the
	// same key is a replay, and a different body under the key is a 422.
	alone := e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", key: "p1-0003",
		body: items[2].Body})
	if alone.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(bytes.TrimSpace(alone.raw), first[2].Body) {
		t.Errorf("the single route did not replay the synced item: %s %s", alone.header.Get("Idempotent-Replayed"), alone.raw)
	}
	reuse := e.syncBatch("mob", []syncItem{{Key: "p1-0007", Method: "POST", Path: "/v1/action-points/KEN-S1-AP1/progress", Body: map[string]any{"note": "another note"}}})
	if code, _ := problemOf(t, reuse[0].Body); reuse[0].Status != 422 || code != "idempotency_key_reused" {
		t.Errorf("key reused with another body: %d %s", reuse[0].Status, reuse[0].Body)
	}
	// Keys are the user's: the coordinator's p1-0001 is a new request.
	other := e.syncBatch("coord", []syncItem{{Key: "p1-0001", Method: "POST", Path: "/v1/action-points/KEN-S1-AP1/drop", Body: map[string]any{"reason": "moved"}}})
	if other[0].Status != 200 || other[0].Replayed {
		t.Errorf("another user's key: %d replayed=%v %s", other[0].Status, other[0].Replayed, other[0].Body)
	}
}

// TestSyncWholeBatchReplayed marks a batch answered entirely from earlier
// requests with Idempotent-Replayed, as a single route does.
func TestSyncWholeBatchReplayed(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-R1")
	items := []syncItem{{Key: "k1", Method: "POST", Path: "/v1/communities/KEN-R1/visits", Body: map[string]any{"kind": "initial", "trust_rating": 4}}}
	body := map[string]any{"items": items}
	first := e.must(http.StatusOK, req{method: "POST", path: "/v1/sync", token: "mob", body: body})
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("first batch marked replayed")
	}
	second := e.must(http.StatusOK, req{method: "POST", path: "/v1/sync", token: "mob", body: body})
	if second.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed batch not marked: %v", second.header)
	}
}

// TestSyncMalformedBatches: a batch that is not well-formed is refused
// whole, naming the field, and writes nothing.
func TestSyncMalformedBatches(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-M1")
	visit := func(key string) map[string]any {
		return map[string]any{"key": key, "method": "POST", "path": "/v1/communities/KEN-M1/visits", "body": map[string]any{"kind": "initial", "trust_rating": 3}}
	}
	many := make([]any, 501)
	for i := range many {
		many[i] = visit(fmt.Sprintf("k%d", i))
	}
	cases := []struct {
		name   string
		body   any
		header map[string]string
		status int
		code   string
		field  string
	}{
		{"not JSON", "{items: [", nil, 400, "invalid_input", "body"},
		{"empty body", "", nil, 400, "invalid_input", "items"},
		{"items not a list", map[string]any{"items": "x"}, nil, 400, "invalid_input", "items"},
		{"unknown field", map[string]any{"items": []any{}, "zzz": 1}, nil, 400, "invalid_input", "zzz"},
		{"501 items", map[string]any{"items": many}, nil, 400, "invalid_input", "items"},
		{"item not an object", map[string]any{"items": []any{visit("a"), "x"}}, nil, 400, "invalid_input", "items[1]"},
		{"item null", map[string]any{"items": []any{nil}}, nil, 400, "invalid_input", "items[0]"},
		{"item without key", map[string]any{"items": []any{visit("a"), visit("b"), visit("c"), map[string]any{"method": "POST", "path": "/v1/x"}}}, nil, 400, "invalid_input", "items[3].key"},
		{"item without method", map[string]any{"items": []any{map[string]any{"key": "a", "path": "/v1/x"}}}, nil, 400, "invalid_input", "items[0].method"},
		{"item without path", map[string]any{"items": []any{map[string]any{"key": "a", "method": "POST"}}}, nil, 400, "invalid_input", "items[0].path"},
		{"key twice", map[string]any{"items": []any{visit("a"), visit("b"), visit("a")}}, nil, 400, "invalid_input", "items[2].key"},
		{"key with a space", map[string]any{"items": []any{visit("a b")}}, nil, 400, "invalid_input", "items[0].key"},
		{"key too long", map[string]any{"items": []any{visit(strings.Repeat("k", 201))}}, nil, 400, "invalid_input", "items[0].key"},
		{"key a number", map[string]any{"items": []any{map[string]any{"key": 7, "method": "POST", "path": "/v1/x"}}}, nil, 400, "invalid_input", "items[0].key"},
		{"unknown item field", map[string]any{"items": []any{map[string]any{"key": "a", "method": "POST", "path": "/v1/x", "headers": map[string]any{}}}}, nil, 400, "invalid_input", "items[0].headers"},
		{"method not a token", map[string]any{"items": []any{map[string]any{"key": "a", "method": "PO ST", "path": "/v1/x"}}}, nil, 400, "invalid_input", "items[0].method"},
		{"absolute URL", map[string]any{"items": []any{map[string]any{"key": "a", "method": "POST", "path": "http://elsewhere/v1/feedback"}}}, nil, 400, "invalid_input", "items[0].path"},
		{"relative path", map[string]any{"items": []any{map[string]any{"key": "a", "method": "POST", "path": "v1/feedback"}}}, nil, 400, "invalid_input", "items[0].path"},
		{"a batch in a batch", map[string]any{"items": []any{map[string]any{"key": "a", "method": "POST", "path": "/v1/./sync"}}}, nil, 400, "invalid_input", "items[0].path"},
		{"occurred_at not a time", map[string]any{"items": []any{}, "occurred_at": "yesterday"}, nil, 400, "invalid_input", "occurred_at"},
		{"XML", "<items/>", map[string]string{"Content-Type": "application/xml"}, 415, "unsupported_media_type", ""},
		{"brotli", map[string]any{"items": []any{}}, map[string]string{"Content-Encoding": "br"}, 415, "unsupported_media_type", ""},
		{"gzip that is not", map[string]any{"items": []any{}}, map[string]string{"Content-Encoding": "gzip"}, 400, "invalid_input", "body"},
		{"too large", `{"items":[],"occurred_at":"` + strings.Repeat("x", 17<<20) + `"}`, nil, 413, "body_too_large", ""},
	}
	before := e.head()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.on(t)
			e.problem(req{method: "POST", path: "/v1/sync", token: "mob", body: tc.body, header: tc.header}, tc.status, tc.code, tc.field)
		})
	}
	if e.head() != before {
		t.Errorf("malformed batches appended %d events", e.head()-before)
	}
}

func gzipped(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSyncGzip(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-G1")
	batch := map[string]any{"items": []syncItem{
		{Key: "g1", Method: "POST", Path: "/v1/communities/KEN-G1/visits", Body: map[string]any{"kind": "initial", "trust_rating": 5}},
		{Key: "g2", Method: "POST", Path: "/v1/feedback", Body: map[string]any{"id": "KEN-G1-F1", "community_id": "KEN-G1", "type": "question", "text": "Is the water safe?"}},
	}}
	res := e.must(http.StatusOK, req{method: "POST", path: "/v1/sync", token: "mob", body: gzipped(t, batch),
		header: map[string]string{"Content-Encoding": "gzip"}})
	var out struct{ Results []syncResult }
	if err := json.Unmarshal(res.raw, &out); err != nil || len(out.Results) != 2 || out.Results[0].Status != 201 || out.Results[1].Status != 201 {
		t.Fatalf("gzip batch: %s (%v)", res.raw, err)
	}

	// A small body that inflates past the bound is refused, not inflated.
	bomb := `{"items":[],"occurred_at":"` + strings.Repeat("0", 20<<20) + `"}`
	e.problem(req{method: "POST", path: "/v1/sync", token: "mob", body: gzipped(t, json.RawMessage(bomb)),
		header: map[string]string{"Content-Encoding": "gzip"}}, 413, "body_too_large", "")
}

// TestSyncRoles: mobilizers and coordinators sync; auditors and admins,
// who write nothing a phone queues, are refused; no token is a 401.
func TestSyncRoles(t *testing.T) {
	e := start(t)
	e.staff()
	body := map[string]any{"items": []any{}}
	for _, tc := range []struct {
		token  string
		status int
	}{
		{"mob", 200}, {"coord", 200}, {"coord-national", 200}, {"auditor", 403}, {"admin", 403}, {"", 401}, {"raw:nope", 401},
	} {
		t.Run(tc.token, func(t *testing.T) {
			if got := e.on(t).do(req{method: "POST", path: "/v1/sync", token: tc.token, body: body}); got.status != tc.status {
				t.Errorf("status %d, want %d: %s", got.status, tc.status, got.raw)
			}
		})
	}
}

// TestSyncClockSkew: a batch that says what the phone's clock read gets
// back how far off it is.
func TestSyncClockSkew(t *testing.T) {
	e := start(t)
	e.staff()
	res := e.must(http.StatusOK, req{method: "POST", path: "/v1/sync", token: "mob",
		body: map[string]any{"items": []any{}, "occurred_at": rfc(time.Now().Add(-2 * time.Hour))}})
	var out struct {
		Results []syncResult `json:"results"`
		Skew    *float64     `json:"clock_skew_seconds"`
	}
	if err := json.Unmarshal(res.raw, &out); err != nil || out.Skew == nil || *out.Skew > -7100 || *out.Skew < -7300 {
		t.Fatalf("skew: %s", res.raw)
	}
	if out.Results == nil || len(out.Results) != 0 {
		t.Errorf("empty batch: results %v, want []", out.Results)
	}
	if !reflect.DeepEqual(out.Results, []syncResult{}) {
		t.Errorf("results = %#v", out.Results)
	}
}

package tests_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
)

const (
	adminToken  = "test-admin-token"
	tokenSecret = "test-token-secret-e2e"
)

// env is a running server and the users a test needs.
type env struct {
	t       testing.TB
	base    string
	dataDir string
	main    *server.Main
	stop    func()
	tokens  map[string]string // name -> token
}

// start boots the real wiring on a temp dir and a free port.
func start(t *testing.T) *env {
	t.Helper()
	return startIn(t, t.TempDir())
}

func startIn(t testing.TB, dir string) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.Open(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir, AdminToken: adminToken, TokenSecret: tokenSecret}, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatalf("opening server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	e := &env{t: t, base: m.URL(), dataDir: dir, main: m, tokens: map[string]string{"admin": adminToken}}
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	t.Cleanup(e.stop)
	return e
}

// on returns e reporting to t, for use inside subtests.
func (e *env) on(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r response) num(key string) float64 {
	f, _ := r.body[key].(float64)
	return f
}

// req is one request to send.
type req struct {
	method  string
	path    string
	token   string // a name in env.tokens, or a literal token prefixed with "raw:"
	body    any    // marshalled as JSON unless it is a string or []byte
	key     string // Idempotency-Key
	ifMatch string
	header  map[string]string
}

func (e *env) do(r req) response {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequest(r.method, e.base+r.path, body)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	switch {
	case strings.HasPrefix(r.token, "raw:"):
		hr.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(r.token, "raw:"))
	case r.token != "":
		tok, ok := e.tokens[r.token]
		if !ok {
			e.t.Fatalf("no user %q", r.token)
		}
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	if r.key != "" {
		hr.Header.Set("Idempotency-Key", r.key)
	}
	if r.ifMatch != "" {
		hr.Header.Set("If-Match", r.ifMatch)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q: %v", r.method, r.path, raw, err)
		}
	}
	return out
}

// must sends r and fails the test unless the status is want.
func (e *env) must(want int, r req) response {
	e.t.Helper()
	res := e.do(r)
	if res.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, res.status, want, res.raw)
	}
	return res
}

// problem asserts a problem+json answer with status, code and (if given) field.
func (e *env) problem(r req, status int, code, field string) response {
	e.t.Helper()
	res := e.do(r)
	if res.status != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, res.status, status, res.raw)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		e.t.Errorf("%s %s: Content-Type %q, want application/problem+json", r.method, r.path, ct)
	}
	if got := res.str("code"); got != code {
		e.t.Errorf("%s %s: code %q, want %q (%s)", r.method, r.path, got, code, res.raw)
	}
	if field != "" && res.str("field") != field {
		e.t.Errorf("%s %s: field %q, want %q (%s)", r.method, r.path, res.str("field"), field, res.raw)
	}
	if res.num("status") != float64(status) {
		e.t.Errorf("%s %s: problem status %v, want %d", r.method, r.path, res.body["status"], status)
	}
	return res
}

// user creates a user through the admin and remembers its token as name.
func (e *env) user(name, role, district, chiefdom string) string {
	e.t.Helper()
	res := e.must(http.StatusCreated, req{method: "POST", path: "/v1/users", token: "admin",
		body: map[string]any{"name": name, "role": role, "district": district, "chiefdom": chiefdom}})
	tok := res.str("token")
	if tok == "" || res.str("id") == "" {
		e.t.Fatalf("user %s: no id or token: %s", name, res.raw)
	}
	e.tokens[name] = tok
	return res.str("id")
}

// staff creates the usual cast: a Kenema coordinator and mobilizer, a
// Kailahun mobilizer, a national coordinator and an auditor.
func (e *env) staff() {
	e.t.Helper()
	e.user("coord", "coordinator", "Kenema", "")
	e.user("mob", "mobilizer", "Kenema", "")
	e.user("mob-kailahun", "mobilizer", "Kailahun", "")
	e.user("coord-national", "coordinator", "", "")
	e.user("auditor", "auditor", "", "")
}

// community registers (a year ago: nothing of a community may be dated
// before its registration) and triggers a community in Kenema.
func (e *env) community(id string) {
	e.t.Helper()
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord",
		body: map[string]any{"id": id, "name": "Village " + id, "district": "Kenema", "chiefdom": "Nongowa", "section": "Hangha", "population": 800,
			"occurred_at": rfc(time.Now().AddDate(-1, 0, 0))}})
	e.must(http.StatusOK, req{method: "POST", path: "/v1/communities/" + id + "/triggering", token: "mob",
		body: map[string]any{"attendance": 120}})
}

// actionPoint raises an action point in community.
func (e *env) actionPoint(id, community string) response {
	e.t.Helper()
	return e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob",
		body: map[string]any{"id": id, "community_id": community, "title": "Hand-washing station", "category": "hygiene", "kind": "one_off", "due_date": "2015-03-01"}})
}

func (e *env) status(path, token string) string {
	e.t.Helper()
	return e.must(http.StatusOK, req{method: "GET", path: path, token: token}).str("status")
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
)

// adminToken is the admin's bearer token in these tests.
const adminToken = "test-admin"

// roles are the user roles, in the order the role checks walk them.
var roles = []string{domain.RoleMobilizer, domain.RoleCoordinator, domain.RoleAuditor, domain.RoleAdmin}

// publicPaths are the routes served without authentication.
var publicPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/v1/openapi.json": true}

// ---------------------------------------------------------------------------
// The server under test

type env struct {
	srv   *api.Server
	ts    *httptest.Server
	doc   *oaDoc
	store *boltstore.Store
	read  *projections.Engine
}

// settle waits until read holds every event in store: a list or a stats
// read answers from the read models, and they follow the log a moment
// behind the write (a loaded machine makes the moment longer).
func settle(t *testing.T, store eventstore.Store, read *projections.Engine) {
	t.Helper()
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	head, err := store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := read.WaitFor(ctx, head); err != nil {
		t.Fatalf("read models behind: %v", err)
	}
}

// newEnv boots the real application on an embedded store in a temporary
// directory, behind the real HTTP server.
// newEnv starts the API on a fresh store; setup, when given, may change the
// application before the server is built (a test's own rebuild engine).
func newEnv(t *testing.T, setup ...func(*app.Application, *projections.Engine)) *env {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	reg := prometheus.NewRegistry()
	a, err := app.New(app.Config{
		Store: store, AdminTokenHash: app.HashToken(adminToken),
		TokenSecret: []byte("test-token-secret"), Registerer: reg,
	})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	// The read models, fed by the same store as in production, so the read
	// routes are mounted and answer from live projections.
	read, err := projections.Open(context.Background(), projections.Config{
		Store: store, Path: filepath.Join(t.TempDir(), "projections.db"), Registerer: reg,
	})
	if err != nil {
		t.Fatalf("opening the read models: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	running := make(chan error, 1)
	go func() { running <- read.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-running
		_ = read.Close()
	})
	a.Reads = app.NewReads(read, nil)
	a.Activity.Reads = read
	a.Rebuilds = app.NewRebuilds(read, nil, nil)
	for _, f := range setup {
		f(a, read)
	}
	srv, err := api.New(api.Config{App: a, Read: read, Registry: reg, Indicators: projections.NewIndicatorRegistry(read), Backup: store})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &env{srv: srv, ts: ts, doc: parseDoc(t, api.OpenAPI()), store: store, read: read}
}

// call is one request. body is nil (no body), a string or []byte (sent as
// is) or anything else (sent as JSON).
type call struct {
	method, path string
	token        string
	body         any
	header       map[string]string
}

type reply struct {
	status  int
	header  http.Header
	body    []byte
	problem api.Problem
}

// json decodes the reply's body.
func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return m
}

// do sends c and checks the reply against the document: the status must be
// documented for the operation, the body must match the documented schema
// and the documented required headers must be present.
func (e *env) do(t *testing.T, c call) reply {
	t.Helper()
	var rd io.Reader
	switch b := c.body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encoding the body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(c.method, e.ts.URL+c.path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", c.method, c.path, err)
	}
	r := reply{status: res.StatusCode, header: res.Header, body: body}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		if err := json.Unmarshal(body, &r.problem); err != nil {
			t.Errorf("%s %s: problem body %q: %v", c.method, c.path, body, err)
		}
	}
	path, rawQuery, _ := strings.Cut(c.path, "?") // the document's paths carry no query
	for _, msg := range e.doc.checkReply(c.method, path, r) {
		t.Errorf("%s %s answered %d, which the document does not describe: %s (body %s)", c.method, c.path, r.status, msg, body)
	}
	// What the server accepts, the document must list.
	if tpl, ok := e.doc.template(path); ok && rawQuery != "" && r.status/100 == 2 {
		op, _ := e.doc.operation(c.method, tpl)
		q, _ := url.ParseQuery(rawQuery)
		for _, k := range slices.Sorted(maps.Keys(q)) {
			if !e.doc.hasParameter(op, "query", k) {
				t.Errorf("%s %s: the server accepted query parameter %q, which the document does not list", c.method, c.path, k)
			}
		}
	}
	return r
}

// users creates a user of every role and returns the bearer token of each.
// The mobilizer works in Kailahun, the district of the document's examples;
// the others are national.
func (e *env) users(t *testing.T) map[string]string {
	t.Helper()
	tokens := map[string]string{domain.RoleAdmin: adminToken}
	for _, u := range []map[string]any{
		{"name": "Coordinator", "role": domain.RoleCoordinator},
		{"name": "Mobilizer", "role": domain.RoleMobilizer, "district": "Kailahun"},
		{"name": "Auditor", "role": domain.RoleAuditor},
	} {
		r := e.do(t, call{method: http.MethodPost, path: "/v1/users", token: adminToken, body: u})
		if r.status != http.StatusCreated {
			t.Fatalf("creating a %s: %d %s", u["role"], r.status, r.body)
		}
		tokens[u["role"].(string)] = r.json(t)["token"].(string)
	}
	return tokens
}

// userIDs returns the id of the users made by users, by role.
func (e *env) userIDs(t *testing.T) map[string]string {
	t.Helper()
	r := e.do(t, call{method: http.MethodGet, path: "/v1/users", token: adminToken})
	var list struct {
		Items []struct{ ID, Role string } `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != http.StatusOK {
		t.Fatalf("listing users: %d %s", r.status, r.body)
	}
	ids := map[string]string{}
	for _, u := range list.Items {
		ids[u.Role] = u.ID
	}
	return ids
}

func code(want string) func(t *testing.T, r reply) {
	return func(t *testing.T, r reply) {
		t.Helper()
		if r.problem.Code != want {
			t.Errorf("problem code = %q, want %q (%s)", r.problem.Code, want, r.problem.Detail)
		}
	}
}

// ---------------------------------------------------------------------------
// The document

type oaDoc struct {
	root  map[string]any
	paths []string // sorted path templates
}

// operation is one documented (method, path).
type operation struct {
	Method, Path string
	Op           map[string]any
}

func (o operation) String() string { return o.Method + " " + o.Path }

func parseDoc(t *testing.T, raw []byte) *oaDoc {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	d := &oaDoc{root: root}
	d.paths = slices.Sorted(maps.Keys(obj(root["paths"])))
	return d
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func arr(v any) []any          { a, _ := v.([]any); return a }

func strs(v any) []string {
	var out []string
	for _, x := range arr(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations returns every documented operation, sorted by path and method.
func (d *oaDoc) operations() []operation {
	var out []operation
	for _, p := range d.paths {
		item := obj(obj(d.root["paths"])[p])
		for _, m := range httpMethods {
			if op := obj(item[m]); op != nil {
				out = append(out, operation{Method: strings.ToUpper(m), Path: p, Op: op})
			}
		}
	}
	return out
}

// pointer resolves a local JSON pointer such as #/components/schemas/Problem.
func (d *oaDoc) pointer(ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	var cur any = d.root
	for _, tok := range strings.Split(strings.TrimPrefix(rest, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref follows a Reference Object (parameters, responses, headers).
func (d *oaDoc) deref(v any) map[string]any {
	m := obj(v)
	for i := 0; i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, _ := d.pointer(ref)
		m = obj(target)
	}
	return m
}

// schema resolves a Schema Object's $ref, its own keywords (description,
// examples) taking precedence over the target's.
func (d *oaDoc) schema(v any) map[string]any {
	s := obj(v)
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	target, _ := d.pointer(ref)
	merged := maps.Clone(d.schema(target))
	if merged == nil {
		merged = map[string]any{}
	}
	for k, v := range s {
		if k != "$ref" {
			merged[k] = v
		}
	}
	return merged
}

func (d *oaDoc) operation(method, path string) (map[string]any, bool) {
	item := obj(obj(d.root["paths"])[path])
	op := obj(item[strings.ToLower(method)])
	return op, op != nil
}

// template finds the documented path template a concrete path matches.
func (d *oaDoc) template(path string) (string, bool) {
	if slices.Contains(d.paths, path) {
		return path, true
	}
	segs := strings.Split(path, "/")
	for _, p := range d.paths {
		tsegs := strings.Split(p, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		ok := true
		for i := range tsegs {
			if strings.HasPrefix(tsegs[i], "{") && strings.HasSuffix(tsegs[i], "}") {
				ok = ok && segs[i] != ""
			} else {
				ok = ok && tsegs[i] == segs[i]
			}
		}
		if ok {
			return p, true
		}
	}
	return "", false
}

func (d *oaDoc) parameters(op map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range arr(op["parameters"]) {
		out = append(out, d.deref(p))
	}
	return out
}

func (d *oaDoc) hasParameter(op map[string]any, in, name string) bool {
	for _, p := range d.parameters(op) {
		if p["in"] == in && strings.EqualFold(p["name"].(string), name) {
			return true
		}
	}
	return false
}

// requestSchema is the JSON schema of an operation's request body, or nil.
func (d *oaDoc) requestSchema(op map[string]any) map[string]any {
	rb := d.deref(op["requestBody"])
	return obj(obj(obj(rb["content"])["application/json"])["schema"])
}

// security is the operation's effective security requirement.
func (d *oaDoc) security(op map[string]any) []any {
	if s, ok := op["security"]; ok {
		return arr(s)
	}
	return arr(d.root["security"])
}

// example builds a plausible value for a schema, holding every property of
// an object: examples first, then const, enum, default and the type.
func (d *oaDoc) example(v any) any {
	s := d.schema(v)
	if ex := arr(s["examples"]); len(ex) > 0 {
		return ex[0]
	}
	if c, ok := s["const"]; ok {
		return c
	}
	if en := arr(s["enum"]); len(en) > 0 {
		return en[0]
	}
	if def, ok := s["default"]; ok {
		return def
	}
	switch s["type"] {
	case "string":
		switch s["format"] {
		case "date-time":
			return "2015-02-14T09:30:00Z"
		case "date":
			return "2015-03-01"
		case "uuid":
			return "6f1b2c4e-61a4-4c57-9a4b-3e1d8f0a7c55"
		}
		return "example"
	case "integer", "number":
		if min, ok := s["minimum"].(float64); ok && min > 1 {
			return min
		}
		return 1.0
	case "boolean":
		return true
	case "array":
		return []any{d.example(s["items"])}
	case "object":
		m := map[string]any{}
		for k, p := range obj(s["properties"]) {
			m[k] = d.example(p)
		}
		return m
	}
	return nil
}

// ---------------------------------------------------------------------------
// A small JSON Schema validator: the keywords the document uses.

func (d *oaDoc) validate(v any, s map[string]any, at string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := s["$ref"].(string); ok {
		target, found := d.pointer(ref)
		if !found {
			return []string{at + ": unresolved $ref " + ref}
		}
		errs = append(errs, d.validate(v, obj(target), at)...)
	}
	for _, sub := range arr(s["allOf"]) {
		errs = append(errs, d.validate(v, obj(sub), at)...)
	}
	if cond := obj(s["if"]); cond != nil {
		if len(d.validate(v, cond, at)) == 0 {
			if then := obj(s["then"]); then != nil {
				errs = append(errs, d.validate(v, then, at)...)
			}
		} else if els := obj(s["else"]); els != nil {
			errs = append(errs, d.validate(v, els, at)...)
		}
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		fail("is %v, want %v", v, c)
	}
	if en, ok := s["enum"]; ok && !slices.ContainsFunc(arr(en), func(x any) bool { return reflect.DeepEqual(x, v) }) {
		fail("%v is not one of %v", v, en)
	}
	if typ, ok := s["type"]; ok {
		var types []string
		if ts, ok := typ.(string); ok {
			types = []string{ts}
		} else {
			types = strs(typ)
		}
		if !slices.ContainsFunc(types, func(t string) bool { return hasType(v, t) }) {
			fail("%v (%T) is not of type %v", v, v, typ)
			return errs
		}
	}
	switch x := v.(type) {
	case string:
		n := float64(utf8.RuneCountInString(x))
		if min, ok := s["minLength"].(float64); ok && n < min {
			fail("%q is shorter than %v", x, min)
		}
		if max, ok := s["maxLength"].(float64); ok && n > max {
			fail("%q is longer than %v", x, max)
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			fail("%q does not match %s", x, p)
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				fail("%q is not an RFC 3339 time", x)
			}
		case "date":
			if _, err := time.Parse(time.DateOnly, x); err != nil {
				fail("%q is not a YYYY-MM-DD date", x)
			}
		case "uuid":
			if !uuidPattern.MatchString(x) {
				fail("%q is not a UUID", x)
			}
		}
	case float64:
		if min, ok := s["minimum"].(float64); ok && x < min {
			fail("%v is below %v", x, min)
		}
		if max, ok := s["maximum"].(float64); ok && x > max {
			fail("%v is above %v", x, max)
		}
	case []any:
		if min, ok := s["minItems"].(float64); ok && float64(len(x)) < min {
			fail("has %d items, at least %v", len(x), min)
		}
		if max, ok := s["maxItems"].(float64); ok && float64(len(x)) > max {
			fail("has %d items, at most %v", len(x), max)
		}
		if items := obj(s["items"]); items != nil {
			for i, it := range x {
				errs = append(errs, d.validate(it, items, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		for _, r := range strs(s["required"]) {
			if _, ok := x[r]; !ok {
				fail("lacks required property %q", r)
			}
		}
		props := obj(s["properties"])
		for k, pv := range x {
			if ps, ok := props[k]; ok {
				errs = append(errs, d.validate(pv, obj(ps), at+"."+k)...)
			} else if s["additionalProperties"] == false {
				fail("has undocumented property %q", k)
			}
		}
	}
	return errs
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func hasType(v any, t string) bool {
	switch x := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case float64:
		return t == "number" || t == "integer" && x == math.Trunc(x)
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

// checkReply returns how a reply departs from the document: an undocumented
// status or media type, a body off its schema, a missing or malformed
// documented header. Paths the document does not know are not checked.
func (d *oaDoc) checkReply(method, path string, r reply) []string {
	tpl, ok := d.template(path)
	if !ok {
		return nil
	}
	op, ok := d.operation(method, tpl)
	if !ok {
		return nil
	}
	res, ok := obj(op["responses"])[strconv.Itoa(r.status)]
	if !ok {
		return []string{fmt.Sprintf("status %d is not documented for %s %s", r.status, method, tpl)}
	}
	resp := d.deref(res)
	var errs []string
	for name, h := range obj(resp["headers"]) {
		hd := d.deref(h)
		val := r.header.Get(name)
		if val == "" {
			if hd["required"] == true {
				errs = append(errs, "missing header "+name)
			}
			continue
		}
		var hv any = val
		if sch := d.schema(hd["schema"]); sch["type"] == "integer" {
			n, err := strconv.Atoi(val)
			if err != nil {
				errs = append(errs, fmt.Sprintf("header %s: %q is not an integer", name, val))
				continue
			}
			hv = float64(n)
		}
		errs = append(errs, d.validate(hv, obj(hd["schema"]), "header "+name)...)
	}
	content := obj(resp["content"])
	if len(content) == 0 {
		return errs
	}
	mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil {
		return append(errs, fmt.Sprintf("Content-Type %q: %v", r.header.Get("Content-Type"), err))
	}
	media, ok := content[mt]
	if !ok {
		return append(errs, fmt.Sprintf("media type %s is not documented (want one of %v)", mt, slices.Sorted(maps.Keys(content))))
	}
	if !strings.HasSuffix(mt, "json") {
		return errs
	}
	var body any
	if err := json.Unmarshal(r.body, &body); err != nil {
		return append(errs, "body is not JSON: "+err.Error())
	}
	return append(errs, d.validate(body, obj(obj(media)["schema"]), "body")...)
}

// ---------------------------------------------------------------------------
// Routes

// openAPIPath turns a gorilla/mux path template into an OpenAPI one: a
// variable keeps its name and loses its pattern ({id:[0-9]+} → {id}).
func openAPIPath(tpl string) string {
	var b strings.Builder
	depth := 0
	inPattern := false
	for _, r := range tpl {
		switch {
		case r == '{':
			depth++
			if depth == 1 {
				inPattern = false
				b.WriteRune(r)
				continue
			}
		case r == '}':
			depth--
			if depth == 0 {
				b.WriteRune(r)
				continue
			}
		case r == ':' && depth == 1:
			inPattern = true
			continue
		}
		if depth == 0 || !inPattern {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestOpenAPIPath(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"static", "/v1/users", "/v1/users"},
		{"variable", "/v1/communities/{id}", "/v1/communities/{id}"},
		{"variable then static", "/v1/action-points/{id}/start", "/v1/action-points/{id}/start"},
		{"pattern", "/v1/streams/{stream:[a-z]+}", "/v1/streams/{stream}"},
		{"pattern with braces", "/v1/x/{id:[0-9]{2,4}}/y", "/v1/x/{id}/y"},
		{"two variables", "/v1/{a}/{b:.+}", "/v1/{a}/{b}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := openAPIPath(tc.in); got != tc.want {
				t.Errorf("openAPIPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// servedRoutes walks the router: "METHOD /path" for every route with
// methods.
func servedRoutes(t *testing.T, srv *api.Server) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := srv.Router().Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil // a subrouter's prefix
		}
		for _, m := range methods {
			out[strings.ToUpper(m)+" "+openAPIPath(tpl)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the router: %v", err)
	}
	return out
}

// TestOpenAPIMatchesRoutes keeps the document and the router in step: every
// served (method, path) is documented and every documented one is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	served := servedRoutes(t, e.srv)
	documented := map[string]bool{}
	for _, op := range e.doc.operations() {
		documented[op.String()] = true
	}
	if len(served) == 0 {
		t.Fatal("the router has no routes")
	}
	for _, r := range slices.Sorted(maps.Keys(served)) {
		if !documented[r] {
			t.Errorf("served but not documented: %s", r)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(documented)) {
		if !served[r] {
			t.Errorf("documented but not served: %s", r)
		}
	}
}

// ---------------------------------------------------------------------------
// The document's shape

func TestOpenAPIDocumentIsServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, call{method: http.MethodGet, path: "/v1/openapi.json"})
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json without a token: %d %s", r.status, r.body)
	}
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", r.header.Get("Content-Type"))
	}
	if !bytes.Equal(r.body, api.OpenAPI()) {
		t.Error("the served document differs from api.OpenAPI()")
	}
	doc := parseDoc(t, r.body)
	if v, _ := doc.root["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info := obj(doc.root["info"])
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info lacks title or version: %v", info)
	}
	if len(doc.operations()) == 0 {
		t.Fatal("the document has no operations")
	}
}

// TestOpenAPIRefsResolve checks that every $ref points into the document.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := parseDoc(t, api.OpenAPI())
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, found := doc.pointer(ref); !found {
					t.Errorf("%s: $ref %s does not resolve", at, ref)
				}
			}
			for k, v := range x {
				walk(v, at+"/"+k)
			}
		case []any:
			for i, v := range x {
				walk(v, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc.root, "#")
}

// TestOpenAPIOperations checks every operation: a unique operationId, a 2xx
// answer, security as the server applies it (bearer on /v1 except the
// document), the roles, and the headers of writes and reads.
func TestOpenAPIOperations(t *testing.T) {
	doc := parseDoc(t, api.OpenAPI())
	ids := map[string]string{}
	roleEnum := strs(obj(obj(obj(doc.root["components"])["schemas"])["Role"])["enum"])
	for _, o := range doc.operations() {
		t.Run(o.String(), func(t *testing.T) {
			id, _ := o.Op["operationId"].(string)
			switch {
			case id == "":
				t.Error("no operationId")
			case ids[id] != "":
				t.Errorf("operationId %q is also used by %s", id, ids[id])
			default:
				ids[id] = o.String()
			}
			responses := obj(o.Op["responses"])
			if !slices.ContainsFunc(slices.Collect(maps.Keys(responses)), func(s string) bool { return strings.HasPrefix(s, "2") }) {
				t.Error("no 2xx response")
			}

			public := publicPaths[o.Path]
			sec := doc.security(o.Op)
			bearer := slices.ContainsFunc(sec, func(req any) bool { _, ok := obj(req)["bearerAuth"]; return ok })
			switch {
			case public && len(sec) > 0:
				t.Errorf("served without authentication but documents security %v", sec)
			case !public && !bearer:
				t.Errorf("served with bearer authentication but documents security %v", sec)
			}
			if scheme := obj(obj(obj(doc.root["components"])["securitySchemes"])["bearerAuth"]); bearer && (scheme["type"] != "http" || scheme["scheme"] != "bearer") {
				t.Errorf("bearerAuth is %v, want an http bearer scheme", scheme)
			}
			opRoles := strs(o.Op["x-roles"])
			if public {
				if opRoles != nil {
					t.Errorf("public operation with x-roles %v", opRoles)
				}
			} else {
				if _, ok := responses["401"]; !ok {
					t.Error("authenticated operation without a 401 response")
				}
				if len(opRoles) == 0 {
					t.Error("no x-roles")
				}
				for _, r := range opRoles {
					if !slices.Contains(roleEnum, r) {
						t.Errorf("x-roles names %q, not a role", r)
					}
				}
				desc, _ := o.Op["description"].(string)
				if !strings.Contains(desc, "Roles:") {
					t.Error("the description does not state the roles")
				}
			}

			onExisting := strings.Contains(o.Path, "{id}")
			headersOf := func(status string) map[string]any { return obj(doc.deref(responses[status])["headers"]) }
			// Admin operations and the sync batch are not commands on one
			// aggregate: they have no revision to put in an ETag, and a sync
			// batch carries its idempotency keys per item.
			command := !strings.HasPrefix(o.Path, "/v1/admin/") && o.Path != "/v1/sync"
			switch {
			case o.Method == http.MethodPost && command:
				if !doc.hasParameter(o.Op, "header", "Idempotency-Key") {
					t.Error("POST without the Idempotency-Key parameter")
				}
				if onExisting && !doc.hasParameter(o.Op, "header", "If-Match") {
					t.Error("transition without the If-Match parameter")
				}
				if doc.requestSchema(o.Op) == nil {
					t.Error("POST without an application/json request body")
				}
				for _, status := range []string{"200", "201"} {
					if _, ok := responses[status]; ok {
						if _, ok := headersOf(status)["ETag"]; !ok {
							t.Errorf("%s without an ETag header", status)
						}
						if _, ok := headersOf(status)["Idempotent-Replayed"]; !ok {
							t.Errorf("%s without an Idempotent-Replayed header", status)
						}
					}
				}
				// Creates of addressable aggregates say where they are.
				if _, ok := responses["201"]; ok && !onExisting && o.Path != "/v1/users" {
					if _, ok := headersOf("201")["Location"]; !ok {
						t.Error("create without a Location header")
					}
				}
				for _, status := range []string{"400", "413", "415", "422"} {
					if _, ok := responses[status]; !ok {
						t.Errorf("POST without a %s response", status)
					}
				}
				if _, ok := responses["412"]; onExisting && !ok {
					t.Error("transition without a 412 response")
				}
			case o.Method == http.MethodGet:
				if _, ok := responses["400"]; !ok && slices.ContainsFunc(doc.parameters(o.Op), func(p map[string]any) bool { return p["in"] == "query" }) {
					t.Error("GET with query parameters without a 400 response")
				}
				if onExisting {
					if _, ok := headersOf("200")["ETag"]; !ok {
						t.Error("aggregate read without an ETag header")
					}
					if _, ok := responses["404"]; !ok {
						t.Error("aggregate read without a 404 response")
					}
				}
			}
			for status, rv := range responses {
				if _, ok := headersOf(status)["X-Request-ID"]; !ok {
					t.Errorf("%s without an X-Request-ID header", status)
				}
				if !strings.HasPrefix(status, "4") && !strings.HasPrefix(status, "5") {
					continue
				}
				sch := obj(obj(obj(doc.deref(rv)["content"])["application/problem+json"])["schema"])
				if !strings.Contains(fmt.Sprint(sch), "#/components/schemas/Problem") {
					t.Errorf("%s is not an application/problem+json Problem", status)
				}
			}
		})
	}
}

// TestOpenAPIProblemCodes checks that the document lists exactly the error
// codes of the code→status table, and that every error response names only
// codes of its status.
func TestOpenAPIProblemCodes(t *testing.T) {
	doc := parseDoc(t, api.OpenAPI())
	schemas := obj(obj(doc.root["components"])["schemas"])
	problem := obj(schemas["Problem"])
	for _, f := range []string{"type", "title", "status", "code", "detail", "field", "instance"} {
		if _, ok := obj(problem["properties"])[f]; !ok {
			t.Errorf("Problem lacks %q", f)
		}
	}
	documented := strs(doc.schema(obj(problem["properties"])["code"])["enum"])
	var table []string
	for c := range api.StatusOf {
		table = append(table, string(c))
	}
	sort.Strings(table)
	for _, c := range table {
		if !slices.Contains(documented, c) {
			t.Errorf("code %q of the code→status table is not in the Problem code enum", c)
		}
	}
	for _, c := range documented {
		if _, ok := api.StatusOf[domain.Code(c)]; !ok {
			t.Errorf("Problem code %q is not in the code→status table", c)
		}
	}

	inResponses := map[string]bool{}
	for name, rv := range obj(obj(doc.root["components"])["responses"]) {
		sch := obj(obj(obj(obj(rv)["content"])["application/problem+json"])["schema"])
		if sch == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var status float64
			var codes []string
			for _, part := range arr(sch["allOf"]) {
				props := obj(obj(part)["properties"])
				if s, ok := obj(props["status"])["const"].(float64); ok {
					status = s
				}
				codes = append(codes, strs(obj(props["code"])["enum"])...)
			}
			if status == 0 || len(codes) == 0 {
				t.Fatalf("does not pin its status and codes: %v", sch)
			}
			for _, c := range codes {
				inResponses[c] = true
				if got, ok := api.StatusOf[domain.Code(c)]; !ok || float64(got) != status {
					t.Errorf("lists code %q under status %v; the server answers it with %d", c, status, got)
				}
			}
		})
	}
	for _, c := range table {
		if !inResponses[c] {
			t.Errorf("no shared error response lists code %q", c)
		}
	}
}

// TestOpenAPIEnums checks the documented vocabularies against the domain's.
func TestOpenAPIEnums(t *testing.T) {
	doc := parseDoc(t, api.OpenAPI())
	schemas := obj(obj(doc.root["components"])["schemas"])
	for _, tc := range []struct {
		schema string
		want   []string
	}{
		{"Role", domain.Roles},
		{"ActionCategory", domain.Categories},
		{"ActionKind", domain.ActionKinds},
		{"VisitKind", domain.VisitKinds},
		{"Need", domain.Needs},
		{"ReferralKind", domain.ReferralKinds},
		{"Channel", domain.Channels},
		{"Outcome", domain.Outcomes},
		{"FeedbackType", domain.FeedbackTypes},
		{"CommunityStatus", []string{domain.StatusRegistered, domain.StatusTriggered, domain.StatusUnderFollowUp}},
		{"ActionPointStatus", []string{domain.StatusOpen, domain.StatusInProgress, domain.StatusAchieved, domain.StatusDropped}},
		{"ReferralStatus", []string{domain.StatusRaised, domain.StatusAcknowledged, domain.StatusCompleted, domain.StatusClosed, domain.StatusCancelled}},
		{"FeedbackStatus", []string{domain.StatusReceived, domain.StatusReferred, domain.StatusAnswered, domain.StatusLoopClosed}},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			got := strs(obj(schemas[tc.schema])["enum"])
			if !slices.Equal(got, tc.want) {
				t.Errorf("enum = %v, want %v (domain/values.go)", got, tc.want)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Request bodies against the server's body structs

// concretePath fills a path template's variables with an example id.
func concretePath(tpl string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(tpl, "KEN-0042")
}

// checkBodySchema checks a request body schema: closed objects, every
// property typed, times and dates formatted.
func checkBodySchema(t *testing.T, doc *oaDoc, s map[string]any, at string) {
	t.Helper()
	s = doc.schema(s)
	if s["type"] != "object" {
		t.Errorf("%s: type %v, want object", at, s["type"])
		return
	}
	if s["additionalProperties"] != false {
		t.Errorf("%s: additionalProperties must be false (the server refuses unknown fields)", at)
	}
	props := obj(s["properties"])
	if _, ok := props["occurred_at"]; !ok && at == "body" {
		t.Errorf("%s: no occurred_at", at)
	}
	for _, r := range strs(s["required"]) {
		if _, ok := props[r]; !ok {
			t.Errorf("%s: requires %q, which is not a property", at, r)
		}
	}
	for name, pv := range props {
		p := doc.schema(pv)
		where := at + "." + name
		typ, _ := p["type"].(string)
		if typ == "" {
			t.Errorf("%s: no type", where)
			continue
		}
		switch {
		case name == "due_date" && p["format"] != "date":
			t.Errorf("%s: format %v, want date", where, p["format"])
		case (strings.HasSuffix(name, "_at") || name == "symptom_onset") && p["format"] != "date-time":
			t.Errorf("%s: format %v, want date-time", where, p["format"])
		}
		switch typ {
		case "object":
			checkBodySchema(t, doc, p, where)
		case "array":
			if items := doc.schema(p["items"]); items["type"] == "object" {
				checkBodySchema(t, doc, items, where+"[]")
			} else if items["type"] == nil {
				t.Errorf("%s[]: no type", where)
			}
		}
	}
}

// TestOpenAPIRequestBodiesMatchServer sends, for every documented POST, a
// body with every documented property — the server must not refuse any of
// them as unknown or mistyped — and a body with one undocumented property,
// which it must refuse naming it.
func TestOpenAPIRequestBodiesMatchServer(t *testing.T) {
	e := newEnv(t)
	for _, o := range e.doc.operations() {
		sch := e.doc.requestSchema(o.Op)
		if sch == nil {
			continue
		}
		t.Run(o.String(), func(t *testing.T) {
			checkBodySchema(t, e.doc, sch, "body")
			full, _ := e.doc.example(sch).(map[string]any)
			if errs := e.doc.validate(full, sch, "body"); len(errs) > 0 {
				t.Errorf("the example body %v does not validate against its own schema: %v", full, errs)
			}
			path := concretePath(o.Path)
			documented := slices.Collect(maps.Keys(obj(e.doc.schema(sch)["properties"])))

			t.Run("every documented property", func(t *testing.T) {
				r := e.do(t, call{method: o.Method, path: path, token: adminToken, body: full})
				if r.status == http.StatusBadRequest {
					if slices.Contains(documented, r.problem.Field) && r.problem.Detail == "is not a field of this request" {
						t.Errorf("documented property %q is not a field of the server's body", r.problem.Field)
					} else {
						t.Errorf("the server refused the documented example body %v: field %q: %s", full, r.problem.Field, r.problem.Detail)
					}
				}
				t.Logf("answered %d %s", r.status, r.problem.Code)
			})

			t.Run("an undocumented property", func(t *testing.T) {
				body := maps.Clone(full)
				body["zzz"] = 1
				r := e.do(t, call{method: o.Method, path: path, token: adminToken, body: body})
				if r.status != http.StatusBadRequest || r.problem.Field != "zzz" || r.problem.Code != string(domain.CodeInvalid) {
					t.Errorf("got %d field %q code %q (%s), want 400 invalid_input naming zzz", r.status, r.problem.Field, r.problem.Code, r.problem.Detail)
				}
			})

			// Objects nested in lists are closed too.
			for name, pv := range obj(e.doc.schema(sch)["properties"]) {
				p := e.doc.schema(pv)
				if p["type"] != "array" || e.doc.schema(p["items"])["type"] != "object" {
					continue
				}
				t.Run("an undocumented property in "+name, func(t *testing.T) {
					item := maps.Clone(e.doc.example(p["items"]).(map[string]any))
					item["zzz"] = 1
					body := maps.Clone(full)
					body[name] = []any{item}
					r := e.do(t, call{method: o.Method, path: path, token: adminToken, body: body})
					if r.status != http.StatusBadRequest || !strings.HasSuffix(r.problem.Field, "zzz") {
						t.Errorf("got %d field %q (%s), want 400 naming zzz", r.status, r.problem.Field, r.problem.Detail)
					}
				})
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Security and roles against the server

// TestOpenAPISecurityMatchesServer calls every operation without a token:
// documented-secured operations must answer 401, public ones must answer.
func TestOpenAPISecurityMatchesServer(t *testing.T) {
	e := newEnv(t)
	for _, o := range e.doc.operations() {
		t.Run(o.String(), func(t *testing.T) {
			var body any
			if sch := e.doc.requestSchema(o.Op); sch != nil {
				body = e.doc.example(sch)
			}
			r := e.do(t, call{method: o.Method, path: concretePath(o.Path), body: body})
			if secured := len(e.doc.security(o.Op)) > 0; secured {
				if r.status != http.StatusUnauthorized || r.problem.Code != string(domain.CodeUnauthenticated) {
					t.Errorf("without a token: %d %q, want 401 unauthenticated", r.status, r.problem.Code)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				r = e.do(t, call{method: o.Method, path: concretePath(o.Path), token: "not-a-token", body: body})
				if r.status != http.StatusUnauthorized {
					t.Errorf("with an invalid token: %d, want 401", r.status)
				}
			} else if r.status/100 != 2 {
				t.Errorf("without a token: %d %s, want 2xx", r.status, r.body)
			}
		})
	}
}

// TestOpenAPIRolesMatchServer calls every authenticated operation as every
// role with the documented example: a role in x-roles must get past the
// role check, any other must be refused with 403. The example places lie in
// the mobilizer's district, so area checks do not interfere.
func TestOpenAPIRolesMatchServer(t *testing.T) {
	e := newEnv(t)
	tokens := e.users(t)
	for _, o := range e.doc.operations() {
		if len(e.doc.security(o.Op)) == 0 {
			continue
		}
		allowed := strs(o.Op["x-roles"])
		var body any
		if sch := e.doc.requestSchema(o.Op); sch != nil {
			body = e.doc.example(sch)
		}
		for _, role := range roles {
			t.Run(o.String()+"/"+role, func(t *testing.T) {
				r := e.do(t, call{method: o.Method, path: concretePath(o.Path), token: tokens[role], body: body})
				switch in := slices.Contains(allowed, role); {
				case in && r.status == http.StatusForbidden:
					t.Errorf("x-roles allows %s but the server refused: %s", role, r.problem.Detail)
				case !in && r.status != http.StatusForbidden:
					t.Errorf("x-roles %v excludes %s but the server answered %d %s", allowed, role, r.status, r.body)
				}
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Responses along every lifecycle

type step struct {
	name   string
	role   string
	method string
	path   string
	body   any
	header map[string]string
	want   int
	check  func(t *testing.T, r reply)
}

func header(name, want string) func(t *testing.T, r reply) {
	return func(t *testing.T, r reply) {
		t.Helper()
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func field(name string) func(t *testing.T, r reply) {
	return func(t *testing.T, r reply) {
		t.Helper()
		if r.problem.Field != name {
			t.Errorf("problem field = %q, want %q (%s)", r.problem.Field, name, r.problem.Detail)
		}
	}
}

func status(want string) func(t *testing.T, r reply) {
	return func(t *testing.T, r reply) {
		t.Helper()
		var v struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil || v.Status != want {
			t.Errorf("status = %q, want %q (%s)", v.Status, want, r.body)
		}
	}
}

// TestOpenAPIDescribesResponses walks every aggregate through its lifecycle
// and the usual refusals; each answer is checked against the document (its
// status, body schema and headers), and each request body the server accepts
// must be valid against the documented request schema.
func TestOpenAPIDescribesResponses(t *testing.T) {
	e := newEnv(t)
	tokens := e.users(t)
	ids := e.userIDs(t)
	const onset, occurred = "2015-02-12T08:00:00Z", "2015-02-14T09:30:00Z"
	visit := map[string]any{"kind": "follow_up", "trust_rating": 4, "concerns": []any{map[string]any{"need": "basic", "text": "No soap"}}}
	steps := []step{
		{name: "liveness", method: "GET", path: "/healthz", want: 200},
		{name: "readiness", method: "GET", path: "/readyz", want: 200},
		{name: "metrics", method: "GET", path: "/metrics", want: 200},
		{name: "document", method: "GET", path: "/v1/openapi.json", want: 200},

		{name: "register a community", role: "coordinator", method: "POST", path: "/v1/communities",
			body: map[string]any{"id": "KEN-1", "name": "Kpandebu", "district": "Kailahun", "chiefdom": "Luawa", "section": "3", "population": 1200,
				"occurred_at": "2015-02-01T09:00:00Z"},
			want: 201, check: header("Location", "/v1/communities/KEN-1")},
		{name: "register it again", role: "coordinator", method: "POST", path: "/v1/communities",
			body: map[string]any{"id": "KEN-1", "name": "Kpandebu", "district": "Kailahun", "chiefdom": "Luawa"}, want: 409},
		{name: "register as a mobilizer, in their own area", role: "mobilizer", method: "POST", path: "/v1/communities",
			body: map[string]any{"name": "X", "district": "Kailahun", "chiefdom": "Luawa"}, want: 201},
		{name: "register as a mobilizer, in another area", role: "mobilizer", method: "POST", path: "/v1/communities",
			body: map[string]any{"name": "X", "district": "Kenema", "chiefdom": "Nongowa"}, want: 403},
		{name: "register without a name", role: "admin", method: "POST", path: "/v1/communities",
			body: map[string]any{"district": "Kailahun", "chiefdom": "Luawa"}, want: 400, check: field("name")},
		{name: "read the community", role: "mobilizer", method: "GET", path: "/v1/communities/KEN-1", want: 200,
			check: func(t *testing.T, r reply) { header("ETag", `"1"`)(t, r); status("registered")(t, r) }},
		{name: "read an unknown community", role: "auditor", method: "GET", path: "/v1/communities/NOPE", want: 404},
		{name: "visit before triggering", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits", body: visit, want: 409},
		{name: "trigger", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/triggering",
			body: map[string]any{"attendance": 85, "occurred_at": occurred}, header: map[string]string{"If-Match": `"1"`},
			want: 200, check: header("ETag", `"2"`)},
		{name: "trigger again", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/triggering", body: map[string]any{"attendance": 85}, want: 409},
		{name: "visit with a stale If-Match", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: visit, header: map[string]string{"If-Match": `"1"`}, want: 412},
		{name: "visit with a malformed If-Match", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: visit, header: map[string]string{"If-Match": "latest"}, want: 400, check: field("If-Match")},
		{name: "visit", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: visit, header: map[string]string{"Idempotency-Key": "visit-1", "X-Request-ID": "req-visit-1"}, want: 201,
			check: func(t *testing.T, r reply) { header("ETag", `"3"`)(t, r); header("X-Request-ID", "req-visit-1")(t, r) }},
		{name: "visit replayed", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: visit, header: map[string]string{"Idempotency-Key": "visit-1"}, want: 201,
			check: func(t *testing.T, r reply) { header("Idempotent-Replayed", "true")(t, r); header("ETag", `"3"`)(t, r) }},
		{name: "visit key reused", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: map[string]any{"kind": "follow_up", "trust_rating": 2}, header: map[string]string{"Idempotency-Key": "visit-1"}, want: 422},
		{name: "visit with a malformed key", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: visit, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 201)}, want: 400, check: field("Idempotency-Key")},
		{name: "visit rated 9", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: map[string]any{"kind": "follow_up", "trust_rating": 9}, want: 400, check: field("trust_rating")},
		{name: "visit as XML", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: "<visit/>", header: map[string]string{"Content-Type": "application/xml"}, want: 415},
		{name: "visit too large", role: "mobilizer", method: "POST", path: "/v1/communities/KEN-1/visits",
			body: `{"kind":"` + strings.Repeat("x", 300<<10) + `"}`, want: 413},
		{name: "visit as an auditor", role: "auditor", method: "POST", path: "/v1/communities/KEN-1/visits", body: visit, want: 403},
		{name: "read the visited community", role: "coordinator", method: "GET", path: "/v1/communities/KEN-1", want: 200, check: status("under_follow_up")},

		{name: "raise an action point", role: "mobilizer", method: "POST", path: "/v1/action-points",
			body: map[string]any{"id": "AP-1", "community_id": "KEN-1", "title": "Hand-washing station", "category": "hygiene", "kind": "one_off", "due_date": "2015-03-01", "occurred_at": occurred},
			want: 201, check: header("Location", "/v1/action-points/AP-1")},
		{name: "raise for an unknown community", role: "mobilizer", method: "POST", path: "/v1/action-points",
			body: map[string]any{"community_id": "NOPE", "title": "T", "category": "hygiene", "kind": "continuous"}, want: 404, check: field("community_id")},
		{name: "raise a one-off without a due date", role: "mobilizer", method: "POST", path: "/v1/action-points",
			body: map[string]any{"community_id": "KEN-1", "title": "T", "category": "hygiene", "kind": "one_off"}, want: 400, check: field("due_date")},
		{name: "raise a continuous duty", role: "mobilizer", method: "POST", path: "/v1/action-points",
			body: map[string]any{"community_id": "KEN-1", "title": "Watch for visitors", "category": "surveillance", "kind": "continuous"}, want: 201},
		{name: "read the action point", role: "auditor", method: "GET", path: "/v1/action-points/AP-1", want: 200, check: status("open")},
		{name: "achieve before starting", role: "mobilizer", method: "POST", path: "/v1/action-points/AP-1/achieve", want: 409},
		{name: "start", role: "mobilizer", method: "POST", path: "/v1/action-points/AP-1/start", body: map[string]any{"note": "Materials collected"},
			header: map[string]string{"If-Match": `"1"`}, want: 200},
		{name: "note progress", role: "mobilizer", method: "POST", path: "/v1/action-points/AP-1/progress", body: map[string]any{"note": "Built"}, want: 200},
		{name: "note progress without a note", role: "mobilizer", method: "POST", path: "/v1/action-points/AP-1/progress", body: map[string]any{}, want: 400, check: field("note")},
		{name: "achieve", role: "mobilizer", method: "POST", path: "/v1/action-points/AP-1/achieve", body: map[string]any{"evidence": "Seen in use"}, want: 200},
		{name: "reopen", role: "coordinator", method: "POST", path: "/v1/action-points/AP-1/reopen", body: map[string]any{"reason": "Broken"}, want: 200},
		{name: "drop", role: "coordinator", method: "POST", path: "/v1/action-points/AP-1/drop", body: map[string]any{"reason": "Replaced"}, want: 200},
		{name: "read the dropped action point", role: "mobilizer", method: "GET", path: "/v1/action-points/AP-1", want: 200, check: status("dropped")},
		{name: "start an unknown action point", role: "mobilizer", method: "POST", path: "/v1/action-points/NOPE/start", want: 404},

		{name: "raise a referral", role: "mobilizer", method: "POST", path: "/v1/referrals",
			body: map[string]any{"id": "REF-1", "community_id": "KEN-1", "kind": "suspected_case", "channel": "hotline_117", "person_ref": "P-2291", "symptom_onset": onset, "occurred_at": occurred},
			want: 201, check: header("Location", "/v1/referrals/REF-1")},
		{name: "raise a suspected case without onset", role: "mobilizer", method: "POST", path: "/v1/referrals",
			body: map[string]any{"community_id": "KEN-1", "kind": "suspected_case"}, want: 400, check: field("symptom_onset")},
		{name: "raise with a name as person_ref", role: "mobilizer", method: "POST", path: "/v1/referrals",
			body: map[string]any{"community_id": "KEN-1", "kind": "other", "person_ref": "Fatmata Kamara"}, want: 400, check: field("person_ref")},
		{name: "acknowledge with an empty body", role: "coordinator", method: "POST", path: "/v1/referrals/REF-1/acknowledge", want: 200},
		{name: "complete", role: "mobilizer", method: "POST", path: "/v1/referrals/REF-1/complete",
			body: map[string]any{"arrived_at": "2015-02-14T11:00:00Z", "outcome": "admitted"}, want: 200},
		{name: "close", role: "coordinator", method: "POST", path: "/v1/referrals/REF-1/close", body: map[string]any{}, want: 200},
		{name: "cancel a closed referral", role: "coordinator", method: "POST", path: "/v1/referrals/REF-1/cancel", body: map[string]any{"reason": "x"}, want: 409},
		{name: "read the closed referral", role: "auditor", method: "GET", path: "/v1/referrals/REF-1", want: 200, check: status("closed")},
		{name: "raise a death alert", role: "mobilizer", method: "POST", path: "/v1/referrals",
			body: map[string]any{"id": "REF-2", "community_id": "KEN-1", "kind": "death_alert"}, want: 201},
		{name: "cancel", role: "coordinator", method: "POST", path: "/v1/referrals/REF-2/cancel", body: map[string]any{"reason": "False alarm"}, want: 200},
		{name: "read the cancelled referral", role: "coordinator", method: "GET", path: "/v1/referrals/REF-2", want: 200, check: status("cancelled")},

		{name: "receive feedback", role: "mobilizer", method: "POST", path: "/v1/feedback",
			body: map[string]any{"id": "FB-1", "community_id": "KEN-1", "type": "rumour", "text": "They sell blood", "need_category": "respect", "channel": "mobilizer",
				"occurred_at": "2015-02-14T09:30:00Z"},
			want: 201, check: header("Location", "/v1/feedback/FB-1")},
		{name: "receive feedback of an unknown type", role: "mobilizer", method: "POST", path: "/v1/feedback",
			body: map[string]any{"community_id": "KEN-1", "type": "gossip", "text": "t"}, want: 400, check: field("type")},
		{name: "answer before referring", role: "coordinator", method: "POST", path: "/v1/feedback/FB-1/answer", body: map[string]any{"response": "r"}, want: 409},
		{name: "refer", role: "coordinator", method: "POST", path: "/v1/feedback/FB-1/refer", body: map[string]any{"to": "District health team"}, want: 200},
		{name: "answer", role: "coordinator", method: "POST", path: "/v1/feedback/FB-1/answer", body: map[string]any{"response": "Samples are for testing"}, want: 200},
		{name: "close the loop without satisfied", role: "mobilizer", method: "POST", path: "/v1/feedback/FB-1/close-loop", body: map[string]any{}, want: 400, check: field("satisfied")},
		{name: "close the loop", role: "mobilizer", method: "POST", path: "/v1/feedback/FB-1/close-loop",
			body: map[string]any{"communicated_at": "2015-02-20T10:00:00Z", "satisfied": true}, want: 200},
		{name: "read the closed loop", role: "mobilizer", method: "GET", path: "/v1/feedback/FB-1", want: 200, check: status("loop_closed")},
		{name: "read unknown feedback", role: "mobilizer", method: "GET", path: "/v1/feedback/NOPE", want: 404},

		{name: "create a user as a coordinator", role: "coordinator", method: "POST", path: "/v1/users",
			body: map[string]any{"name": "N", "role": "auditor"}, want: 403},
		{name: "create a mobilizer without a district", role: "admin", method: "POST", path: "/v1/users",
			body: map[string]any{"name": "N", "role": "mobilizer"}, want: 400, check: field("district")},
		{name: "create a user", role: "admin", method: "POST", path: "/v1/users",
			body: map[string]any{"name": "N", "role": "coordinator", "district": "Kailahun", "chiefdom": "Luawa"}, want: 201,
			check: header("Cache-Control", "no-store")},
		{name: "list users", role: "admin", method: "GET", path: "/v1/users?role=mobilizer&active=true&limit=10", want: 200,
			check: header("Cache-Control", "no-store")},
		{name: "list users as a mobilizer", role: "mobilizer", method: "GET", path: "/v1/users", want: 403},
		{name: "a new token for the mobilizer", role: "coordinator", method: "POST", path: "/v1/users/" + ids[domain.RoleMobilizer] + "/token",
			body: map[string]any{}, want: 200, check: header("Cache-Control", "no-store")},
		{name: "the mobilizer's old token", role: "mobilizer", method: "GET", path: "/v1/feedback/FB-1", want: 401, check: code("unauthenticated")},
		{name: "deactivate without a reason", role: "admin", method: "POST", path: "/v1/users/" + ids[domain.RoleCoordinator] + "/deactivate",
			body: map[string]any{"wipe": true}, want: 400, check: field("reason")},
		{name: "deactivate a coordinator as a coordinator", role: "coordinator", method: "POST", path: "/v1/users/" + ids[domain.RoleCoordinator] + "/deactivate",
			body: map[string]any{"reason": "r"}, want: 403},
		{name: "deactivate an unknown user", role: "admin", method: "POST", path: "/v1/users/NOPE/deactivate", body: map[string]any{"reason": "r"}, want: 404},
		{name: "deactivate", role: "admin", method: "POST", path: "/v1/users/" + ids[domain.RoleCoordinator] + "/deactivate",
			body: map[string]any{"reason": "Left the programme", "wipe": true}, want: 200},
		{name: "deactivate twice", role: "admin", method: "POST", path: "/v1/users/" + ids[domain.RoleCoordinator] + "/deactivate",
			body: map[string]any{"reason": "Left the programme"}, want: 409},
		{name: "the deactivated user's token", role: "coordinator", method: "GET", path: "/v1/feedback/FB-1", want: 401, check: code("user_deactivated")},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.do(t, call{method: s.method, path: s.path, token: tokens[s.role], body: s.body, header: s.header})
			if r.status != s.want {
				t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, r.status, r.body, s.want)
			}
			if s.check != nil {
				s.check(t, r)
			}
			// What the server accepts, the document must accept.
			if body, ok := s.body.(map[string]any); ok && r.status/100 == 2 {
				tpl, _ := e.doc.template(s.path)
				op, _ := e.doc.operation(s.method, tpl)
				var v any
				raw, _ := json.Marshal(body)
				_ = json.Unmarshal(raw, &v)
				for _, msg := range e.doc.validate(v, e.doc.requestSchema(op), "body") {
					t.Errorf("the server accepted a body the document refuses: %s", msg)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Query parameters against the server

// offSchema returns a query value the parameter's schema refuses, when the
// schema constrains the value (an enum, a type other than a free string, a
// pattern or a format); ok is false for a free string.
func offSchema(d *oaDoc, v any) (vals []string, ok bool) {
	s := d.schema(v)
	if len(arr(s["enum"])) > 0 {
		return []string{"zzz"}, true
	}
	switch s["type"] {
	case "integer", "number":
		vals = []string{"x"}
		if min, ok := s["minimum"].(float64); ok {
			vals = append(vals, strconv.FormatFloat(min-1, 'f', -1, 64))
		}
		if max, ok := s["maximum"].(float64); ok {
			vals = append(vals, strconv.FormatFloat(max+1, 'f', -1, 64))
		}
		return vals, true
	case "boolean":
		return []string{"maybe"}, true
	}
	if _, ok := s["pattern"]; ok {
		return []string{"!!"}, true
	}
	if _, ok := s["format"]; ok || len(arr(s["anyOf"])) > 0 {
		return []string{"yesterday"}, true
	}
	return nil, false
}

// TestOpenAPIQueryParametersMatchServer sends, for every documented operation
// with query parameters, every documented parameter with its example — the
// server must answer it — then one parameter the document does not list,
// which the server must refuse naming it, and each constrained parameter with
// a value off its schema, which it must refuse naming that parameter. The
// caller is the operation's first role and the example places lie in the
// mobilizer's district, so area checks do not interfere.
func TestOpenAPIQueryParametersMatchServer(t *testing.T) {
	e := newEnv(t)
	tokens := e.users(t)
	if r := e.do(t, call{method: http.MethodPost, path: "/v1/communities", token: adminToken,
		body: map[string]any{"id": "KEN-0042", "name": "Kpandebu", "district": "Kailahun", "chiefdom": "Luawa"}}); r.status != http.StatusCreated {
		t.Fatalf("registering the example community: %d %s", r.status, r.body)
	}
	// The list routes look the example community up in the read models.
	settle(t, e.store, e.read)
	tested := 0
	for _, o := range e.doc.operations() {
		var query []map[string]any
		for _, p := range e.doc.parameters(o.Op) {
			if p["in"] == "query" {
				query = append(query, p)
			}
		}
		if len(query) == 0 {
			continue
		}
		tested++
		opRoles := strs(o.Op["x-roles"])
		if len(opRoles) == 0 {
			t.Errorf("%s: query parameters on an operation without x-roles", o)
			continue
		}
		token := tokens[opRoles[0]]
		path := concretePath(o.Path)
		t.Run(o.String(), func(t *testing.T) {
			t.Run("every documented parameter", func(t *testing.T) {
				q := url.Values{}
				for _, p := range query {
					q.Set(p["name"].(string), fmt.Sprint(e.doc.example(p["schema"])))
				}
				r := e.do(t, call{method: o.Method, path: path + "?" + q.Encode(), token: token})
				if r.status/100 != 2 {
					t.Errorf("the server refused the documented example query %s: %d field %q: %s", q.Encode(), r.status, r.problem.Field, r.problem.Detail)
				}
			})
			t.Run("an undocumented parameter", func(t *testing.T) {
				r := e.do(t, call{method: o.Method, path: path + "?zzz=1", token: token})
				if r.status != http.StatusBadRequest || r.problem.Field != "zzz" || r.problem.Code != string(domain.CodeInvalid) {
					t.Errorf("got %d field %q code %q (%s), want 400 invalid_input naming zzz", r.status, r.problem.Field, r.problem.Code, r.problem.Detail)
				}
			})
			for _, p := range query {
				name := p["name"].(string)
				vals, ok := offSchema(e.doc, p["schema"])
				if !ok {
					continue
				}
				for _, v := range vals {
					t.Run(name+"="+v, func(t *testing.T) {
						r := e.do(t, call{method: o.Method, path: path + "?" + url.Values{name: {v}}.Encode(), token: token})
						if r.status != http.StatusBadRequest || r.problem.Field != name {
							t.Errorf("got %d field %q (%s), want 400 naming %s", r.status, r.problem.Field, r.problem.Detail, name)
						}
					})
				}
			}
		})
	}
	if tested == 0 {
		t.Fatal("no documented operation has query parameters")
	}
}

// ---------------------------------------------------------------------------
// The read side, populated

// TestOpenAPIDescribesReads fills the log through the write routes, then
// reads every indicator, the follow-up list and the admin routes, with their
// filters and refusals; each answer is checked against the document.
func TestOpenAPIDescribesReads(t *testing.T) {
	e := newEnv(t)
	tokens := e.users(t)
	var pos uint64
	write := func(role, path string, body map[string]any) {
		t.Helper()
		r := e.do(t, call{method: http.MethodPost, path: path, token: tokens[role], body: body})
		if r.status/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, r.status, r.body)
		}
		pos = uint64(r.json(t)["position"].(float64))
	}
	write("coordinator", "/v1/communities", map[string]any{"id": "KEN-1", "name": "Kpandebu", "district": "Kailahun", "chiefdom": "Luawa",
		"occurred_at": "2015-02-01T09:00:00Z"})
	write("mobilizer", "/v1/communities/KEN-1/triggering", map[string]any{"attendance": 85, "occurred_at": "2015-02-10T10:00:00Z"})
	write("mobilizer", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 4, "occurred_at": "2015-02-14T09:30:00Z",
		"concerns": []map[string]any{{"need": "basic", "text": "Food for quarantined homes"}, {"need": "security", "text": "Night patrols"}}})
	write("mobilizer", "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 2, "occurred_at": "2015-02-21T09:30:00Z"})
	write("mobilizer", "/v1/action-points", map[string]any{"id": "AP-1", "community_id": "KEN-1", "title": "Hand-washing station", "category": "hygiene", "kind": "one_off", "due_date": "2015-03-01", "occurred_at": "2015-02-14T09:30:00Z"})
	write("mobilizer", "/v1/action-points", map[string]any{"id": "AP-2", "community_id": "KEN-1", "title": "Watch for visitors", "category": "surveillance", "kind": "continuous", "occurred_at": "2015-02-14T09:30:00Z"})
	write("mobilizer", "/v1/action-points/AP-2/start", map[string]any{"occurred_at": "2015-02-15T09:30:00Z"})
	write("mobilizer", "/v1/action-points", map[string]any{"id": "AP-3", "community_id": "KEN-1", "title": "Isolation hut", "category": "isolation", "kind": "one_off", "due_date": "2015-03-01", "occurred_at": "2015-02-20T09:30:00Z"})
	write("mobilizer", "/v1/action-points/AP-3/start", map[string]any{"occurred_at": "2015-02-21T09:30:00Z"})
	write("mobilizer", "/v1/action-points/AP-3/achieve", map[string]any{"evidence": "Built", "occurred_at": "2015-02-27T09:30:00Z"})
	write("mobilizer", "/v1/referrals", map[string]any{"id": "REF-1", "community_id": "KEN-1", "kind": "suspected_case", "symptom_onset": "2015-02-12T08:00:00Z", "occurred_at": "2015-02-12T20:00:00Z"})
	write("coordinator", "/v1/referrals/REF-1/acknowledge", map[string]any{})
	write("mobilizer", "/v1/referrals/REF-1/complete", map[string]any{"arrived_at": "2015-02-13T02:00:00Z", "outcome": "admitted"})
	write("mobilizer", "/v1/referrals", map[string]any{"id": "REF-2", "community_id": "KEN-1", "kind": "death_alert", "occurred_at": "2015-02-16T07:00:00Z"})
	write("coordinator", "/v1/referrals/REF-2/acknowledge", map[string]any{})
	write("mobilizer", "/v1/referrals/REF-2/complete", map[string]any{"arrived_at": "2015-02-16T19:00:00Z", "outcome": "safe_burial"})
	write("mobilizer", "/v1/feedback", map[string]any{"id": "FB-1", "community_id": "KEN-1", "type": "rumour", "text": "They sell blood", "need_category": "respect", "occurred_at": "2015-02-14T09:30:00Z"})
	write("coordinator", "/v1/feedback/FB-1/refer", map[string]any{"to": "District health team"})
	write("coordinator", "/v1/feedback/FB-1/answer", map[string]any{"response": "Samples are for testing"})
	write("mobilizer", "/v1/feedback/FB-1/close-loop", map[string]any{"communicated_at": "2015-02-20T10:00:00Z", "satisfied": true})
	write("mobilizer", "/v1/feedback", map[string]any{"id": "FB-2", "community_id": "KEN-1", "type": "question", "text": "When is the market open?", "occurred_at": "2015-02-17T09:30:00Z"})

	at := "min_position=" + strconv.FormatUint(pos, 10)
	num := func(name string, want float64) func(t *testing.T, r reply) {
		return func(t *testing.T, r reply) {
			t.Helper()
			if got, _ := r.json(t)[name].(float64); got != want {
				t.Errorf("%s = %v, want %v (%s)", name, got, want, r.body)
			}
		}
	}
	length := func(name string, want int) func(t *testing.T, r reply) {
		return func(t *testing.T, r reply) {
			t.Helper()
			if got := len(arr(r.json(t)[name])); got != want {
				t.Errorf("len(%s) = %d, want %d (%s)", name, got, want, r.body)
			}
		}
	}
	both := func(checks ...func(t *testing.T, r reply)) func(t *testing.T, r reply) {
		return func(t *testing.T, r reply) {
			t.Helper()
			for _, c := range checks {
				c(t, r)
			}
		}
	}
	steps := []step{
		{name: "completion with its series", role: "coordinator", method: "GET", path: "/v1/stats/completion?interval=week&" + at, want: 200,
			check: both(num("total", 3), num("achieved", 1), num("in_progress", 1), num("overdue", 1), func(t *testing.T, r reply) {
				if len(arr(r.json(t)["series"])) == 0 || len(obj(r.json(t)["by_category"])) != 3 {
					t.Errorf("want a series and three categories: %s", r.body)
				}
			})},
		{name: "completion of a category and a period", role: "auditor", method: "GET",
			path: "/v1/stats/completion?district=kailahun&chiefdom=Luawa&category=hygiene&from=2015-02-01&to=2015-03-01T00:00:00Z&" + at, want: 200,
			check: both(num("total", 1), num("open", 1))},
		{name: "completion of a community", role: "auditor", method: "GET", path: "/v1/stats/completion?community_id=KEN-1&" + at, want: 200, check: num("total", 3)},
		{name: "trust", role: "auditor", method: "GET", path: "/v1/stats/trust?from=2015-02-09&to=2015-03-02&" + at, want: 200, check: length("series", 3)},
		{name: "trust of a community", role: "coordinator", method: "GET", path: "/v1/stats/trust?community_id=KEN-1&interval=week&" + at, want: 200},
		{name: "referrals", role: "coordinator", method: "GET", path: "/v1/stats/referrals?" + at, want: 200,
			check: both(num("total", 2), num("suspected_within_24h_rate", 1), num("safe_burial_rate", 1), num("hours_to_complete_median", 9))},
		{name: "referrals of a district", role: "auditor", method: "GET", path: "/v1/stats/referrals?district=Kailahun&from=2015-02-13", want: 200, check: num("total", 1)},
		{name: "feedback with its series", role: "coordinator", method: "GET", path: "/v1/stats/feedback?interval=week&" + at, want: 200,
			check: both(num("received", 2), num("loop_closed", 1), num("loop_closure_rate", 0.5), num("satisfied_rate", 1))},
		{name: "feedback of a chiefdom", role: "auditor", method: "GET", path: "/v1/stats/feedback?district=Kailahun&chiefdom=Luawa", want: 200},

		{name: "the follow-up list", role: "mobilizer", method: "GET", path: "/v1/action-points?" + at, want: 200,
			check: both(length("items", 3), func(t *testing.T, r reply) {
				// Places as registered, not as the read model matches them.
				if it := obj(arr(r.json(t)["items"])[0]); it["district"] != "Kailahun" || it["chiefdom"] != "Luawa" {
					t.Errorf("first item's place = %v/%v, want Kailahun/Luawa", it["district"], it["chiefdom"])
				}
			})},
		{name: "the follow-up list in progress", role: "coordinator", method: "GET", path: "/v1/action-points?status=in_progress", want: 200, check: length("items", 1)},
		{name: "the follow-up list overdue", role: "auditor", method: "GET", path: "/v1/action-points?overdue=true&category=hygiene&community_id=KEN-1", want: 200, check: length("items", 1)},
		{name: "the follow-up list as the admin", role: "admin", method: "GET", path: "/v1/action-points?district=Kailahun&chiefdom=Luawa&limit=1000", want: 200, check: length("items", 3)},

		{name: "the poison queue", role: "admin", method: "GET", path: "/v1/admin/poison", want: 200, check: num("count", 0)},
		{name: "rebuild", role: "admin", method: "POST", path: "/v1/admin/projections/rebuild", want: 200, check: func(t *testing.T, r reply) {
			if got, _ := r.json(t)["position"].(float64); uint64(got) < pos {
				t.Errorf("rebuilt to %v, want at least %d", got, pos)
			}
		}},
		{name: "completion after the rebuild", role: "coordinator", method: "GET", path: "/v1/stats/completion", want: 200, check: num("total", 3)},

		{name: "stats as a mobilizer, of their own area", role: "mobilizer", method: "GET", path: "/v1/stats/completion", want: 200, check: num("total", 3)},
		{name: "stats as a mobilizer, of another area", role: "mobilizer", method: "GET", path: "/v1/stats/completion?district=Kenema", want: 403},
		{name: "concerns", role: "coordinator", method: "GET", path: "/v1/stats/concerns?interval=week&" + at, want: 200,
			check: both(num("visits", 2), num("concerns", 2), num("visits_with_concerns", 1), length("series", 2), length("by_place", 1))},
		{name: "concerns of a week", role: "mobilizer", method: "GET", path: "/v1/stats/concerns?community_id=KEN-1&from=2015-02-16&to=2015-02-23", want: 200,
			check: both(num("visits", 1), num("concerns", 0), length("series", 1))},
		{name: "concerns as the admin", role: "admin", method: "GET", path: "/v1/stats/concerns", want: 403},
		{name: "the communities list", role: "auditor", method: "GET", path: "/v1/communities?status=under_follow_up&q=PANDE&" + at, want: 200,
			check: both(length("items", 1), func(t *testing.T, r reply) {
				it := obj(arr(r.json(t)["items"])[0])
				if it["visits"] != 2.0 || it["open_action_points"] != 2.0 || it["last_visit_at"] != "2015-02-21T09:30:00Z" || it["name"] != "Kpandebu" {
					t.Errorf("community row %v, want 2 visits, 2 open action points, last visit 2015-02-21T09:30:00Z", it)
				}
			})},
		{name: "communities not visited for a week", role: "mobilizer", method: "GET", path: "/v1/communities?no_visit_days=7", want: 200, check: length("items", 1)},
		{name: "communities of another status", role: "coordinator", method: "GET", path: "/v1/communities?status=registered", want: 200, check: length("items", 0)},
		{name: "the referrals queue", role: "coordinator", method: "GET", path: "/v1/referrals?older_than_hours=24&" + at, want: 200,
			check: both(length("items", 2), func(t *testing.T, r reply) {
				it := obj(arr(r.json(t)["items"])[0])
				if it["id"] != "REF-1" || it["community_name"] != "Kpandebu" || it["outcome"] != "admitted" || it["status"] != "completed" {
					t.Errorf("first referral %v, want REF-1 (oldest), completed, admitted", it)
				}
			})},
		{name: "the referrals queue by status", role: "mobilizer", method: "GET", path: "/v1/referrals?status=raised&kind=death_alert", want: 200, check: length("items", 0)},
		{name: "the feedback queue", role: "admin", method: "GET", path: "/v1/feedback?loop_closed=false&older_than_days=7&" + at, want: 200,
			check: both(length("items", 1), func(t *testing.T, r reply) {
				if it := obj(arr(r.json(t)["items"])[0]); it["id"] != "FB-2" || it["type"] != "question" {
					t.Errorf("feedback row %v, want FB-2", it)
				}
			})},
		{name: "the feedback queue by type", role: "auditor", method: "GET", path: "/v1/feedback?type=rumour&status=loop_closed", want: 200, check: length("items", 1)},
		{name: "a list outside the caller's area", role: "mobilizer", method: "GET", path: "/v1/referrals?district=Kenema", want: 403},
		{name: "a list cursor that is not one", role: "coordinator", method: "GET", path: "/v1/feedback?cursor=AQE", want: 400, check: field("cursor")},
		{name: "stats as the admin", role: "admin", method: "GET", path: "/v1/stats/trust", want: 403},
		{name: "the list outside the caller's area", role: "mobilizer", method: "GET", path: "/v1/action-points?district=Kenema", want: 403},
		{name: "stats of an unknown community", role: "coordinator", method: "GET", path: "/v1/stats/feedback?community_id=NOPE", want: 404, check: field("community_id")},
		{name: "the list of an unknown community", role: "mobilizer", method: "GET", path: "/v1/action-points?community_id=NOPE", want: 404, check: field("community_id")},
		{name: "category on trust", role: "coordinator", method: "GET", path: "/v1/stats/trust?category=hygiene", want: 400, check: field("category")},
		{name: "from on the list", role: "coordinator", method: "GET", path: "/v1/action-points?from=2015-02-01", want: 400, check: field("from")},
		{name: "to before from", role: "coordinator", method: "GET", path: "/v1/stats/referrals?from=2015-03-01&to=2015-02-01", want: 400, check: field("to")},
		{name: "chiefdom without district", role: "auditor", method: "GET", path: "/v1/stats/completion?chiefdom=Luawa", want: 400, check: field("district")},
		{name: "min_position not reached", role: "coordinator", method: "GET", path: "/v1/stats/completion?min_position=" + strconv.FormatUint(pos+1_000_000, 10), want: 503,
			check: func(t *testing.T, r reply) {
				if r.problem.Code != "projection_behind" {
					t.Errorf("code = %q, want projection_behind", r.problem.Code)
				}
				header("Retry-After", "1")(t, r)
			}},
		{name: "the poison queue as a coordinator", role: "coordinator", method: "GET", path: "/v1/admin/poison", want: 403},
		{name: "rebuild as an auditor", role: "auditor", method: "POST", path: "/v1/admin/projections/rebuild", want: 403},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.do(t, call{method: s.method, path: s.path, token: tokens[s.role], body: s.body, header: s.header})
			if r.status != s.want {
				t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, r.status, r.body, s.want)
			}
			if s.check != nil {
				s.check(t, r)
			}
		})
	}

	// Paging: the list walked one item at a time visits every action point
	// once, in the list's order.
	t.Run("paging", func(t *testing.T) {
		var ids []string
		path := "/v1/action-points?limit=1&" + at
		for range 10 {
			r := e.do(t, call{method: http.MethodGet, path: path, token: tokens[domain.RoleCoordinator]})
			if r.status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, r.status, r.body)
			}
			m := r.json(t)
			for _, it := range arr(m["items"]) {
				ids = append(ids, obj(it)["id"].(string))
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			path = "/v1/action-points?limit=1&cursor=" + url.QueryEscape(next)
		}
		// Overdue first, then by due date, then without one.
		if want := []string{"AP-1", "AP-3", "AP-2"}; !slices.Equal(ids, want) {
			t.Errorf("paged through %v, want %v", ids, want)
		}
	})
}

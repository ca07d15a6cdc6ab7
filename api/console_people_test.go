package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// The console's pages for people and the audit, on the real application:
// who may see and do what is the application's answer, so these tests play
// each role against a real server.

const hostileText = `"><img src=x onerror=alert(1)><script>alert(2)</script>javascript:alert(3)`

// browserUser is one signed-in browser: a cookie jar and its CSRF token.
type browserUser struct {
	t      *testing.T
	base   string
	client *http.Client
	csrf   string
}

type page struct {
	status int
	header http.Header
	body   string
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (e *env) signIn(t *testing.T, token string) *browserUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browserUser{t: t, base: e.ts.URL, client: &http.Client{Jar: jar}}
	form := b.get("/")
	m := csrfInput.FindStringSubmatch(form.body)
	if m == nil {
		t.Fatalf("the sign-in page has no CSRF token:\n%s", form.body)
	}
	home := b.post("/sign-in", url.Values{"csrf": {m[1]}, "token": {token}})
	m = csrfInput.FindStringSubmatch(home.body)
	if home.status != http.StatusOK || m == nil {
		t.Fatalf("signing in: %d\n%s", home.status, home.body)
	}
	b.csrf = m[1]
	return b
}

func (b *browserUser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browserUser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browserUser) post(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// form is a form with the session's CSRF token.
func (b *browserUser) form(kv ...string) url.Values {
	v := url.Values{"csrf": {b.csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// assertInert fails when a hostile string reached the page as markup.
func assertInert(t *testing.T, p page) {
	t.Helper()
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`} {
		if strings.Contains(p.body, bad) {
			t.Errorf("the page carries %q unescaped", bad)
		}
	}
}

// createUser makes a user through the JSON API; it answers id and token.
func (e *env) createUser(t *testing.T, name, role, district, chiefdom string) (string, string) {
	t.Helper()
	r := e.do(t, call{method: http.MethodPost, path: "/v1/users", token: adminToken,
		body: map[string]any{"name": name, "role": role, "district": district, "chiefdom": chiefdom}})
	if r.status != http.StatusCreated {
		t.Fatalf("creating %s: %d %s", name, r.status, r.body)
	}
	m := r.json(t)
	return m["id"].(string), m["token"].(string)
}

func (e *env) meStatus(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

var tokenOnPage = regexp.MustCompile(`<code id="new-token">([^<]+)</code>`)

func TestConsoleAdminCreatesAUserAndSeesTheTokenOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.signIn(t, adminToken)

	created := admin.post("/users", admin.form("key", "k1", "name", hostileText, "role", domain.RoleMobilizer, "district", "Kenema"))
	if created.status != http.StatusOK {
		t.Fatalf("creating a user: %d\n%s", created.status, created.body)
	}
	m := tokenOnPage.FindStringSubmatch(created.body)
	if m == nil {
		t.Fatalf("the new user's page shows no token:\n%s", created.body)
	}
	token := m[1]
	if e.meStatus(t, token) != http.StatusOK {
		t.Errorf("the token the console showed does not authenticate")
	}
	if !strings.Contains(created.body, "<svg") || !strings.Contains(created.body, `aria-label="QR code to sign in"`) {
		t.Errorf("the token page has no QR code")
	}
	if !strings.Contains(created.body, "/app/#token="+token) {
		t.Errorf("the token page lacks the mobilizers' app sign-in link")
	}
	if created.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the token page may be cached: %q", created.header.Get("Cache-Control"))
	}
	assertInert(t, created)

	list := admin.get("/users")
	if list.status != http.StatusOK || !strings.Contains(list.body, "&lt;script&gt;alert(2)") {
		t.Fatalf("the users list does not show the new user: %d\n%s", list.status, list.body)
	}
	if strings.Contains(list.body, token) {
		t.Errorf("the users list shows the token again")
	}
	assertInert(t, list)

	// The same form sent twice (a double click) makes one user.
	again := admin.post("/users", admin.form("key", "k1", "name", hostileText, "role", domain.RoleMobilizer, "district", "Kenema"))
	if m2 := tokenOnPage.FindStringSubmatch(again.body); m2 == nil || m2[1] != token {
		t.Errorf("a repeated form did not answer the first result: %d", again.status)
	}
	if n := strings.Count(admin.get("/users?role=mobilizer").body, `<th scope="row">`); n != 1 {
		t.Errorf("after a repeated form the list shows %d such users, want 1", n)
	}

	// A refusal of the application is shown, with its reason.
	bad := admin.post("/users", admin.form("name", "No Role", "role", "chief"))
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, `id="refusal"`) || !strings.Contains(bad.body, "role") {
		t.Errorf("a bad role: %d, want 400 naming the field\n%s", bad.status, bad.body)
	}

	// A new token replaces the old one.
	id := regexp.MustCompile(`action="/users/([^/"]+)/token"`).FindStringSubmatch(list.body)
	if id == nil {
		t.Fatalf("the list has no new-token form")
	}
	fresh := admin.post("/users/"+id[1]+"/token", admin.form("key", "k2", "role", domain.RoleMobilizer))
	m = tokenOnPage.FindStringSubmatch(fresh.body)
	if fresh.status != http.StatusOK || m == nil || m[1] == token {
		t.Fatalf("a new token: %d\n%s", fresh.status, fresh.body)
	}
	if e.meStatus(t, token) != http.StatusUnauthorized || e.meStatus(t, m[1]) != http.StatusOK {
		t.Errorf("after a new token the old one must fail and the new one work")
	}
}

func TestConsoleCoordinatorManagesOnlyTheirMobilizers(t *testing.T) {
	e := newEnv(t)
	_, coordToken := e.createUser(t, "Kenema Coordinator", domain.RoleCoordinator, "Kenema", "")
	ownID, ownToken := e.createUser(t, "Kenema Mobilizer", domain.RoleMobilizer, "Kenema", "Nongowa")
	otherID, otherToken := e.createUser(t, "Bo Mobilizer", domain.RoleMobilizer, "Bo", "")
	coord := e.signIn(t, coordToken)

	list := coord.get("/users")
	if list.status != http.StatusOK || !strings.Contains(list.body, "Kenema Mobilizer") {
		t.Fatalf("the coordinator's mobilizers: %d\n%s", list.status, list.body)
	}
	if strings.Contains(list.body, "Bo Mobilizer") || strings.Contains(list.body, otherID) {
		t.Errorf("a coordinator of Kenema sees a mobilizer of Bo")
	}
	if strings.Contains(list.body, "Kenema Coordinator") {
		t.Errorf("a coordinator's list shows a coordinator")
	}
	if strings.Contains(list.body, `method="post" action="/users"`) || strings.Contains(list.body, "Add a user") {
		t.Errorf("a coordinator is offered the form to add users")
	}

	// Another area's mobilizer cannot be deactivated by a crafted form.
	refused := coord.post("/users/"+otherID+"/deactivate", coord.form("reason", "not mine"))
	if refused.status != http.StatusForbidden && refused.status != http.StatusNotFound {
		t.Errorf("deactivating another area's mobilizer: %d, want 403 or 404", refused.status)
	}
	if e.meStatus(t, otherToken) != http.StatusOK {
		t.Fatalf("another area's mobilizer lost access")
	}

	// Without the CSRF token nothing changes.
	forged := coord.post("/users/"+ownID+"/deactivate", url.Values{"reason": {"forged"}})
	if forged.status != http.StatusForbidden {
		t.Errorf("a form without its CSRF token: %d, want 403", forged.status)
	}
	if e.meStatus(t, ownToken) != http.StatusOK {
		t.Fatalf("a forged form deactivated the mobilizer")
	}

	done := coord.post("/users/"+ownID+"/deactivate", coord.form("key", "d1", "name", "Kenema Mobilizer", "reason", hostileText, "wipe", "on"))
	if done.status != http.StatusOK || !strings.Contains(done.body, "Kenema Mobilizer was deactivated") {
		t.Fatalf("deactivating: %d\n%s", done.status, done.body)
	}
	if e.meStatus(t, ownToken) != http.StatusUnauthorized {
		t.Errorf("a deactivated mobilizer's token still works")
	}
	after := coord.get("/users")
	if !strings.Contains(after.body, "Deactivated") || !strings.Contains(after.body, "&lt;script&gt;alert(2)") {
		t.Errorf("the list does not show the deactivation and its reason:\n%s", after.body)
	}
	assertInert(t, after)
}

func TestConsolePagesRefuseOtherRoles(t *testing.T) {
	e := newEnv(t)
	tokens := e.users(t)
	tests := []struct {
		name, role, path string
	}{
		{name: "an auditor on the users list", role: domain.RoleAuditor, path: "/users"},
		{name: "an auditor on operations", role: domain.RoleAuditor, path: "/operations"},
		{name: "a coordinator on operations", role: domain.RoleCoordinator, path: "/operations"},
		{name: "an admin on the as-of view", role: domain.RoleAdmin, path: "/as-of?at=2026-01-01"},
		{name: "an admin on verify", role: domain.RoleAdmin, path: "/verify"},
		{name: "an admin running verify", role: domain.RoleAdmin, path: "/verify?run=1"},
		{name: "a coordinator on exports", role: domain.RoleCoordinator, path: "/exports"},
		{name: "a coordinator on history", role: domain.RoleCoordinator, path: "/history?stream=users"},
		{name: "a mobilizer on users", role: domain.RoleMobilizer, path: "/users"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.signIn(t, tokens[tc.role])
			p := b.get(tc.path)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "You may not see this") {
				t.Errorf("GET %s as %s: %d, want 403\n%s", tc.path, tc.role, p.status, p.body)
			}
		})
	}
	// A stranger is sent to sign in.
	res, err := e.ts.Client().Get(e.ts.URL + "/users")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `action="/sign-in"`) {
		t.Errorf("a stranger on /users is not shown the sign-in form")
	}
}

func TestConsoleAdminOperations(t *testing.T) {
	e := newEnv(t)
	admin := e.signIn(t, adminToken)
	ops := admin.get("/operations")
	if ops.status != http.StatusOK || !strings.Contains(ops.body, `id="poison-none"`) {
		t.Fatalf("operations: %d\n%s", ops.status, ops.body)
	}
	if p := admin.post("/operations/rebuild", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("a rebuild without its CSRF token: %d, want 403", p.status)
	}
	// The post starts the rebuild and lands on the page that follows it;
	// on this small log it is soon done, and the page then says what it did.
	p := admin.post("/operations/rebuild", admin.form())
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.body, `id="rebuild-report"`); p = admin.get("/operations/rebuild") {
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="rebuild-progress"`) {
			t.Fatalf("rebuild: %d\n%s", p.status, p.body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild never finished:\n%s", p.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(p.body, `http-equiv="refresh"`) {
		t.Errorf("the page of a finished rebuild still reloads itself:\n%s", p.body)
	}
}

func TestConsoleAuditorPages(t *testing.T) {
	e := newEnv(t)
	tokens := e.users(t)
	e.createUser(t, hostileText, domain.RoleMobilizer, "Kenema", "")
	auditor := e.signIn(t, tokens[domain.RoleAuditor])

	t.Run("verify", func(t *testing.T) {
		var want struct {
			Intact   bool   `json:"intact"`
			Count    uint64 `json:"count"`
			HeadHash string `json:"head_hash"`
		}
		r := e.do(t, call{method: http.MethodGet, path: "/v1/audit/verify", token: tokens[domain.RoleAuditor]})
		if err := json.Unmarshal(r.body, &want); err != nil {
			t.Fatal(err)
		}
		if p := auditor.get("/verify"); p.status != http.StatusOK || strings.Contains(p.body, `id="verify-result"`) || !strings.Contains(p.body, "Verify now") {
			t.Errorf("verify asks before it walks the log: %d\n%s", p.status, p.body)
		}
		p := auditor.get("/verify?run=1")
		if p.status != http.StatusOK || !strings.Contains(p.body, "The log is intact") {
			t.Fatalf("verify: %d\n%s", p.status, p.body)
		}
		if !strings.Contains(p.body, `<dd id="verify-count">`+itoa(want.Count)+`</dd>`) || !strings.Contains(p.body, want.HeadHash) {
			t.Errorf("verify shows other figures than /v1/audit/verify (%d, %s)", want.Count, want.HeadHash)
		}
	})

	t.Run("as of, on either basis", func(t *testing.T) {
		at := time.Now().UTC().Add(24 * time.Hour).Format(time.DateOnly)
		for _, basis := range []string{"recorded", "occurred"} {
			r := e.do(t, call{method: http.MethodGet, path: "/v1/audit/as-of?at=" + at + "&basis=" + basis, token: tokens[domain.RoleAuditor]})
			var want struct {
				Position   uint64 `json:"position"`
				Completion struct {
					Total int `json:"total"`
				} `json:"completion"`
			}
			if err := json.Unmarshal(r.body, &want); err != nil {
				t.Fatal(err)
			}
			p := auditor.get("/as-of?at=" + at + "&basis=" + basis)
			if p.status != http.StatusOK || !strings.Contains(p.body, "basis "+basis+", from the log up to event "+itoa(want.Position)+".") {
				t.Errorf("as of %s on %s: %d\n%s", at, basis, p.status, p.body)
			}
		}
		if p := auditor.get("/as-of?at=yesterday"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "at") {
			t.Errorf("a bad date: %d, want 400", p.status)
		}
		if p := auditor.get("/as-of"); p.status != http.StatusOK || strings.Contains(p.body, `id="asof-meta"`) {
			t.Errorf("the as-of form alone: %d", p.status)
		}
	})

	t.Run("history pages and renders hostile data inert", func(t *testing.T) {
		p := auditor.get("/history?stream=users")
		if p.status != http.StatusOK || !strings.Contains(p.body, "UserCreated") {
			t.Fatalf("history: %d\n%s", p.status, p.body)
		}
		assertInert(t, p)
		if n := strings.Count(p.body, "<tr><td>"); n != 4 {
			t.Errorf("the users stream shows %d events, want 4", n)
		}
		odd := auditor.get("/history?stream=" + url.QueryEscape(hostileText))
		if odd.status >= 500 {
			t.Errorf("a hostile stream name: %d", odd.status)
		}
		assertInert(t, odd)
		odd = auditor.get("/as-of?at=" + url.QueryEscape(hostileText))
		if odd.status != http.StatusBadRequest {
			t.Errorf("a hostile date: %d, want 400", odd.status)
		}
		assertInert(t, odd)
	})

	t.Run("exports download and are recorded", func(t *testing.T) {
		if p := auditor.post("/exports", url.Values{"format": {"csv"}}); p.status != http.StatusForbidden {
			t.Errorf("an export without its CSRF token: %d, want 403", p.status)
		}
		for _, tc := range []struct{ format, ctype, start string }{
			{"csv", "text/csv; charset=utf-8", "position,recorded_at"},
			{"ndjson", "application/jsonl", `{"event_id"`},
			{"html", "text/html; charset=utf-8", "<!doctype html>"},
		} {
			p := auditor.post("/exports", auditor.form("format", tc.format))
			if p.status != http.StatusOK || p.header.Get("Content-Type") != tc.ctype ||
				!strings.HasPrefix(p.header.Get("Content-Disposition"), "attachment;") || !strings.HasPrefix(strings.ToLower(p.body), strings.ToLower(tc.start)) {
				t.Errorf("export %s: %d %q %q %.60q", tc.format, p.status, p.header.Get("Content-Type"), p.header.Get("Content-Disposition"), p.body)
			}
		}
		if p := auditor.get("/history?stream=exports"); strings.Count(p.body, "ExportRecorded") != 3 {
			t.Errorf("the three exports are not all recorded:\n%s", p.body)
		}
	})
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestConsoleUsersPageAndWeigh: a long list pages, and a full page stays
// under the console's 100 KB.
func TestConsoleUsersPageAndWeigh(t *testing.T) {
	e := newEnv(t)
	for i := range 55 {
		e.createUser(t, "Mobilizer with a rather long name number "+strconv.Itoa(i), domain.RoleMobilizer, "Kenema", "Lower Bambara")
	}
	admin := e.signIn(t, adminToken)
	first := admin.get("/users?role=mobilizer")
	if n := strings.Count(first.body, `<th scope="row">`); n != 50 {
		t.Errorf("the first page lists %d users, want 50", n)
	}
	if len(first.body) > 100*1024 {
		t.Errorf("a full page of users weighs %d bytes, over 100 KB", len(first.body))
	}
	next := regexp.MustCompile(`href="(/users\?[^"]+)" rel="next"`).FindStringSubmatch(first.body)
	if next == nil {
		t.Fatalf("the first page has no link to the next")
	}
	second := admin.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := strings.Count(second.body, `<th scope="row">`); n != 5 || strings.Contains(second.body, `rel="next"`) {
		t.Errorf("the second page lists %d users (want 5) or links further", n)
	}
	if strings.Contains(second.body, "number 0<") || !strings.Contains(second.body, "number 54<") {
		t.Errorf("the second page does not continue where the first stopped")
	}

	// The history of a stream pages alike: 55 mobilizers and the auditor
	// are 56 events of the users stream.
	_, auditorToken := e.createUser(t, "Auditor", domain.RoleAuditor, "", "")
	auditor := e.signIn(t, auditorToken)
	h1 := auditor.get("/history?stream=users")
	if n := strings.Count(h1.body, "<tr><td>"); n != 50 {
		t.Errorf("the first page of history shows %d events, want 50", n)
	}
	hn := regexp.MustCompile(`href="(/history\?[^"]+)" rel="next"`).FindStringSubmatch(h1.body)
	if hn == nil {
		t.Fatalf("the first page of history has no link to the next")
	}
	h2 := auditor.get(strings.ReplaceAll(hn[1], "&amp;", "&"))
	if n := strings.Count(h2.body, "<tr><td>"); n != 6 || !strings.Contains(h2.body, "<tr><td>56</td>") {
		t.Errorf("the second page of history shows %d events (want 6, up to revision 56)", n)
	}
}

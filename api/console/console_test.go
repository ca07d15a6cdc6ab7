package console_test

import (
	"context"
	"crypto/tls"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionledger/actionledger/api/console"
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

// fakeAuth knows tokens by their hash, as app.Authenticator does; a token
// can be withdrawn to play a deactivated user.
type fakeAuth struct {
	mu     sync.Mutex
	byHash map[string]app.Actor
}

func (a *fakeAuth) add(token string, actor app.Actor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byHash[string(app.HashToken(token))] = actor
}

func (a *fakeAuth) withdraw(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.byHash, string(app.HashToken(token)))
}

func (a *fakeAuth) Authenticate(ctx context.Context, token string) (app.Actor, error) {
	return a.AuthenticateHash(ctx, app.HashToken(token))
}

func (a *fakeAuth) SessionActor(_ context.Context, id string, match func([]byte) bool) (app.Actor, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for h, actor := range a.byHash {
		if actor.ID == id && match([]byte(h)) {
			return actor, nil
		}
	}
	return app.Actor{}, domain.Errorf(domain.CodeUnauthenticated, "invalid bearer token")
}

func (a *fakeAuth) AuthenticateHash(_ context.Context, h []byte) (app.Actor, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if actor, ok := a.byHash[string(h)]; ok {
		return actor, nil
	}
	return app.Actor{}, domain.Errorf(domain.CodeUnauthenticated, "invalid bearer token")
}

// fakeReads answers fixed figures and refuses what the JSON API refuses:
// roles other than coordinator and auditor.
type fakeReads struct {
	completion projections.CompletionStats
	trust      projections.TrustStats
	children   []projections.PlaceTrust
}

func (f *fakeReads) check(actor app.Actor) error {
	return app.RequireRole(actor, "read this", domain.RoleCoordinator, domain.RoleAuditor)
}

func (f *fakeReads) Completion(_ context.Context, actor app.Actor, _ domain.Area) (projections.CompletionStats, uint64, error) {
	return f.completion, 7, f.check(actor)
}

func (f *fakeReads) Trust(_ context.Context, actor app.Actor, _ domain.Area) (projections.TrustStats, uint64, error) {
	return f.trust, 7, f.check(actor)
}

func (f *fakeReads) ChildTrust(_ context.Context, actor app.Actor, _ domain.Area) ([]projections.PlaceTrust, uint64, error) {
	return f.children, 7, f.check(actor)
}

const (
	coordToken = "alt_coordinator-token"
	mobToken   = "alt_mobilizer-token"
	adminToken = "alt_admin-token"
	hostile    = `"><img src=x onerror=alert(1)><script>alert(2)</script>`
)

func ptr(v float64) *float64 { return &v }

type harness struct {
	t     *testing.T
	h     http.Handler
	auth  *fakeAuth
	reads *fakeReads
	now   time.Time
	mu    sync.Mutex
	seen  []string // actor ids the console reported signed in, per request
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, auth: &fakeAuth{byHash: map[string]app.Actor{}}, now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	h.auth.add(coordToken, app.Actor{ID: "u-coord", Role: domain.RoleCoordinator, Area: domain.Area{District: "Kenema"}})
	h.auth.add(mobToken, app.Actor{ID: "u-mob", Role: domain.RoleMobilizer, Area: domain.Area{District: "Kenema"}})
	h.auth.add(adminToken, app.Actor{ID: "admin", Role: domain.RoleAdmin})
	h.reads = &fakeReads{
		completion: projections.CompletionStats{Counts: projections.Counts{Total: 10, Open: 2, InProgress: 3, Achieved: 4, Dropped: 1, Overdue: 2,
			AchievedRate: ptr(4.0 / 9), ImplementationRate: ptr(7.0 / 9)}},
		trust: projections.TrustStats{Series: []projections.TrustWeek{
			{Week: "2026-W47", Index: ptr(0.71)}, {Week: "2026-W48", Index: ptr(0.58), Falling: true}, {Week: "2026-W49"}}},
		children: []projections.PlaceTrust{
			{District: "kenema", Chiefdom: "lower bambara", Latest: projections.TrustWeek{Week: "2026-W48", Index: ptr(0.41), Falling: true}},
			{District: "kenema", Chiefdom: "nongowa", Latest: projections.TrustWeek{Week: "2026-W48", Index: ptr(0.80)}},
		},
	}
	c, err := console.New(console.Config{Auth: h.auth, Reads: h.reads, Clock: h.clock,
		SignedIn: func(_ *http.Request, a app.Actor) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.seen = append(h.seen, a.ID)
		},
		StatusOf: func(err error) int {
			switch domain.ErrorCode(err) {
			case domain.CodeForbidden:
				return http.StatusForbidden
			case domain.CodeUnauthenticated:
				return http.StatusUnauthorized
			}
			return http.StatusInternalServerError
		}})
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	r := mux.NewRouter()
	c.Mount(r)
	h.h = r
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// browser keeps cookies as a browser would, without a network.
type browser struct {
	h       *harness
	cookies map[string]*http.Cookie
	tls     bool
}

func (h *harness) browser() *browser { return &browser{h: h, cookies: map[string]*http.Cookie{}} }

type page struct {
	status int
	header http.Header
	body   string
	set    map[string]*http.Cookie // cookies the answer set
}

func (b *browser) do(method, path string, form url.Values) page {
	b.h.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	if b.tls {
		req.TLS = &tls.ConnectionState{}
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	b.h.h.ServeHTTP(rec, req)
	res := rec.Result()
	p := page{status: res.StatusCode, header: res.Header, body: rec.Body.String(), set: map[string]*http.Cookie{}}
	for _, c := range res.Cookies() {
		p.set[c.Name] = c
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return p
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field on the page:\n%s", p.body)
	}
	return m[1]
}

// signIn signs b in with token through the form and returns the answer.
func (b *browser) signIn(token string) page {
	b.h.t.Helper()
	form := b.do(http.MethodGet, "/", nil)
	return b.do(http.MethodPost, "/sign-in", url.Values{"csrf": {csrfOf(b.h.t, form)}, "token": {token}})
}

func TestSignedOutHomeIsTheSignInForm(t *testing.T) {
	h := newHarness(t)
	p := h.browser().do(http.MethodGet, "/", nil)
	if p.status != http.StatusOK {
		t.Fatalf("GET /: %d", p.status)
	}
	for _, want := range []string{`<label for="token">Token</label>`, `<input id="token" name="token" type="password"`,
		`<button type="submit">Sign in</button>`, `<form method="post" action="/sign-in"`, `<html lang="en">`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("sign-in page lacks %s:\n%s", want, p.body)
		}
	}
	if p.header.Get("Content-Security-Policy") == "" || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers: CSP %q, Cache-Control %q", p.header.Get("Content-Security-Policy"), p.header.Get("Cache-Control"))
	}
	if strings.Contains(p.body, "<script") {
		t.Error("the sign-in page holds a script; the console works without JavaScript")
	}
}

func TestSignIn(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		tls        bool
		wantStatus int
		wantText   string // on the page after the sign-in (following the redirect)
	}{
		{name: "a coordinator's token", token: coordToken, wantStatus: http.StatusSeeOther, wantText: "This week"},
		{name: "over TLS", token: coordToken, tls: true, wantStatus: http.StatusSeeOther, wantText: "This week"},
		{name: "token with spaces around it", token: "  " + coordToken + "\n", wantStatus: http.StatusSeeOther, wantText: "This week"},
		{name: "a wrong token", token: "alt_nobody", wantStatus: http.StatusUnauthorized, wantText: "That token was not accepted"},
		{name: "no token", token: "", wantStatus: http.StatusBadRequest, wantText: "Enter your token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			b := h.browser()
			b.tls = tc.tls
			p := b.signIn(tc.token)
			if p.status != tc.wantStatus {
				t.Fatalf("POST /sign-in: %d, want %d:\n%s", p.status, tc.wantStatus, p.body)
			}
			c := p.set["al_session"]
			if tc.wantStatus != http.StatusSeeOther {
				if c != nil && c.Value != "" {
					t.Errorf("a refused sign-in set a session cookie")
				}
				if !strings.Contains(p.body, tc.wantText) {
					t.Errorf("refusal page lacks %q:\n%s", tc.wantText, p.body)
				}
				return
			}
			if got := p.header.Get("Location"); got != "/" {
				t.Errorf("Location %q, want /", got)
			}
			if c == nil || c.Value == "" {
				t.Fatal("no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				t.Errorf("session cookie HttpOnly=%v SameSite=%v Path=%q, want HttpOnly, Strict, /", c.HttpOnly, c.SameSite, c.Path)
			}
			if c.Secure != tc.tls {
				t.Errorf("session cookie Secure=%v under TLS=%v", c.Secure, tc.tls)
			}
			if c.MaxAge != int((12 * time.Hour).Seconds()) {
				t.Errorf("session cookie Max-Age %d, want 12 h", c.MaxAge)
			}
			if strings.Contains(c.Value, strings.TrimSpace(tc.token)) {
				t.Error("the session cookie holds the token")
			}
			home := b.do(http.MethodGet, "/", nil)
			if home.status != http.StatusOK || !strings.Contains(home.body, tc.wantText) {
				t.Errorf("after sign-in, GET /: %d, want a page with %q:\n%s", home.status, tc.wantText, home.body)
			}
			if strings.Contains(home.body, strings.TrimSpace(tc.token)) {
				t.Error("the page shows the token")
			}
		})
	}
}

func TestSignInFormNeedsItsCSRFToken(t *testing.T) {
	tests := []struct {
		name string
		csrf func(form string) string
		keep bool // keep the sign-in cookie
	}{
		{name: "no token in the form", csrf: func(string) string { return "" }, keep: true},
		{name: "another token in the form", csrf: func(string) string { return "forged" }, keep: true},
		{name: "no sign-in cookie (a post from another site)", csrf: func(f string) string { return f }, keep: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			b := h.browser()
			form := csrfOf(t, b.do(http.MethodGet, "/", nil))
			if !tc.keep {
				delete(b.cookies, "al_signin")
			}
			p := b.do(http.MethodPost, "/sign-in", url.Values{"csrf": {tc.csrf(form)}, "token": {coordToken}})
			if p.status != http.StatusForbidden {
				t.Fatalf("POST /sign-in: %d, want 403", p.status)
			}
			if c := p.set["al_session"]; c != nil && c.Value != "" {
				t.Error("a sign-in without its CSRF token started a session")
			}
		})
	}
}

func TestSignOut(t *testing.T) {
	tests := []struct {
		name       string
		csrf       func(real string) string
		wantStatus int
		signedIn   bool // after the POST
	}{
		{name: "with the session's CSRF token", csrf: func(r string) string { return r }, wantStatus: http.StatusSeeOther},
		{name: "without a CSRF token", csrf: func(string) string { return "" }, wantStatus: http.StatusForbidden, signedIn: true},
		{name: "with another token", csrf: func(string) string { return "forged" }, wantStatus: http.StatusForbidden, signedIn: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			b := h.browser()
			b.signIn(coordToken)
			home := b.do(http.MethodGet, "/", nil)
			p := b.do(http.MethodPost, "/sign-out", url.Values{"csrf": {tc.csrf(csrfOf(t, home))}})
			if p.status != tc.wantStatus {
				t.Fatalf("POST /sign-out: %d, want %d:\n%s", p.status, tc.wantStatus, p.body)
			}
			after := b.do(http.MethodGet, "/", nil)
			if got := strings.Contains(after.body, "This week"); got != tc.signedIn {
				t.Errorf("after the POST, signed in = %v, want %v", got, tc.signedIn)
			}
		})
	}
}

func TestSignedOutSessionCannotBeReplayed(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.signIn(coordToken)
	stolen := b.cookies["al_session"].Value
	b.do(http.MethodPost, "/sign-out", url.Values{"csrf": {csrfOf(t, b.do(http.MethodGet, "/", nil))}})
	thief := h.browser()
	thief.cookies["al_session"] = &http.Cookie{Name: "al_session", Value: stolen}
	if p := thief.do(http.MethodGet, "/", nil); strings.Contains(p.body, "This week") || !strings.Contains(p.body, `for="token"`) {
		t.Errorf("a signed-out session id still opens the console:\n%s", p.body)
	}
}

func TestUserWhoNoLongerAuthenticatesIsSignedOut(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.signIn(coordToken)
	if p := b.do(http.MethodGet, "/", nil); !strings.Contains(p.body, "This week") {
		t.Fatalf("not signed in:\n%s", p.body)
	}
	h.auth.withdraw(coordToken) // deactivated, or given a new token
	p := b.do(http.MethodGet, "/", nil)
	if strings.Contains(p.body, "This week") {
		t.Fatal("a withdrawn user still sees the console")
	}
	if !strings.Contains(p.body, "You have been signed out") || !strings.Contains(p.body, `for="token"`) {
		t.Errorf("want the sign-in form with a notice:\n%s", p.body)
	}
	if c := p.set["al_session"]; c == nil || c.MaxAge >= 0 {
		t.Errorf("the session cookie was not cleared: %+v", c)
	}
	h.auth.add(coordToken, app.Actor{ID: "u-coord", Role: domain.RoleCoordinator, Area: domain.Area{District: "Kenema"}})
	if p := b.do(http.MethodGet, "/", nil); strings.Contains(p.body, "This week") {
		t.Error("the ended session came back when the token did")
	}
}

func TestSessionExpires(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.signIn(coordToken)
	h.advance(11 * time.Hour)
	if p := b.do(http.MethodGet, "/", nil); !strings.Contains(p.body, "This week") {
		t.Fatal("signed out before 12 h")
	}
	h.advance(time.Hour + time.Second)
	if p := b.do(http.MethodGet, "/", nil); strings.Contains(p.body, "This week") {
		t.Error("still signed in after 12 h")
	}
}

func TestThisWeekShowsTheReadModelsFigures(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.signIn(coordToken)
	p := b.do(http.MethodGet, "/", nil)
	for _, want := range []string{
		`<span id="area">Kenema</span>`,
		`<dd id="achieved-rate">44.4%</dd>`,
		`<dd id="implementation-rate">77.8%</dd>`,
		`<dd id="overdue" class="alert"><a href="/work?overdue=true">2</a></dd>`, // linked to the work list
		`<dd id="trust-index">0.58</dd>`,                                         // the latest week with an index, not the empty current one
		`<dd id="trust-week">2026-W48</dd>`,
		`<dd id="trust-falling" class="alert">Falling</dd>`,
		`<th scope="row"><a href="/trends?chiefdom=lower&#43;bambara&amp;district=kenema">Lower Bambara</a></th><td>0.41</td>`,
		"Coordinator · Kenema",
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("This week lacks %s", want)
		}
	}
	if strings.Contains(p.body, "Nongowa") {
		t.Error("a place whose trust is not falling is listed as falling")
	}
	// Without the application the console serves no lists: no figure
	// links to one.
	if strings.Contains(p.body, "/work/referrals") || strings.Contains(p.body, `id="silent-mobilizers"`) {
		t.Error("This week links to lists this console does not serve")
	}
}

func TestRolesWithoutIndicators(t *testing.T) {
	tests := []struct {
		name, token, want string
	}{
		{name: "a mobilizer is sent to the app", token: mobToken, want: `href="/app/"`},
		{name: "an admin is told the indicators are not theirs", token: adminToken, want: "Your role does not read the indicators"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			b := h.browser()
			b.signIn(tc.token)
			p := b.do(http.MethodGet, "/", nil)
			if p.status != http.StatusOK || !strings.Contains(p.body, tc.want) {
				t.Errorf("GET /: %d, want a page with %s:\n%s", p.status, tc.want, p.body)
			}
			if strings.Contains(p.body, "achieved-rate") {
				t.Error("indicators shown to a role the JSON API refuses them")
			}
			if !strings.Contains(p.body, "Sign out") {
				t.Error("no way to sign out")
			}
		})
	}
}

func TestHostileTextRendersInert(t *testing.T) {
	h := newHarness(t)
	h.auth.add("alt_hostile", app.Actor{ID: "u-h", Role: domain.RoleCoordinator, Area: domain.Area{District: hostile, Chiefdom: "javascript:alert(3)"}})
	h.reads.children = append(h.reads.children, projections.PlaceTrust{District: hostile, Chiefdom: hostile,
		Latest: projections.TrustWeek{Week: `<b>W1</b>`, Index: ptr(0.1), Falling: true}})
	b := h.browser()
	b.signIn("alt_hostile")
	p := b.do(http.MethodGet, "/", nil)
	if !strings.Contains(p.body, "This week") {
		t.Fatalf("not signed in:\n%s", p.body)
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>W1", `href="javascript:`} {
		if strings.Contains(p.body, bad) {
			t.Errorf("hostile text reached the page unescaped: %s", bad)
		}
	}
	if !strings.Contains(p.body, "&lt;script&gt;alert(2)&lt;/script&gt;") {
		t.Error("the hostile place name is not shown escaped")
	}
}

func TestWrongMethodsAndUnknownAssets(t *testing.T) {
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/sign-in", http.StatusMethodNotAllowed},
		{http.MethodGet, "/sign-out", http.StatusMethodNotAllowed},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/assets/nothing.css", http.StatusNotFound},
		{http.MethodGet, "/assets/console.css", http.StatusOK},
		{http.MethodHead, "/", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			p := newHarness(t).browser().do(tc.method, tc.path, nil)
			if p.status != tc.want {
				t.Errorf("%d, want %d", p.status, tc.want)
			}
		})
	}
}

func TestStylesheetHasAPrintStyle(t *testing.T) {
	p := newHarness(t).browser().do(http.MethodGet, "/assets/console.css", nil)
	if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(p.body, "@media print") {
		t.Error("no print stylesheet")
	}
}

func TestPagesWeighUnder100KB(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	pages := map[string]int{"sign-in": len(b.do(http.MethodGet, "/", nil).body)}
	b.signIn(coordToken)
	pages["this week"] = len(b.do(http.MethodGet, "/", nil).body)
	css := len(b.do(http.MethodGet, "/assets/console.css", nil).body)
	for name, n := range pages {
		if n+css > 100<<10 {
			t.Errorf("%s weighs %d bytes with its stylesheet, over 100 KB", name, n+css)
		}
	}
}

func TestLanguageTablesAreComplete(t *testing.T) {
	en := console.Keys("en")
	if len(en) == 0 {
		t.Fatal("no English table")
	}
	for _, lang := range console.Languages() {
		keys := console.Keys(lang)
		for _, k := range en {
			if !slices.Contains(keys, k) {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
		for _, k := range keys {
			if !slices.Contains(en, k) {
				t.Errorf("%s has %q, which English lacks", lang, k)
			}
		}
	}
}

// TestTemplatesUseOnlyKnownText: a key a template names but no table has
// would fail the page at run time.
func TestTemplatesUseOnlyKnownText(t *testing.T) {
	en := console.Keys("en")
	keyRE := regexp.MustCompile(`\{\{-?\s*t\s+"([a-z_]+)"`)
	n := 0
	err := fs.WalkDir(os.DirFS("templates"), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile("templates/" + name)
		if err != nil {
			return err
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			n++
			if !slices.Contains(en, m[1]) {
				t.Errorf("%s uses text %q, which the English table lacks", name, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("found no text keys in the templates")
	}
}

func TestAcceptLanguageFallsBackToEnglish(t *testing.T) {
	h := newHarness(t)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept-Language", "fr-FR, de;q=0.8")
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Language"); got != "en" {
		t.Errorf("Content-Language %q, want en", got)
	}
}

func TestRequestsNameTheirSignedInUser(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.do(http.MethodGet, "/", nil)
	b.signIn(coordToken)
	b.do(http.MethodGet, "/", nil)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.Equal(h.seen, []string{"u-coord"}) {
		t.Errorf("signed-in users reported %q, want one request of u-coord", h.seen)
	}
}

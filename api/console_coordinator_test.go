package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
)

// demoSite is the real server with the demo data set, for the console's
// coordinator pages: the same figures the JSON API answers, from the same
// application.
type demoSite struct {
	url    string
	tokens map[string]string // by role; the coordinator and mobilizer are Kenema's
	m      *server.Main
}

const demoAdmin = "test-admin-console3"

func newDemoSite(t *testing.T) *demoSite {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := server.Open(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AdminToken: demoAdmin,
		TokenSecret: "test-token-secret-console3", Demo: true}, zap.NewNop())
	if err != nil {
		cancel()
		t.Fatalf("opening the server: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-served
		_ = m.Close()
	})
	d := &demoSite{url: m.URL(), tokens: map[string]string{"admin": demoAdmin}, m: m}
	for _, u := range m.DemoTokens {
		if u.Token != "" {
			d.tokens[u.Role] = u.Token
		}
	}
	d.settle(t)
	return d
}

// settle waits until the read models hold every event written so far.
func (d *demoSite) settle(t *testing.T) {
	t.Helper()
	settle(t, d.m.Store(), d.m.Read())
}

// api calls the JSON API.
func (d *demoSite) api(t *testing.T, method, path, token string, body any, header map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, res.Header, m
}

// user creates a user and returns its token.
func (d *demoSite) user(t *testing.T, role, district, chiefdom string) string {
	t.Helper()
	st, _, m := d.api(t, http.MethodPost, "/v1/users", demoAdmin, map[string]any{"name": "Test " + role, "role": role, "district": district, "chiefdom": chiefdom}, nil)
	if st != http.StatusCreated {
		t.Fatalf("creating a %s: %d %v", role, st, m)
	}
	return m["token"].(string)
}

// consoleUser is a browser signed in to the console: it keeps its own
// cookies (the session cookie is Secure-less over plain HTTP in tests, but
// a jar would still drop a Secure one; this keeps whatever is set).
type consoleUser struct {
	t       *testing.T
	base    string
	cookies map[string]string
	csrf    string
}

type consolePage struct {
	status int
	header http.Header
	body   string
}

func (d *demoSite) signIn(t *testing.T, token string) *consoleUser {
	t.Helper()
	u := &consoleUser{t: t, base: d.url, cookies: map[string]string{}}
	form := u.get("/")
	u.post("/sign-in", url.Values{"csrf": {csrfIn(t, form.body)}, "token": {token}})
	home := u.get("/")
	u.csrf = csrfIn(t, home.body)
	if !strings.Contains(home.body, "Sign out") {
		t.Fatalf("not signed in:\n%s", home.body)
	}
	return u
}

var csrfValue = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

func csrfIn(t *testing.T, body string) string {
	t.Helper()
	m := csrfValue.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in:\n%s", body)
	}
	return m[1]
}

func (u *consoleUser) do(method, path string, form url.Values) consolePage {
	u.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u.base+path, rd)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range u.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(u.cookies, c.Name)
		} else {
			u.cookies[c.Name] = c.Value
		}
	}
	return consolePage{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (u *consoleUser) get(path string) consolePage {
	u.t.Helper()
	return u.do(http.MethodGet, path, nil)
}
func (u *consoleUser) post(path string, f url.Values) consolePage {
	u.t.Helper()
	return u.do(http.MethodPost, path, f)
}

// pct formats a JSON rate as the console shows it.
func pctOf(v any) string {
	f, ok := v.(float64)
	if !ok {
		return "no data"
	}
	return fmt.Sprintf("%.1f%%", f*100)
}

// TestConsoleCoordinatorPages covers the coordinators' pages against the
// real server: scoping as the JSON API's, the same numbers, CSRF, and
// hostile text shown inert.
func TestConsoleCoordinatorPages(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: loads the demo data set")
	}
	d := newDemoSite(t)
	nongowa := d.user(t, "coordinator", "Kenema", "Nongowa")
	district := d.signIn(t, d.tokens["coordinator"])
	chiefdom := d.signIn(t, nongowa)

	t.Run("a chiefdom coordinator never sees another chiefdom", func(t *testing.T) {
		p := chiefdom.get("/places")
		if p.status != http.StatusOK || !strings.Contains(p.body, "KEN-NON") && !strings.Contains(p.body, "Communities in Nongowa") {
			t.Fatalf("/places: %d\n%s", p.status, p.body)
		}
		if strings.Contains(p.body, "KEN-LOW") || strings.Contains(p.body, "Lower Bambara") {
			t.Errorf("a Nongowa coordinator's scorecard shows Lower Bambara:\n%s", p.body)
		}
		for _, path := range []string{
			"/places?district=Kenema&chiefdom=Lower+Bambara",
			"/trends?district=Kenema&chiefdom=Lower+Bambara",
			"/trends?community_id=KEN-LOW-11",
			"/case/community/KEN-LOW-11",
			"/work?district=Kenema&chiefdom=Lower+Bambara",
			"/places?district=Kailahun",
		} {
			if p := chiefdom.get(path); p.status != http.StatusForbidden {
				t.Errorf("GET %s by a Nongowa coordinator: %d, want 403", path, p.status)
			}
		}
		w := chiefdom.get("/work")
		if w.status != http.StatusOK || strings.Contains(w.body, "KEN-LOW") {
			t.Errorf("/work for Nongowa: %d, shows Lower Bambara: %v", w.status, strings.Contains(w.body, "KEN-LOW"))
		}
		// The trends page of the chiefdom draws no district line: the
		// district is outside this coordinator's area.
		tr := chiefdom.get("/trends")
		if tr.status != http.StatusOK || strings.Contains(tr.body, "one level up</th>") {
			t.Errorf("/trends for Nongowa: %d, compares with the district", tr.status)
		}
		// A community of the chiefdom compares with the chiefdom, which is
		// in this coordinator's area.
		tr = chiefdom.get("/trends?community_id=KEN-NON-11")
		if tr.status != http.StatusOK || !strings.Contains(tr.body, "Dashed lines: Nongowa, Kenema, one level up.") {
			t.Errorf("/trends of a Nongowa community: %d\n%s", tr.status, tr.body)
		}
	})

	t.Run("the scorecard's numbers are the JSON API's", func(t *testing.T) {
		p := district.get("/places")
		for _, ch := range []string{"Nongowa", "Lower Bambara"} {
			_, _, comp := d.api(t, http.MethodGet, "/v1/stats/completion?district=Kenema&chiefdom="+url.QueryEscape(ch), d.tokens["coordinator"], nil, nil)
			row := regexp.MustCompile(`(?s)<tr><th scope="row"><a href="[^"]*">` + ch + `</a></th>\s*<td>(\d+)</td><td[^>]*>(\d+)</td>\s*<td>([^<]*)</td><td>([^<]*)</td>`).FindStringSubmatch(p.body)
			if row == nil {
				t.Fatalf("no row for %s:\n%s", ch, p.body)
			}
			want := []string{fmt.Sprint(comp["total"]), fmt.Sprint(comp["overdue"]), pctOf(comp["achieved_rate"]), pctOf(comp["implementation_rate"])}
			if got := row[1:]; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("%s: page %v, JSON API %v", ch, got, want)
			}
		}
		// Drill down: a chiefdom's communities.
		q := district.get("/places?district=kenema&chiefdom=nongowa")
		if q.status != http.StatusOK || !strings.Contains(q.body, `href="/case/community/KEN-NON-11"`) || strings.Contains(q.body, "KEN-LOW") {
			t.Errorf("drilling down to Nongowa: %d\n%s", q.status, q.body)
		}
		c := district.get("/places?format=csv")
		if c.status != http.StatusOK || !strings.HasPrefix(c.header.Get("Content-Type"), "text/csv") || !strings.Contains(c.body, "nongowa") && !strings.Contains(c.body, "Nongowa") {
			t.Errorf("scorecard CSV: %d %q\n%s", c.status, c.header.Get("Content-Type"), c.body)
		}
	})

	t.Run("the trends table is the JSON API's weekly series", func(t *testing.T) {
		_, _, comp := d.api(t, http.MethodGet, "/v1/stats/completion?interval=week", d.tokens["coordinator"], nil, nil)
		p := district.get("/trends")
		if !strings.Contains(p.body, `<svg role="img"`) || !strings.Contains(p.body, "<title id=\"chart-title\">") {
			t.Errorf("the trends page has no accessible chart:\n%s", p.body)
		}
		series, _ := comp["series"].([]any)
		if len(series) == 0 {
			t.Fatal("the JSON API has no weekly series")
		}
		for _, wk := range series {
			w := wk.(map[string]any)
			want := fmt.Sprintf(`<tr><th scope="row">%s</th><td>%s</td><td>%s</td>`, w["week"], pctOf(w["achieved_rate"]), pctOf(w["implementation_rate"]))
			if !strings.Contains(p.body, want) {
				t.Errorf("trends lacks %s", want)
			}
		}
	})

	t.Run("This week links what waits to its list", func(t *testing.T) {
		p := district.get("/")
		for _, want := range []string{
			`<dd id="waiting-referrals"`, `<a href="/work/referrals">`,
			`<dd id="waiting-feedback"`, `<a href="/work/feedback">`,
			`<dd id="silent-mobilizers"`, `<a href="/users?role=mobilizer&amp;active=true">`,
		} {
			if !strings.Contains(p.body, want) {
				t.Errorf("This week lacks %s", want)
			}
		}
		// An auditor may not list users: no count of mobilizers.
		a := d.signIn(t, d.tokens["auditor"]).get("/")
		if !strings.Contains(a.body, `<dd id="waiting-referrals"`) || strings.Contains(a.body, `silent-mobilizers`) {
			t.Errorf("an auditor's This week: waiting referrals shown %v, mobilizers shown %v",
				strings.Contains(a.body, `<dd id="waiting-referrals"`), strings.Contains(a.body, `silent-mobilizers`))
		}
	})

	t.Run("the work lists are the JSON API's lists", func(t *testing.T) {
		for _, tc := range []struct{ page, api string }{
			{"/work", "/v1/action-points?limit=25"},
			{"/work?status=open", "/v1/action-points?limit=25&status=open"},
			{"/work/referrals", "/v1/referrals?limit=25&status=raised&older_than_hours=24"},
			{"/work/referrals?all=true", "/v1/referrals?limit=25"},
			{"/work/feedback", "/v1/feedback?limit=25&loop_closed=false&older_than_days=7"},
			{"/work/feedback?all=true", "/v1/feedback?limit=25"},
		} {
			_, _, list := d.api(t, http.MethodGet, tc.api, d.tokens["coordinator"], nil, nil)
			var want []string
			for _, it := range list["items"].([]any) {
				want = append(want, it.(map[string]any)["id"].(string))
			}
			if len(want) == 0 && (tc.page == "/work" || tc.page == "/work/referrals?all=true") {
				t.Errorf("%s is empty: the comparison shows nothing", tc.api)
			}
			p := district.get(tc.page)
			var got []string
			for _, m := range regexp.MustCompile(`<th scope="row"><a href="/case/[a-z-]+/([^"]+)">`).FindAllStringSubmatch(p.body, -1) {
				got = append(got, m[1])
			}
			if p.status != http.StatusOK || strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s: %d, rows %v; %s answers %v", tc.page, p.status, got, tc.api, want)
			}
		}
		c := district.get("/work/referrals?all=true&format=csv")
		if c.status != http.StatusOK || !strings.HasPrefix(c.body, "kind,id,title,community_id") {
			t.Errorf("referrals CSV: %d\n%s", c.status, c.body)
		}
		if p := district.get("/work/concerns"); p.status != http.StatusOK || !strings.Contains(p.body, "Concerns by need") {
			t.Errorf("/work/concerns: %d", p.status)
		}
	})

	t.Run("acknowledge a waiting referral from the list", func(t *testing.T) {
		// Raised two days ago in the field, synced now.
		st, _, body := d.api(t, http.MethodPost, "/v1/referrals", d.tokens["mobilizer"], map[string]any{"id": "REF-CONSOLE-1", "community_id": "KEN-NON-11",
			"kind": "death_alert", "channel": "mobilizer", "occurred_at": time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)}, nil)
		if st != http.StatusCreated {
			t.Fatalf("raising a referral: %d %v", st, body)
		}
		d.settle(t)
		p := district.get("/work/referrals")
		if !strings.Contains(p.body, `href="/case/referral/REF-CONSOLE-1"`) {
			t.Errorf("a referral raised 48 h ago is not waiting on the list:\n%s", p.body)
		}
		m := regexp.MustCompile(`(?s)action="/case/referral/([^/]+)/act".*?name="revision" value="(\d+)"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no acknowledge form:\n%s", p.body)
		}
		r := district.post("/case/referral/"+m[1]+"/act", url.Values{"csrf": {district.csrf}, "action": {"acknowledge"}, "revision": {m[2]}, "back": {"/work/referrals?all=true&status=raised"}})
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/work/referrals?") {
			t.Fatalf("acknowledging: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
		}
		_, _, ref := d.api(t, http.MethodGet, "/v1/referrals/"+m[1], d.tokens["coordinator"], nil, nil)
		if ref["status"] != "acknowledged" {
			t.Errorf("after acknowledging from the list the API says %v", ref["status"])
		}
		// An off-site back address is not followed.
		r = district.post("/case/referral/"+m[1]+"/act", url.Values{"csrf": {district.csrf}, "action": {"close"}, "revision": {"0"}, "back": {"//evil.example/"}})
		if loc := r.header.Get("Location"); strings.Contains(loc, "evil") {
			t.Errorf("redirected off-site: %q", loc)
		}
	})

	// An action point in Nongowa to act on.
	_, _, list := d.api(t, http.MethodGet, "/v1/action-points?district=Kenema&chiefdom=Nongowa", nongowa, nil, nil)
	items, _ := list["items"].([]any)
	apID, apStatus := "", ""
	for _, it := range items {
		if s := it.(map[string]any)["status"]; s == "open" || s == "in_progress" {
			apID, apStatus = it.(map[string]any)["id"].(string), s.(string)
			break
		}
	}
	if apID == "" {
		t.Fatalf("the demo has no open action point in Nongowa: %v", list)
	}
	apPath := "/case/action-point/" + apID
	revRE := regexp.MustCompile(`name="revision" value="(\d+)"`)

	t.Run("a form without the session's CSRF token changes nothing", func(t *testing.T) {
		p := chiefdom.get(apPath)
		rev := revRE.FindStringSubmatch(p.body)[1]
		for name, csrf := range map[string]string{"missing": "", "wrong": "x" + chiefdom.csrf, "another session's": district.csrf} {
			r := chiefdom.post(apPath+"/act", url.Values{"csrf": {csrf}, "action": {"drop"}, "revision": {rev}, "reason": {"no"}})
			if r.status != http.StatusForbidden {
				t.Errorf("%s token: %d, want 403", name, r.status)
			}
		}
		_, _, ap := d.api(t, http.MethodGet, "/v1/action-points/"+apID, nongowa, nil, nil)
		if ap["status"] != apStatus {
			t.Errorf("the action point is %v after refused forms, was %s", ap["status"], apStatus)
		}
	})

	t.Run("a change since the page was drawn is shown, not lost", func(t *testing.T) {
		p := chiefdom.get(apPath)
		if !strings.Contains(p.body, `id="act-drop"`) || strings.Contains(p.body, `id="act-reopen"`) {
			t.Errorf("the %s action point's page should offer Drop and not Reopen:\n%s", apStatus, p.body)
		}
		rev := revRE.FindStringSubmatch(p.body)[1]
		// Someone drops it through the JSON API meanwhile.
		st, _, _ := d.api(t, http.MethodPost, "/v1/action-points/"+apID+"/drop", d.tokens["coordinator"], map[string]any{"reason": "duplicate"}, nil)
		if st != http.StatusOK {
			t.Fatalf("dropping through the API: %d", st)
		}
		r := chiefdom.post(apPath+"/act", url.Values{"csrf": {chiefdom.csrf}, "action": {"drop"}, "revision": {rev}, "reason": {"stale"}})
		if r.status != http.StatusPreconditionFailed || !strings.Contains(r.body, "someone changed this case") || !strings.Contains(r.body, `<dd id="case-status">dropped</dd>`) {
			t.Errorf("stale form: %d\n%s", r.status, r.body)
		}
		// With the current revision, a refused transition is a 409 with the state.
		cur := revRE.FindStringSubmatch(r.body)[1]
		r = chiefdom.post(apPath+"/act", url.Values{"csrf": {chiefdom.csrf}, "action": {"drop"}, "revision": {cur}, "reason": {"again"}})
		if r.status != http.StatusConflict || !strings.Contains(r.body, "does not allow that") {
			t.Errorf("dropping a dropped action point: %d\n%s", r.status, r.body)
		}
		// The dropped action point's page offers only what its lifecycle and
		// a coordinator's role allow: reopen, never drop (or start, which is
		// the mobilizer's).
		for name, body := range map[string]string{"refusal page": r.body, "case page": chiefdom.get(apPath).body} {
			if !strings.Contains(body, `id="act-reopen"`) {
				t.Errorf("%s of a dropped action point offers no Reopen:\n%s", name, body)
			}
			for _, step := range []string{"drop", "start", "achieve"} {
				if strings.Contains(body, `id="act-`+step+`"`) {
					t.Errorf("%s of a dropped action point offers %s:\n%s", name, step, body)
				}
			}
		}
		if w := chiefdom.get("/work?status=dropped"); strings.Contains(w.body, `name="action" value="drop"`) || !strings.Contains(w.body, `name="action" value="reopen"`) {
			t.Errorf("the dropped work list offers drop, or no reopen:\n%s", w.body)
		}
		// And reopening it works, through the same handler the API uses.
		r = chiefdom.post(apPath+"/act", url.Values{"csrf": {chiefdom.csrf}, "action": {"reopen"}, "revision": {cur}, "reason": {"still needed"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("reopening: %d\n%s", r.status, r.body)
		}
		_, _, ap := d.api(t, http.MethodGet, "/v1/action-points/"+apID, nongowa, nil, nil)
		if ap["status"] == "dropped" || ap["status"] == nil {
			t.Errorf("after reopening from the console the API says %v", ap["status"])
		}
		h := chiefdom.get(r.header.Get("Location"))
		if !strings.Contains(h.body, "The action point was reopened.") || !strings.Contains(h.body, "ActionPointReopened") || !strings.Contains(h.body, "reason: still needed") {
			t.Errorf("the case page after reopening:\n%s", h.body)
		}
	})

	t.Run("hostile text renders inert", func(t *testing.T) {
		const evil = `"><img src=x onerror=alert(1)><script>alert(2)</script>`
		st, _, _ := d.api(t, http.MethodPost, "/v1/action-points/"+apID+"/drop", nongowa, map[string]any{"reason": evil}, nil)
		if st != http.StatusOK {
			t.Fatalf("dropping with a hostile reason: %d", st)
		}
		st, _, body := d.api(t, http.MethodPost, "/v1/action-points", d.tokens["mobilizer"], map[string]any{"id": "AP-EVIL-1", "community_id": "KEN-NON-11",
			"title": evil, "category": "hygiene", "kind": "one_off", "due_date": "2030-01-01"}, nil)
		if st != http.StatusCreated {
			t.Fatalf("raising an action point with a hostile title: %d %v", st, body)
		}
		st, _, body = d.api(t, http.MethodPost, "/v1/action-points", d.tokens["mobilizer"], map[string]any{"id": "AP-EVIL-2", "community_id": "KEN-NON-11",
			"title": `=HYPERLINK("http://evil.example","click")`, "category": "hygiene", "kind": "one_off", "due_date": "2030-01-01"}, nil)
		if st != http.StatusCreated {
			t.Fatalf("raising an action point with a formula title: %d %v", st, body)
		}
		d.settle(t)
		if c := chiefdom.get("/work?status=open&format=csv"); !strings.Contains(c.body, `AP-EVIL-2,"'=HYPERLINK(`) {
			t.Errorf("a formula title is not defused in the CSV:\n%s", c.body)
		}
		if p := chiefdom.get("/work?status=open"); !strings.Contains(p.body, "AP-EVIL-1") || !strings.Contains(p.body, "&lt;script&gt;alert(2)&lt;/script&gt;") {
			t.Errorf("the hostile title is not listed as text:\n%s", p.body)
		}
		for _, path := range []string{apPath, "/work?status=dropped", "/work?status=open", "/case/action-point/AP-EVIL-1"} {
			p := chiefdom.get(path)
			if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<img src=x") {
				t.Errorf("%s shows markup from the field:\n%s", path, p.body)
			}
			if path == apPath && !strings.Contains(p.body, html.EscapeString("<script>alert(2)</script>")) && !strings.Contains(p.body, `\u003cscript\u003e`) {
				t.Errorf("%s does not show the reason as text", path)
			}
		}
	})
}

package tests_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/actionledger/actionledger/projections"
)

// consoleUser is a browser signed in to the web console, over HTTP, as a
// person would: the form, its CSRF token, the session cookie.
type consoleUser struct {
	t      *testing.T
	base   string
	client *http.Client
}

var (
	csrfFieldRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	// A figure may be a link to its list: its text is the figure.
	figureRE = regexp.MustCompile(`<dd id="([a-z-]+)"(?: class="[^"]*")?>(?:<a href="[^"]*">)?([^<]*)(?:</a>)?</dd>`)
	countsRE = regexp.MustCompile(`<p class="meta" id="ap-counts">([^<]*)</p>`)
	areaRE   = regexp.MustCompile(`<span id="area">([^<]*)</span>`)
	// A falling place's name links to its trends page.
	fallingRE  = regexp.MustCompile(`<tr><th scope="row">(?:<a href="[^"]*">)?([^<]*)(?:</a>)?</th>`)
	positionRE = regexp.MustCompile(`include the log up to event (\d+)\.`)
)

func (e *env) consoleSignIn(t *testing.T, name string) *consoleUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &consoleUser{t: t, base: e.base, client: &http.Client{Jar: jar}}
	form := u.get("/")
	m := csrfFieldRE.FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("no sign-in form at /:\n%s", form)
	}
	res, err := u.client.PostForm(e.base+"/sign-in", url.Values{"csrf": {m[1]}, "token": {e.tokens[name]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Sign out") {
		t.Fatalf("signing in as %s: %d\n%s", name, res.StatusCode, body)
	}
	return u
}

func (u *consoleUser) get(path string) string {
	u.t.Helper()
	res, err := u.client.Get(u.base + path)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		u.t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, body)
	}
	return string(body)
}

// thisWeek is what the This week page says, as text.
type thisWeek struct {
	area     string
	figures  map[string]string
	counts   string
	falling  []string
	position string
}

func (u *consoleUser) thisWeek() thisWeek {
	u.t.Helper()
	page := u.get("/")
	w := thisWeek{figures: map[string]string{}}
	for _, m := range figureRE.FindAllStringSubmatch(page, -1) {
		w.figures[m[1]] = html.UnescapeString(m[2])
	}
	if m := countsRE.FindStringSubmatch(page); m != nil {
		w.counts = html.UnescapeString(m[1])
	}
	if m := areaRE.FindStringSubmatch(page); m != nil {
		w.area = html.UnescapeString(m[1])
	}
	for _, m := range fallingRE.FindAllStringSubmatch(page, -1) {
		w.falling = append(w.falling, html.UnescapeString(m[1]))
	}
	if m := positionRE.FindStringSubmatch(page); m != nil {
		w.position = m[1]
	}
	if len(w.figures) == 0 {
		u.t.Fatalf("no figures on This week:\n%s", page)
	}
	return w
}

// The test's own formatting of the JSON answer, as a person reads it.
func pctText(v *float64) string {
	if v == nil {
		return "no data"
	}
	return fmt.Sprintf("%.1f%%", *v*100)
}

func scoreText(v *float64) string {
	if v == nil {
		return "no data"
	}
	return fmt.Sprintf("%.2f", *v)
}

func latestTrust(s projections.TrustStats) projections.TrustWeek {
	for i := len(s.Series) - 1; i >= 0; i-- {
		if s.Series[i].Index != nil {
			return s.Series[i]
		}
	}
	return projections.TrustWeek{}
}

func titled(key string) string {
	words := strings.Fields(key)
	for i, w := range words {
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		words[i] = string(r)
	}
	return strings.Join(words, " ")
}

// TestConsoleThisWeekEqualsTheJSONAPI signs in to the web console as users
// of different areas and checks that This week shows, for each, exactly
// what /v1/stats answers the same user — so it is scoped as the JSON API is
// — and that the places listed as falling are those whose own trend is.
func TestConsoleThisWeekEqualsTheJSONAPI(t *testing.T) {
	e := start(t)
	e.staff()
	e.user("coord-lb", "coordinator", "Kenema", "Lower Bambara")
	e.user("coord-kai", "coordinator", "Kailahun", "")
	e.user("mob-quiet", "mobilizer", "Kenema", "Lower Bambara") // never syncs
	w := newWorld(20141205)
	w.run(e, w.registerCommunities())
	w.run(e, w.plan(80, 10, 40))

	// The child places of each user's area, for the falling list.
	chiefdoms := map[string][]string{}
	for _, c := range w.comms {
		if !slices.Contains(chiefdoms[c.dKey], c.cKey) {
			chiefdoms[c.dKey] = append(chiefdoms[c.dKey], c.cKey)
		}
	}
	tests := []struct {
		user, area string
		children   func() []url.Values // the places one level down
	}{
		{user: "coord", area: "Kenema", children: func() []url.Values { return chiefdomQueries("kenema", chiefdoms["kenema"]) }},
		{user: "coord-lb", area: "Lower Bambara, Kenema", children: func() []url.Values {
			var out []url.Values
			for _, c := range w.comms {
				if c.dKey == "kenema" && c.cKey == "lower bambara" {
					out = append(out, url.Values{"community_id": {c.id}})
				}
			}
			return out
		}},
		{user: "coord-kai", area: "Kailahun", children: func() []url.Values { return chiefdomQueries("kailahun", chiefdoms["kailahun"]) }},
		{user: "coord-national", area: "All districts", children: func() []url.Values {
			return []url.Values{{"district": {"kenema"}}, {"district": {"kailahun"}}}
		}},
		{user: "auditor", area: "All districts", children: func() []url.Values {
			return []url.Values{{"district": {"kenema"}}, {"district": {"kailahun"}}}
		}},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			e := e.on(t)
			var c projections.CompletionStats
			var tr projections.TrustStats
			var pos struct{ Position uint64 }
			wait := url.Values{"min_position": {itoa(w.lastPos)}}
			e.getStats(tc.user, "/v1/stats/completion", wait, &c)
			raw := e.getStats(tc.user, "/v1/stats/trust", wait, &tr)
			if err := json.Unmarshal(raw, &pos); err != nil {
				t.Fatal(err)
			}
			var wantFalling []string
			for _, q := range tc.children() {
				var kid projections.TrustStats
				e.getStats(tc.user, "/v1/stats/trust", q, &kid)
				if latestTrust(kid).Falling {
					name := q.Get("community_id")
					switch {
					case name != "":
					case q.Get("chiefdom") != "":
						name = titled(q.Get("chiefdom"))
					default:
						name = titled(q.Get("district"))
					}
					wantFalling = append(wantFalling, name)
				}
			}

			got := e.consoleSignIn(t, tc.user).thisWeek()
			if got.area != tc.area {
				t.Errorf("area %q, want %q", got.area, tc.area)
			}
			lt := latestTrust(tr)
			falling := "Not falling"
			if lt.Falling {
				falling = "Falling"
			}
			want := map[string]string{
				"achieved-rate":       pctText(c.AchievedRate),
				"implementation-rate": pctText(c.ImplementationRate),
				"overdue":             fmt.Sprint(c.Overdue),
				"trust-index":         scoreText(lt.Index),
				"trust-falling":       falling,
			}
			if lt.Week != "" {
				want["trust-week"] = lt.Week
			}
			// What waits, as the JSON lists answer the same user with the
			// work lists' default filters; the users list only for a role
			// that may list users.
			want["waiting-referrals"] = fmt.Sprint(e.listLen(tc.user, "/v1/referrals", url.Values{"status": {"raised"}, "older_than_hours": {"24"}}))
			want["waiting-feedback"] = fmt.Sprint(e.listLen(tc.user, "/v1/feedback", url.Values{"loop_closed": {"false"}, "older_than_days": {"7"}}))
			if tc.user != "auditor" {
				want["silent-mobilizers"] = fmt.Sprint(e.silentMobilizers(tc.user))
			} else if v, ok := got.figures["silent-mobilizers"]; ok {
				t.Errorf("an auditor, who may not list users, is shown %s silent mobilizers", v)
			}
			for id, v := range want {
				if got.figures[id] != v {
					t.Errorf("%s: console %q, JSON API %q", id, got.figures[id], v)
				}
			}
			wantCounts := fmt.Sprintf("%d action points: %d open, %d in progress, %d achieved, %d dropped.", c.Total, c.Open, c.InProgress, c.Achieved, c.Dropped)
			if got.counts != wantCounts {
				t.Errorf("counts: console %q, JSON API %q", got.counts, wantCounts)
			}
			if got.position != itoa(pos.Position) {
				t.Errorf("position: console %s, JSON API %d", got.position, pos.Position)
			}
			slices.Sort(wantFalling)
			slices.Sort(got.falling)
			if !slices.Equal(got.falling, wantFalling) {
				t.Errorf("falling places: console %q, JSON API %q", got.falling, wantFalling)
			}
			if c.Total == 0 {
				t.Error("the world gave this user no action points; the comparison proves little")
			}
			if tc.user == "coord" && (got.figures["waiting-referrals"] == "0" || got.figures["waiting-feedback"] == "0" || got.figures["silent-mobilizers"] == "0") {
				t.Errorf("nothing waits in Kenema; the comparison proves little: %v", got.figures)
			}
			seen[tc.user] = got.counts
		})
	}
	// Scoping shows: a chiefdom's coordinator and another district's see
	// other numbers than the district's.
	if seen["coord"] == seen["coord-lb"] || seen["coord"] == seen["coord-kai"] {
		t.Errorf("different areas show the same counts: %q", seen)
	}
}

// listLen is how many items a JSON list answers the user, every page.
func (e *env) listLen(token, route string, q url.Values) int {
	e.t.Helper()
	n := 0
	for {
		var p struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		e.getStats(token, route, q, &p)
		n += len(p.Items)
		if p.NextCursor == "" {
			return n
		}
		q.Set("cursor", p.NextCursor)
	}
}

// silentMobilizers counts, from GET /v1/users, the active mobilizers the
// user may list whose last_seen is more than three days old, or absent.
func (e *env) silentMobilizers(token string) int {
	e.t.Helper()
	q := url.Values{"role": {"mobilizer"}, "active": {"true"}}
	since := time.Now().Add(-72 * time.Hour)
	n := 0
	for {
		var p struct {
			Items []struct {
				LastSeen *time.Time `json:"last_seen"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		e.getStats(token, "/v1/users", q, &p)
		for _, u := range p.Items {
			if u.LastSeen == nil || u.LastSeen.Before(since) {
				n++
			}
		}
		if p.NextCursor == "" {
			return n
		}
		q.Set("cursor", p.NextCursor)
	}
}

func chiefdomQueries(district string, chiefdoms []string) []url.Values {
	var out []url.Values
	for _, c := range chiefdoms {
		out = append(out, url.Values{"district": {district}, "chiefdom": {c}})
	}
	return out
}

package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"go.uber.org/zap"
)

// pages holds each page's template for each language: html/template fixes
// functions at parse time, so "t" is bound per language once, at start.
type pages map[string]map[string]*template.Template

// view is what every page gets.
type view struct {
	Lang string
	// Page names the template; Title is a text key.
	Page string
	// Signed-in part: the session's CSRF token for the forms, and who.
	SignedIn bool
	CSRF     string
	Who      string
	// Role is the signed-in user's, for the links of the menu.
	Role string
	// People is whether the pages for people and the audit are served.
	People bool
	// Message is a text key shown as a notice or an error.
	Message string
	Status  int
	Data    any
	// Refresh, when set, reloads the page after that many seconds (a page
	// following work under way, without JavaScript).
	Refresh int
}

// csp lets a page load only its own stylesheet: no script, no frame, no
// request to another origin. Forms post only to the console itself.
const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func parsePages() (pages, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	var layout string
	var names []string
	for _, f := range files {
		if path.Base(f) == "layout.html" {
			layout = f
			continue
		}
		names = append(names, f)
	}
	out := pages{}
	for lang := range tables {
		out[lang] = map[string]*template.Template{}
		for _, f := range names {
			t, err := template.New(path.Base(f)).Funcs(funcs(lang)).ParseFS(templateFS, layout, f)
			if err != nil {
				return nil, err
			}
			out[lang][strings.TrimSuffix(path.Base(f), ".html")] = t
		}
	}
	return out, nil
}

// funcs are the templates' helpers for lang. A text key no table has makes
// the page fail loudly (a 500 and a test failure), never show a blank.
func funcs(lang string) template.FuncMap {
	t := func(key string, args ...any) (string, error) {
		s, ok := text(lang, key)
		if !ok {
			return "", fmt.Errorf("console: no text %q", key)
		}
		if len(args) > 0 {
			s = fmt.Sprintf(s, args...)
		}
		return s, nil
	}
	return template.FuncMap{
		"t":    t,
		"area": func(a domain.Area) string { return areaName(lang, a) },
		// pct shows a rate in [0,1] as a percentage, or "no data".
		"pct": func(v *float64) (string, error) {
			if v == nil {
				return t("no_data")
			}
			return t("percent", *v*100)
		},
		// title shows a place key as a name.
		"title": placeName,
		// needs are the needs concerns are counted by, in their order.
		"needs": func() []string { return domain.Needs },
		// signed shows a change of a figure with its sign.
		"signed": func(v *float64) (string, error) {
			if v == nil {
				return t("no_data")
			}
			return fmt.Sprintf("%+.2f", *v), nil
		},
		// when shows a time to the minute, UTC.
		"when": func(v time.Time) string { return v.UTC().Format("2006-01-02 15:04") },
		// score shows a trust index or component in [0,1].
		"score": func(v *float64) (string, error) {
			if v == nil {
				return t("no_data")
			}
			return fmt.Sprintf("%.2f", *v), nil
		},
	}
}

// view starts the view of page for a request.
func (c *Console) view(r *http.Request, page string, s *session, actor app.Actor) view {
	v := view{Lang: language(r), Page: page}
	if s != nil {
		v.SignedIn, v.CSRF = true, s.csrf
	}
	if actor.ID != "" {
		v.Who = c.who(v.Lang, actor)
		v.Role = actor.Role
	}
	v.People = c.cfg.App != nil
	return v
}

// who says who is signed in: role and area.
func (c *Console) who(lang string, a app.Actor) string {
	role, ok := text(lang, "role_"+a.Role)
	if !ok {
		role = a.Role
	}
	return role + " · " + areaName(lang, a.Area)
}

// areaName names an area for a heading.
func areaName(lang string, a domain.Area) string {
	switch {
	case a.District == "":
		s, _ := text(lang, "area_national")
		return s
	case a.Chiefdom == "":
		return a.District
	}
	return a.Chiefdom + ", " + a.District
}

// placeName shows a place key (lower case, as the read models keep it) as a
// name: "lower bambara" → "Lower Bambara". The place list will give the
// canonical spelling; until then this is display only.
func placeName(key string) string {
	words := strings.Fields(key)
	for i, w := range words {
		r, n := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[n:]
	}
	return strings.Join(words, " ")
}

// render executes v's page into a buffer first, so a failing template is a
// clean 500, never half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, v view) {
	t := c.pages[v.Lang][v.Page]
	if t == nil {
		t = c.pages[defaultLang][v.Page]
	}
	v.Status = status
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console template failed", zap.String("page", v.Page), zap.Error(err))
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>Internal error.</p>")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", v.Lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// notice answers a short page with a status and a message key (empty: the
// generic text of the status).
func (c *Console) notice(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	if msg == "" {
		switch {
		case status == http.StatusForbidden:
			msg = "error_forbidden"
		case status == http.StatusServiceUnavailable:
			msg = "error_unavailable"
		case status >= 500:
			msg = "error_internal"
		default:
			msg = "error_bad_request"
		}
	}
	v := c.view(r, "notice", s, app.Actor{})
	v.Message = msg
	c.render(w, r, status, v)
}

package console

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
)

// This file holds what the coordinators' pages share: their routes, the
// signed-in gate, the place a page asks for and the CSV download every list
// offers.

func (c *Console) mountCoordinator(r *mux.Router) {
	if c.cfg.App == nil {
		return
	}
	r.Handle("/trends", c.methods(c.trends, http.MethodGet, http.MethodHead))
	r.Handle("/places", c.methods(c.places, http.MethodGet, http.MethodHead))
	r.Handle("/work", c.methods(c.work, http.MethodGet, http.MethodHead))
	r.Handle("/work/referrals", c.methods(c.workReferrals, http.MethodGet, http.MethodHead))
	r.Handle("/work/feedback", c.methods(c.workFeedback, http.MethodGet, http.MethodHead))
	r.Handle("/work/concerns", c.methods(c.workConcerns, http.MethodGet, http.MethodHead))
	r.Handle("/case/{kind}/{id}", c.methods(c.casePage, http.MethodGet, http.MethodHead))
	r.Handle("/case/{kind}/{id}/act", c.methods(c.act, http.MethodPost))
}

// member resolves a signed-in user for a page; a stranger is shown the
// sign-in form. ok is false when the answer is written.
func (c *Console) member(w http.ResponseWriter, r *http.Request) (*session, app.Actor, bool) {
	s, actor, ok := c.signedIn(w, r)
	if !ok {
		return nil, actor, false
	}
	if s == nil {
		c.signInForm(w, r, http.StatusUnauthorized, "")
		return nil, actor, false
	}
	return s, actor, true
}

// series is the weekly completion and trust trend of an area, or of one
// community, from the application's read queries as /v1/stats answers them.
func (c *Console) series(ctx context.Context, actor app.Actor, a domain.Area, communityID string) (projections.CompletionStats, projections.TrustStats, uint64, error) {
	q := app.StatsRequest{Place: app.Place{District: a.District, Chiefdom: a.Chiefdom, CommunityID: communityID}, Weekly: true}
	comp, pos, err := c.cfg.App.Reads.CompletionStats(ctx, actor, q)
	if err != nil {
		return comp, projections.TrustStats{}, 0, err
	}
	q.Weekly = false
	trust, tpos, err := c.cfg.App.Reads.TrustStats(ctx, actor, q)
	return comp, trust, min(pos, tpos), err
}

// failed answers a read or command error as a page with the JSON API's
// status for it.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status := c.cfg.StatusOf(err)
	msg := ""
	if status == http.StatusNotFound {
		msg = "error_not_found"
	}
	c.logFailure(r, status, err)
	c.notice(w, r, s, status, msg)
}

// askedArea is the place a page's query names (district, chiefdom) and the
// community, if any. Scoping is the read's, not this function's.
func askedArea(r *http.Request) (domain.Area, string) {
	q := r.URL.Query()
	return domain.Area{District: strings.TrimSpace(q.Get("district")), Chiefdom: strings.TrimSpace(q.Get("chiefdom"))},
		strings.TrimSpace(q.Get("community_id"))
}

// placeQuery is the query string naming a place, for links.
func placeQuery(a domain.Area, communityID string) string {
	v := url.Values{}
	if a.District != "" {
		v.Set("district", a.District)
	}
	if a.Chiefdom != "" {
		v.Set("chiefdom", a.Chiefdom)
	}
	if communityID != "" {
		v.Set("community_id", communityID)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// parentOf is the area one level up; ok is false for the nation.
func parentOf(a domain.Area) (domain.Area, bool) {
	switch {
	case a.Chiefdom != "":
		return domain.Area{District: a.District}, true
	case a.District != "":
		return domain.Area{}, true
	}
	return domain.Area{}, false
}

// wantsCSV reports whether the request asks for the list as CSV.
func wantsCSV(r *http.Request) bool { return r.URL.Query().Get("format") == "csv" }

// writeCSV answers rows as a CSV download. A cell that a spreadsheet would
// read as a formula is quoted with a leading apostrophe: titles and notes
// come from the field.
func writeCSV(w http.ResponseWriter, r *http.Request, name string, rows [][]string) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	cw := csv.NewWriter(w)
	for _, row := range rows {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				row[i] = "'" + cell
			}
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

// crumb is one step of a breadcrumb.
type crumb struct {
	Name, Href string
}

// crumbs leads from the actor's own area down to a, each step linking to
// page for that place.
func crumbs(lang, page string, own, a domain.Area) []crumb {
	out := []crumb{}
	if own.District == "" {
		out = append(out, crumb{Name: areaName(lang, domain.Area{}), Href: page})
	}
	if a.District != "" && own.Chiefdom == "" {
		out = append(out, crumb{Name: placeName(a.District), Href: page + placeQuery(domain.Area{District: a.District}, "")})
	}
	if a.Chiefdom != "" {
		out = append(out, crumb{Name: placeName(a.Chiefdom), Href: page + placeQuery(a, "")})
	}
	return out
}

// titled is an area as a heading names it: place keys (lower case, as the
// read models keep them) shown as names.
func titled(lang string, a domain.Area) string {
	return areaName(lang, domain.Area{District: placeName(a.District), Chiefdom: placeName(a.Chiefdom)})
}

package report

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// The after-action review: one self-contained HTML page (styles and SVG
// charts inline, no scripts, no external assets) for a place and a period of
// field time, readable on screen and on paper.
//
// What it holds, and what it leaves out on purpose:
//   - the timeline of key events — triggering sessions, action points
//     achieved, dropped or reopened, referrals raised and their outcomes,
//     feedback loops closed — with ids, categories, kinds, outcomes, counts
//     and durations, and the actor's id and role;
//   - weekly counts of the same, and the weekly curves of completion
//     (achieved and implementation rates, as /v1/stats/completion counts
//     them) and trust (the index and T1–T4, as /v1/stats/trust);
//   - never a person's name and never free text: titles, notes, evidence,
//     reasons, concerns, feedback text, answers, "referred to" and person
//     references are typed by people and can hold names, so none is shown.
//     Communities appear by id; a user by id and role.
//
// The curves are computed here from the same scan, with the read models'
// own code, so they need no running read side: the CLI writes the same
// report from a data dir.

// maxTimelineRows caps the timeline: a national year holds hundreds of
// thousands of key events, more than a printed review can use. The earliest
// rows are kept (by field time); the weekly counts always cover everything,
// and the NDJSON export has every event.
const maxTimelineRows = 5000

// timelineRow is one key event.
type timelineRow struct {
	At        time.Time
	Position  uint64
	Subject   string // the aggregate's id
	Community string
	What      string
	Detail    string
	Actor     string
}

// rowHeap keeps the earliest maxTimelineRows rows: a max-heap on time, whose
// top is dropped when a row earlier than it comes in.
type rowHeap []timelineRow

func (h rowHeap) Len() int { return len(h) }
func (h rowHeap) Less(i, j int) bool {
	return h[i].At.After(h[j].At) || h[i].At.Equal(h[j].At) && h[i].Position > h[j].Position
}
func (h rowHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *rowHeap) Push(x any)   { *h = append(*h, x.(timelineRow)) }
func (h *rowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// weekCounts are the key events of one week.
type weekCounts struct {
	Week                                           string
	Triggered                                      int
	APRaised, APAchieved, APDropped, APReopened    int
	RefRaised, RefCompleted, RefCancelled, SafeBur int
	FBReceived, FBClosed                           int
}

func (c *weekCounts) add(o *weekCounts) {
	c.Triggered += o.Triggered
	c.APRaised += o.APRaised
	c.APAchieved += o.APAchieved
	c.APDropped += o.APDropped
	c.APReopened += o.APReopened
	c.RefRaised += o.RefRaised
	c.RefCompleted += o.RefCompleted
	c.RefCancelled += o.RefCancelled
	c.SafeBur += o.SafeBur
	c.FBReceived += o.FBReceived
	c.FBClosed += o.FBClosed
}

// report accumulates the review while the log is scanned.
type report struct {
	spec    Spec
	from    time.Time
	to      time.Time
	comp    *projections.Completion
	trust   *projections.Trust
	weeks   map[string]*weekCounts
	rows    rowHeap
	omitted int
	looked  int
	// What later events need of the first one of their aggregate.
	apCategory map[string]string
	referrals  map[string]refSeen
	feedback   map[string]fbSeen
}

type refSeen struct {
	kind   string
	raised time.Time
}

type fbSeen struct {
	typ      string
	received time.Time
}

func writeReport(ctx context.Context, w io.Writer, audit *app.Audit, spec Spec) (int, error) {
	rp := &report{
		spec: spec, from: spec.Filter.From, to: spec.Filter.To,
		comp: projections.NewCompletion(), trust: projections.NewTrustMin(spec.TrustWeights, spec.TrustMinVisits),
		weeks: map[string]*weekCounts{}, apCategory: map[string]string{},
		referrals: map[string]refSeen{}, feedback: map[string]fbSeen{},
	}
	// The models need the place's whole history (an action point raised
	// before the period is still open in it), so the scan is not bounded
	// in time; the period bounds the timeline, the counts and the curves.
	f := spec.Filter
	f.From, f.To = time.Time{}, time.Time{}
	_, _, err := audit.Scan(ctx, f, app.ScanOptions{Until: spec.Record.Position, Locate: true}, func(e *app.AuditedEvent) (bool, error) {
		return true, rp.add(e)
	})
	if err != nil {
		return rp.looked, err
	}
	provenance, err := audit.EventAt(ctx, spec.Record.Position)
	if err != nil {
		return rp.looked, err
	}
	return rp.looked, reportPage.Execute(w, rp.page(provenance))
}

func (rp *report) inPeriod(t time.Time) bool {
	return (rp.from.IsZero() || !t.Before(rp.from)) && (rp.to.IsZero() || t.Before(rp.to))
}

func (rp *report) week(t time.Time) *weekCounts {
	y, n := t.UTC().ISOWeek()
	k := fmt.Sprintf("%04d-W%02d", y, n)
	c := rp.weeks[k]
	if c == nil {
		c = &weekCounts{Week: k}
		rp.weeks[k] = c
	}
	return c
}

func (rp *report) row(e *app.AuditedEvent, what, detail string) {
	_, id := domain.SplitStream(e.Stream)
	r := timelineRow{At: e.Meta.OccurredAt, Position: e.Position, Subject: id, Community: e.CommunityID,
		What: what, Detail: detail, Actor: strings.TrimSpace(e.Meta.ActorRole + " " + e.Meta.ActorID)}
	if len(rp.rows) < maxTimelineRows {
		heap.Push(&rp.rows, r)
		return
	}
	rp.omitted++
	if top := rp.rows[0]; r.At.Before(top.At) {
		rp.rows[0] = r
		heap.Fix(&rp.rows, 0)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// add folds one event of the place into the models and, when it happened in
// the period, into the counts and the timeline.
func (rp *report) add(e *app.AuditedEvent) error {
	rp.looked++
	if e.Event == nil {
		return nil
	}
	pe := projections.Event{Position: e.Position, Stream: e.Stream, Revision: e.Revision,
		OccurredAt: e.Meta.OccurredAt, RecordedAt: e.RecordedAt, Data: e.Event}
	if err := rp.comp.Apply(&pe); err != nil {
		return err
	}
	if err := rp.trust.Apply(&pe); err != nil {
		return err
	}
	_, id := domain.SplitStream(e.Stream)
	at := e.Meta.OccurredAt
	switch ev := e.Event.(type) {
	case *domain.ActionPointRaised:
		rp.apCategory[ev.ID] = ev.Category
	case *domain.ReferralRaised:
		rp.referrals[ev.ID] = refSeen{kind: ev.Kind, raised: at}
	case *domain.FeedbackReceived:
		rp.feedback[ev.ID] = fbSeen{typ: ev.Type, received: at}
	}
	if !rp.inPeriod(at) {
		return nil
	}
	wk := rp.week(at)
	switch ev := e.Event.(type) {
	case *domain.CommunityTriggered:
		wk.Triggered++
		rp.row(e, "Community triggered", fmt.Sprintf("attendance %d", ev.Attendance))
	case *domain.ActionPointRaised:
		wk.APRaised++
	case *domain.ActionPointAchieved:
		wk.APAchieved++
		rp.row(e, "Action point achieved", "category "+rp.apCategory[id])
	case *domain.ActionPointDropped:
		wk.APDropped++
		rp.row(e, "Action point dropped", "category "+rp.apCategory[id])
	case *domain.ActionPointReopened:
		wk.APReopened++
		rp.row(e, "Action point reopened", "category "+rp.apCategory[id])
	case *domain.ReferralRaised:
		wk.RefRaised++
		detail := strings.ReplaceAll(ev.Kind, "_", " ") + " via " + strings.ReplaceAll(ev.Channel, "_", " ")
		if ev.Kind == "suspected_case" && !ev.SymptomOnset.IsZero() {
			detail += "; raised within 24 h of onset: " + yesNo(at.Sub(ev.SymptomOnset) <= 24*time.Hour)
		}
		rp.row(e, "Referral raised", detail)
	case *domain.ReferralCompleted:
		wk.RefCompleted++
		if ev.Outcome == "safe_burial" {
			wk.SafeBur++
		}
		seen := rp.referrals[id]
		detail := "outcome " + strings.ReplaceAll(ev.Outcome, "_", " ")
		if seen.kind != "" {
			detail = strings.ReplaceAll(seen.kind, "_", " ") + ", " + detail +
				fmt.Sprintf("; arrived %.0f h after it was raised", ev.ArrivedAt.Sub(seen.raised).Hours())
		}
		rp.row(e, "Referral completed", detail)
	case *domain.ReferralCancelled:
		wk.RefCancelled++
		rp.row(e, "Referral cancelled", strings.ReplaceAll(rp.referrals[id].kind, "_", " "))
	case *domain.FeedbackReceived:
		wk.FBReceived++
	case *domain.FeedbackLoopClosed:
		wk.FBClosed++
		seen := rp.feedback[id]
		detail := "satisfied: " + yesNo(ev.Satisfied)
		if seen.typ != "" {
			detail = seen.typ + fmt.Sprintf(", closed %.1f days after receipt; ", ev.CommunicatedAt.Sub(seen.received).Hours()/24) + detail
		}
		rp.row(e, "Feedback loop closed", detail)
	}
	return nil
}

// ---------------------------------------------------------------------------
// The page

type reportData struct {
	Place, Period        string
	GeneratedAt          string
	ExportID, Actor      string
	Position             uint64
	Hash                 string
	Totals               weekCounts
	Weeks                []*weekCounts
	CompletionChart      template.HTML
	Completion           []weekRates
	TrustChart           template.HTML
	Trust                []weekRates
	TrustWeights         string
	TrustMinVisits       int
	Rows                 []timelineRow
	Omitted, RowsShown   int
	EventsInPlace        int
	PeriodFrom, PeriodTo string
}

type weekRates struct {
	Week   string
	Values []string
}

func pct(v *float64) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

func (rp *report) page(provenance app.AuditedEvent) reportData {
	spec := rp.spec
	place := "National"
	if spec.Filter.Area.District != "" {
		place = spec.Filter.Area.District
		if spec.Filter.Area.Chiefdom != "" {
			place += " › " + spec.Filter.Area.Chiefdom
		}
	}
	d := reportData{
		Place: place, GeneratedAt: spec.Now.UTC().Format(time.RFC3339), ExportID: spec.Record.ID,
		Actor: strings.TrimSpace(spec.Actor.Role + " " + spec.Actor.ID), Position: spec.Record.Position,
		Hash: provenance.View().Hash, EventsInPlace: rp.looked,
		PeriodFrom: "the first event", PeriodTo: "the export",
	}
	if !rp.from.IsZero() {
		d.PeriodFrom = rp.from.UTC().Format(time.RFC3339)
	}
	if !rp.to.IsZero() {
		d.PeriodTo = rp.to.UTC().Format(time.RFC3339) + " (excluded)"
	}
	d.Period = d.PeriodFrom + " to " + d.PeriodTo

	for _, k := range slices.Sorted(mapsKeys(rp.weeks)) {
		d.Weeks = append(d.Weeks, rp.weeks[k])
		d.Totals.add(rp.weeks[k])
	}

	now := spec.Now
	if !rp.to.IsZero() && rp.to.Before(now) {
		now = rp.to
	}
	sf := projections.Filter{From: rp.from, To: rp.to, Now: now}
	comp := rp.comp.Stats(sf, true)
	var weeks []string
	achieved, implemented := make([]*float64, 0, len(comp.Series)), make([]*float64, 0, len(comp.Series))
	for _, wk := range comp.Series {
		weeks = append(weeks, wk.Week)
		achieved, implemented = append(achieved, wk.AchievedRate), append(implemented, wk.ImplementationRate)
		d.Completion = append(d.Completion, weekRates{wk.Week, []string{strconv.Itoa(wk.Total), strconv.Itoa(wk.InProgress),
			strconv.Itoa(wk.Achieved), strconv.Itoa(wk.Dropped), pct(wk.AchievedRate), pct(wk.ImplementationRate)}})
	}
	d.CompletionChart = svgChart("Completion of action points by week (state at each week's end)", weeks, []curve{
		{"implementation rate", implemented}, {"achieved rate", achieved}})

	trust := rp.trust.Stats(sf)
	weeks = weeks[:0]
	series := make([][]*float64, 5)
	for _, wk := range trust.Series {
		weeks = append(weeks, wk.Week)
		for i, v := range []*float64{wk.Index, wk.T1, wk.T2, wk.T3, wk.T4} {
			series[i] = append(series[i], v)
		}
		falling := ""
		if wk.Falling {
			falling = "falling"
		}
		d.Trust = append(d.Trust, weekRates{wk.Week, []string{pct(wk.Index), pct(wk.T1), pct(wk.T2), pct(wk.T3), pct(wk.T4), strconv.Itoa(wk.Visits), falling}})
	}
	d.TrustChart = svgChart("Trust by week", weeks, []curve{{"trust index", series[0]}, {"T1 visit rating", series[1]},
		{"T2 loops closed ≤ 14 d", series[2]}, {"T3 referrals ≤ 24 h", series[3]}, {"T4 not complaint/rumour/refusal", series[4]}})
	ws := make([]string, 4)
	for i, v := range trust.Weights {
		ws[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	d.TrustWeights = strings.Join(ws, ", ")
	d.TrustMinVisits = trust.MinVisits

	rows := []timelineRow(rp.rows)
	slices.SortFunc(rows, func(a, b timelineRow) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Position, b.Position))
	})
	d.Rows, d.Omitted, d.RowsShown = rows, rp.omitted, len(rows)
	return d
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Charts

type curve struct {
	name   string
	values []*float64
}

// Strokes that stay apart in grey print: each curve has its own dash.
var curveStyles = []struct{ color, dash string }{
	{"#1b4f9c", ""}, {"#c0392b", "7 4"}, {"#2e7d32", "2 3"}, {"#8e44ad", "9 3 2 3"}, {"#b9770e", "1 4"},
}

// svgChart draws curves of rates in [0,1] by week as an inline SVG line
// chart. Weeks without a value leave a gap. Everything drawn is a number or
// escaped text.
func svgChart(title string, weeks []string, curves []curve) template.HTML {
	const width, height = 760.0, 250.0
	const left, right, top, bottom = 46.0, 12.0, 24.0, 42.0
	pw, ph := width-left-right, height-top-bottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" font-family="sans-serif" font-size="11">`,
		width, height+18*float64(len(curves)), html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="14" font-size="12" font-weight="bold">%s</text>`, left, html.EscapeString(title))
	for i := 0; i <= 4; i++ {
		v := float64(i) / 4
		y := top + (1-v)*ph
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ccc" stroke-width="1"/>`, left, y, left+pw, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%d%%</text>`, left-4, y+4, i*25)
	}
	n := len(weeks)
	if n == 0 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">no data in the period</text>`, left+pw/2, top+ph/2)
	}
	x := func(i int) float64 {
		if n <= 1 {
			return left + pw/2
		}
		return left + float64(i)*pw/float64(n-1)
	}
	step := max(1, int(math.Ceil(float64(n)/10)))
	for i := 0; i < n; i += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`, x(i), top+ph, x(i), top+ph+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(i), top+ph+16, html.EscapeString(weeks[i]))
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#666"/>`, left, top, pw, ph)
	for ci, c := range curves {
		st := curveStyles[ci%len(curveStyles)]
		dash := ""
		if st.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
		}
		var pts []string
		flush := func() {
			switch len(pts) {
			case 0:
			case 1:
				xy := strings.Split(pts[0], ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, xy[0], xy[1], st.color)
			default:
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, strings.Join(pts, " "), st.color, dash)
			}
			pts = pts[:0]
		}
		for i, v := range c.values {
			if v == nil || math.IsNaN(*v) {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), top+(1-min(max(*v, 0), 1))*ph))
		}
		flush()
		ly := height + 18*float64(ci) - 6
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`, left, ly, left+36, ly, st.color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, left+44, ly+4, html.EscapeString(c.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and escaped text only
}

var reportPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>After-action review — {{.Place}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#111;max-width:62rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .2rem}
h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid #888;padding-bottom:.15rem}
p.sub{margin:0 0 1rem;color:#333}
table{border-collapse:collapse;width:100%;font-size:12px;margin:.4rem 0}
th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#eee}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
table.meta td:first-child{width:15rem;font-weight:600}
code{font-size:11px;word-break:break-all}
figure{margin:.8rem 0;break-inside:avoid;page-break-inside:avoid}
svg{width:100%;height:auto}
.note{font-size:12px;color:#333}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid;page-break-after:avoid}tr{break-inside:avoid;page-break-inside:avoid}}
</style>
</head>
<body>
<h1>After-action review — {{.Place}}</h1>
<p class="sub">Events that happened (field time, occurred_at) from {{.PeriodFrom}} to {{.PeriodTo}}.</p>

<table class="meta">
<tr><td>Place</td><td>{{.Place}}</td></tr>
<tr><td>Period (field time)</td><td>{{.Period}}</td></tr>
<tr><td>Generated</td><td>{{.GeneratedAt}} by {{.Actor}}</td></tr>
<tr><td>This export</td><td>recorded as event <code>{{.ExportID}}</code> at position {{.Position}} of the log, before it was written; it covers the log up to that position</td></tr>
<tr><td>Chain hash at that position</td><td><code>{{.Hash}}</code></td></tr>
<tr><td>Events of the place read</td><td>{{.EventsInPlace}}</td></tr>
</table>
<p class="note">To check that the history behind this report was not altered since, run <code>actionledger audit verify</code> (or <code>GET /v1/audit/verify</code>): the chain must be intact and its hash at position {{.Position}} must be the one above.</p>

<h2>What this report holds</h2>
<p class="note">Key events, counts and indicators only. No person's name and no free text appear: titles, notes, evidence, reasons, concerns, feedback text, answers and person references are typed by people and may hold names, so they are left out. Communities, action points, referrals and feedback items appear by id; users by id and role. The full record is in the NDJSON or CSV export.</p>

<h2>Summary of the period</h2>
<table>
<tr><th>Communities triggered</th><th>Action points raised</th><th>achieved</th><th>dropped</th><th>reopened</th><th>Referrals raised</th><th>completed</th><th>safe burials</th><th>cancelled</th><th>Feedback received</th><th>loops closed</th></tr>
<tr>{{with .Totals}}<td class="n">{{.Triggered}}</td><td class="n">{{.APRaised}}</td><td class="n">{{.APAchieved}}</td><td class="n">{{.APDropped}}</td><td class="n">{{.APReopened}}</td><td class="n">{{.RefRaised}}</td><td class="n">{{.RefCompleted}}</td><td class="n">{{.SafeBur}}</td><td class="n">{{.RefCancelled}}</td><td class="n">{{.FBReceived}}</td><td class="n">{{.FBClosed}}</td>{{end}}</tr>
</table>

<h2>Completion of action points</h2>
<figure>{{.CompletionChart}}</figure>
<table>
<tr><th>Week</th><th class="n">action points</th><th class="n">in progress</th><th class="n">achieved</th><th class="n">dropped</th><th class="n">achieved rate</th><th class="n">implementation rate</th></tr>
{{range .Completion}}<tr><td>{{.Week}}</td>{{range .Values}}<td class="n">{{.}}</td>{{end}}</tr>
{{end}}</table>
<p class="note">State at the end of each week. achieved rate = achieved / (all − dropped); implementation rate = (in progress + achieved) / (all − dropped).</p>

<h2>Trust</h2>
<figure>{{.TrustChart}}</figure>
<table>
<tr><th>Week</th><th class="n">index</th><th class="n">T1</th><th class="n">T2</th><th class="n">T3</th><th class="n">T4</th><th class="n">visits</th><th></th></tr>
{{range .Trust}}<tr><td>{{.Week}}</td>{{range .Values}}<td class="n">{{.}}</td>{{end}}</tr>
{{end}}</table>
<p class="note">T1 mean visit rating (r−1)/4; T2 feedback loops closed within 14 days, of items received in the trailing 4 weeks; T3 suspected-case referrals raised within 24 h of onset, trailing 4 weeks; T4 one minus the share of complaints, rumours and refusals. Index: weighted mean of the components with data, weights {{.TrustWeights}}; "falling" when 0.10 or more below its value 4 weeks earlier and both weeks rest on at least {{.TrustMinVisits}} visits.</p>

<h2>Key events by week</h2>
<table>
<tr><th>Week</th><th class="n">triggered</th><th class="n">AP raised</th><th class="n">AP achieved</th><th class="n">AP dropped</th><th class="n">AP reopened</th><th class="n">referrals</th><th class="n">completed</th><th class="n">cancelled</th><th class="n">feedback</th><th class="n">loops closed</th></tr>
{{range .Weeks}}<tr><td>{{.Week}}</td><td class="n">{{.Triggered}}</td><td class="n">{{.APRaised}}</td><td class="n">{{.APAchieved}}</td><td class="n">{{.APDropped}}</td><td class="n">{{.APReopened}}</td><td class="n">{{.RefRaised}}</td><td class="n">{{.RefCompleted}}</td><td class="n">{{.RefCancelled}}</td><td class="n">{{.FBReceived}}</td><td class="n">{{.FBClosed}}</td></tr>
{{end}}</table>

<h2>Timeline</h2>
{{if .Omitted}}<p class="note">The {{.RowsShown}} earliest key events are listed; {{.Omitted}} later ones are counted above but not listed. Narrow the place or the period, or use the NDJSON export, to see them.</p>{{end}}
<table>
<tr><th>When (UTC, field time)</th><th>What</th><th>Record</th><th>Community</th><th>Details</th><th>By</th><th class="n">Position</th></tr>
{{range .Rows}}<tr><td>{{.At.UTC.Format "2006-01-02 15:04"}}</td><td>{{.What}}</td><td>{{.Subject}}</td><td>{{.Community}}</td><td>{{.Detail}}</td><td>{{.Actor}}</td><td class="n">{{.Position}}</td></tr>
{{else}}<tr><td colspan="7">No key events in the period.</td></tr>
{{end}}</table>
</body>
</html>
`))

package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// trendView is the trends page: one place's weekly completion and trust
// beside its parent's, as a chart and as the table the chart draws.
type trendView struct {
	Name       string
	Area       domain.Area
	Community  string
	Crumbs     []crumb
	ParentName string
	// HasParent is false for the nation, or when the parent is outside the
	// user's area (a chiefdom coordinator reads no district figures).
	HasParent bool
	Rows      []trendRow
	Chart     chart
	Position  uint64
	CSV       string
}

type trendRow struct {
	Week                            string
	Achieved, Implemented, Trust    *float64
	PAchieved, PImplemented, PTrust *float64
}

// displayArea is the area a read answers for, for headings and links: the
// application's own ReadScope, so the page names what the read counted.
func displayArea(actor app.Actor, asked domain.Area) (domain.Area, error) {
	return app.ReadScope(actor, asked, nil, app.StatsRoles...)
}

func (c *Console) trends(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	asked, community := askedArea(r)
	ctx := r.Context()
	comp, trust, pos, err := c.series(ctx, actor, asked, community)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	v := c.view(r, "trends", s, actor)
	tv := &trendView{Community: community, Position: pos}
	if community != "" && c.cfg.App != nil {
		cv, err := c.cfg.App.Queries.Community(ctx, actor, community)
		if err != nil {
			c.failed(w, r, s, err)
			return
		}
		tv.Area = domain.Area{District: cv.District, Chiefdom: cv.Chiefdom}
		tv.Name = cv.Name
	} else {
		if tv.Area, err = displayArea(actor, asked); err != nil {
			c.failed(w, r, s, err)
			return
		}
		tv.Name = titled(v.Lang, tv.Area)
	}
	tv.Crumbs = crumbs(v.Lang, "/trends", actor.Area, tv.Area)
	parent, hasParent := tv.Area, true
	if community == "" {
		parent, hasParent = parentOf(tv.Area)
	}
	var pcomp projections.CompletionStats
	var ptrust projections.TrustStats
	if hasParent && actor.Area.Covers(parent) {
		pc, pt, ppos, err := c.series(ctx, actor, parent, "")
		if err == nil {
			pcomp, ptrust, tv.HasParent = pc, pt, true
			tv.ParentName = titled(v.Lang, parent)
			tv.Position = min(tv.Position, ppos)
		} else if c.cfg.StatusOf(err) != http.StatusForbidden {
			c.failed(w, r, s, err)
			return
		}
	}
	tv.Rows = trendRows(comp, trust, pcomp, ptrust, tv.HasParent)
	tv.Chart = drawChart(tv.Rows, tv.HasParent)
	tv.CSV = "/trends" + placeQuery(asked, community)
	if strings.Contains(tv.CSV, "?") {
		tv.CSV += "&format=csv"
	} else {
		tv.CSV += "?format=csv"
	}
	if wantsCSV(r) {
		rows := [][]string{{"week", "achieved_rate", "implementation_rate", "trust_index", "parent_achieved_rate", "parent_implementation_rate", "parent_trust_index"}}
		for _, row := range tv.Rows {
			rows = append(rows, []string{row.Week, num(row.Achieved), num(row.Implemented), num(row.Trust), num(row.PAchieved), num(row.PImplemented), num(row.PTrust)})
		}
		writeCSV(w, r, "trends", rows)
		return
	}
	v.Data = tv
	c.render(w, r, http.StatusOK, v)
}

// num is a figure for a CSV cell: empty for no data.
func num(f *float64) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("%.4f", *f)
}

// trendRows joins the weeks of a place and its parent.
func trendRows(comp projections.CompletionStats, trust projections.TrustStats, pcomp projections.CompletionStats, ptrust projections.TrustStats, parent bool) []trendRow {
	rows := map[string]*trendRow{}
	row := func(week string) *trendRow {
		if rows[week] == nil {
			rows[week] = &trendRow{Week: week}
		}
		return rows[week]
	}
	for _, wk := range comp.Series {
		x := row(wk.Week)
		x.Achieved, x.Implemented = wk.AchievedRate, wk.ImplementationRate
	}
	for _, wk := range trust.Series {
		row(wk.Week).Trust = wk.Index
	}
	if parent {
		for _, wk := range pcomp.Series {
			x := row(wk.Week)
			x.PAchieved, x.PImplemented = wk.AchievedRate, wk.ImplementationRate
		}
		for _, wk := range ptrust.Series {
			row(wk.Week).PTrust = wk.Index
		}
	}
	out := make([]trendRow, 0, len(rows))
	for _, x := range rows {
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b trendRow) int { return strings.Compare(a.Week, b.Week) })
	return out
}

// chart is an SVG line chart of figures in [0,1], drawn on the server.
type chart struct {
	W, H int
	// X1 and X2 bound the plot, for the grid lines.
	X1, X2 int
	Lines  []line
	// Grid are the horizontal lines at 0, 25, 50, 75 and 100 %.
	Grid []gridLine
	// Ticks label some weeks along the bottom.
	Ticks []tick
	Empty bool
}

type line struct {
	// Key names the series (a text key); Class styles it.
	Key, Class string
	// Segments are polyline point lists, broken where a week has no figure.
	Segments []string
	Dashed   bool
}

type gridLine struct {
	Y     int
	Label string
}

type tick struct {
	X      int
	Label  string
	Anchor string
}

const (
	chartW, chartH        = 640, 260
	chartLeft, chartRight = 44, 12
	chartTop, chartBottom = 12, 28
)

func drawChart(rows []trendRow, parent bool) chart {
	ch := chart{W: chartW, H: chartH, X1: chartLeft, X2: chartW - chartRight, Empty: len(rows) == 0}
	plotW, plotH := chartW-chartLeft-chartRight, chartH-chartTop-chartBottom
	for i := 0; i <= 4; i++ {
		y := chartTop + plotH - plotH*i/4
		ch.Grid = append(ch.Grid, gridLine{Y: y, Label: fmt.Sprintf("%d%%", i*25)})
	}
	x := func(i int) float64 {
		if len(rows) < 2 {
			return float64(chartLeft + plotW/2)
		}
		return float64(chartLeft) + float64(plotW)*float64(i)/float64(len(rows)-1)
	}
	step := max(1, (len(rows)+3)/4) // at most five labels: they stay apart on a phone
	for i := 0; i < len(rows); i += step {
		ch.Ticks = append(ch.Ticks, tick{X: int(x(i)), Label: rows[i].Week, Anchor: "middle"})
	}
	if n := len(ch.Ticks); n > 1 { // the last label ends at the plot's edge
		ch.Ticks[n-1].Anchor = "end"
		if ch.Ticks[0].X == chartLeft {
			ch.Ticks[0].Anchor = "start"
		}
	}
	series := []struct {
		key, class string
		dashed     bool
		get        func(trendRow) *float64
	}{
		{"achieved_rate", "s-achieved", false, func(r trendRow) *float64 { return r.Achieved }},
		{"implementation_rate", "s-implemented", false, func(r trendRow) *float64 { return r.Implemented }},
		{"trust_index", "s-trust", false, func(r trendRow) *float64 { return r.Trust }},
	}
	if parent {
		series = append(series,
			struct {
				key, class string
				dashed     bool
				get        func(trendRow) *float64
			}{"parent_achieved", "s-achieved", true, func(r trendRow) *float64 { return r.PAchieved }},
			struct {
				key, class string
				dashed     bool
				get        func(trendRow) *float64
			}{"parent_trust", "s-trust", true, func(r trendRow) *float64 { return r.PTrust }})
	}
	for _, s := range series {
		l := line{Key: s.key, Class: s.class, Dashed: s.dashed}
		var seg []string
		flush := func() {
			if len(seg) > 0 {
				if len(seg) == 1 { // a lone week still shows: a short tick
					seg = append(seg, seg[0])
				}
				l.Segments = append(l.Segments, strings.Join(seg, " "))
			}
			seg = nil
		}
		for i, row := range rows {
			v := s.get(row)
			if v == nil {
				flush()
				continue
			}
			y := float64(chartTop) + float64(plotH)*(1-min(max(*v, 0), 1))
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", x(i), y))
		}
		flush()
		ch.Lines = append(ch.Lines, l)
	}
	return ch
}

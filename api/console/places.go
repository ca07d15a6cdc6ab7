package console

import (
	"net/http"
	"strconv"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// scoreView is the scorecard: one row per place one level below the area,
// to compare them and drill down.
type scoreView struct {
	Name      string
	Area      domain.Area
	Crumbs    []crumb
	Rows      []scoreRow
	Trends    string
	CSV       string
	Position  uint64
	Community bool // rows are communities
	// Prev and Next page the rows; Of says which rows are shown.
	Prev, Next string
	From, To   int
	Total      int
}

// placesPage is how many places a scorecard page shows.
const placesPage = 50

type scoreRow struct {
	Name, Href, Trends string
	Counts             projections.Counts
	Trust              *float64
	// Change is the trust index now less four weeks earlier.
	Change  *float64
	Falling bool
	// LastVisit is the last week with a visit.
	LastVisit string
}

func (c *Console) places(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	asked, _ := askedArea(r)
	ctx := r.Context()
	kids, pos, err := c.cfg.Reads.ChildTrust(ctx, actor, asked)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	area, err := displayArea(actor, asked)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	v := c.view(r, "places", s, actor)
	sv := &scoreView{Area: area, Name: titled(v.Lang, area), Position: pos,
		Crumbs: crumbs(v.Lang, "/places", actor.Area, area), Trends: "/trends" + placeQuery(area, "")}
	sv.Total = len(kids)
	if !wantsCSV(r) {
		pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
		pageNo = max(pageNo, 1)
		from := min((pageNo-1)*placesPage, len(kids))
		to := min(from+placesPage, len(kids))
		q := placeQuery(area, "")
		if q == "" {
			q = "?"
		} else {
			q += "&"
		}
		link := func(n int) string { return "/places" + q + "page=" + strconv.Itoa(n) }
		if from > 0 {
			sv.Prev = link(pageNo - 1)
		}
		if to < len(kids) {
			sv.Next = link(pageNo + 1)
		}
		sv.From, sv.To = from+1, to
		kids = kids[from:to]
	}
	for _, k := range kids {
		child := domain.Area{District: k.District, Chiefdom: k.Chiefdom}
		comp, trust, kpos, err := c.series(ctx, actor, child, k.CommunityID)
		if err != nil {
			c.failed(w, r, s, err)
			return
		}
		sv.Position = min(sv.Position, kpos)
		row := scoreRow{Counts: last(comp), Trust: k.Latest.Index, Falling: k.Latest.Falling,
			Change: change(trust.Series), LastVisit: lastVisit(trust.Series)}
		switch {
		case k.CommunityID != "":
			sv.Community = true
			row.Name = k.CommunityID
			if c.cfg.App != nil {
				if cv, err := c.cfg.App.Queries.Community(ctx, actor, k.CommunityID); err == nil {
					row.Name = cv.Name
				}
				row.Href = "/case/community/" + k.CommunityID
			}
			row.Trends = "/trends" + placeQuery(domain.Area{}, k.CommunityID)
		case k.Chiefdom != "":
			row.Name, row.Href = placeName(k.Chiefdom), "/places"+placeQuery(child, "")
			row.Trends = "/trends" + placeQuery(child, "")
		default:
			row.Name, row.Href = placeName(k.District), "/places"+placeQuery(child, "")
			row.Trends = "/trends" + placeQuery(child, "")
		}
		sv.Rows = append(sv.Rows, row)
	}
	if wantsCSV(r) {
		rows := [][]string{{"place", "action_points", "open", "in_progress", "achieved", "dropped", "overdue", "achieved_rate", "implementation_rate", "trust_index", "trust_change_4w", "falling", "last_visit_week"}}
		for _, x := range sv.Rows {
			n := x.Counts
			rows = append(rows, []string{x.Name, strconv.Itoa(n.Total), strconv.Itoa(n.Open), strconv.Itoa(n.InProgress), strconv.Itoa(n.Achieved),
				strconv.Itoa(n.Dropped), strconv.Itoa(n.Overdue), num(n.AchievedRate), num(n.ImplementationRate), num(x.Trust), num(x.Change),
				strconv.FormatBool(x.Falling), x.LastVisit})
		}
		writeCSV(w, r, "scorecard", rows)
		return
	}
	sv.CSV = "/places" + placeQuery(area, "")
	if sv.CSV == "/places" {
		sv.CSV += "?format=csv"
	} else {
		sv.CSV += "&format=csv"
	}
	v.Data = sv
	c.render(w, r, http.StatusOK, v)
}

// last is the completion counts now: the totals the stats route answers.
func last(comp projections.CompletionStats) projections.Counts { return comp.Counts }

// change is the latest trust index less the one four weeks before it, the
// comparison the falling flag makes.
func change(series []projections.TrustWeek) *float64 {
	for i := len(series) - 1; i >= 4; i-- {
		if series[i].Index == nil {
			continue
		}
		if prev := series[i-4].Index; prev != nil {
			d := *series[i].Index - *prev
			return &d
		}
		return nil
	}
	return nil
}

// lastVisit is the latest week with a visit, or "".
func lastVisit(series []projections.TrustWeek) string {
	for i := len(series) - 1; i >= 0; i-- {
		if series[i].Visits > 0 {
			return series[i].Week
		}
	}
	return ""
}

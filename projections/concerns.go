package projections

import (
	"slices"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// ConcernStats answers /v1/stats/concerns: the unmet needs communities
// raised at visits, by need category, in total, per ISO week of the visit
// (occurred_at) and per place one level below the one asked about.
type ConcernStats struct {
	// Visits counts the visits in the period; VisitsWithConcerns those that
	// raised at least one concern.
	Visits             int            `json:"visits"`
	VisitsWithConcerns int            `json:"visits_with_concerns"`
	Concerns           int            `json:"concerns"`
	ByNeed             map[string]int `json:"by_need"`
	Series             []ConcernWeek  `json:"series"`
	ByPlace            []ConcernPlace `json:"by_place"`
}

// ConcernCounts are the concerns of one week or one place.
type ConcernCounts struct {
	Visits   int            `json:"visits"`
	Concerns int            `json:"concerns"`
	ByNeed   map[string]int `json:"by_need"`
}

// ConcernWeek is one week of the series.
type ConcernWeek struct {
	Week string `json:"week"`
	ConcernCounts
}

// ConcernPlace is one place below the one asked about: the districts of the
// nation, the chiefdoms of a district, the communities of a chiefdom (or
// the community itself).
type ConcernPlace struct {
	District    string `json:"district"`
	Chiefdom    string `json:"chiefdom,omitempty"`
	CommunityID string `json:"community_id,omitempty"`
	Name        string `json:"name,omitempty"`
	ConcernCounts
}

func newConcernCounts() ConcernCounts {
	c := ConcernCounts{ByNeed: map[string]int{}}
	for _, n := range domain.Needs {
		c.ByNeed[n] = 0
	}
	return c
}

// needCounts counts concerns by need, in the order of domain.Needs (a
// category the domain does not list any more goes to other).
type needCounts struct {
	visits, concerns int
	byNeed           [8]int
	other            map[string]int
}

func (c *needCounts) add(need string) {
	c.concerns++
	for i, n := range domain.Needs {
		if n == need {
			c.byNeed[i]++
			return
		}
	}
	if c.other == nil {
		c.other = map[string]int{}
	}
	c.other[need]++
}

func (c *needCounts) counts() ConcernCounts {
	out := newConcernCounts()
	out.Visits, out.Concerns = c.visits, c.concerns
	for i, n := range domain.Needs {
		out.ByNeed[n] = c.byNeed[i]
	}
	for n, k := range c.other {
		out.ByNeed[n] += k
	}
	return out
}

// Concerns computes the concern counts for f.
func (m *Lists) Concerns(f Filter) ConcernStats {
	lf := newListFilter(&f)
	from, to := nanos(f.From), nanos(f.To)
	in := func(at int64) bool { return (f.From.IsZero() || at >= from) && (f.To.IsZero() || at < to) }
	level := 0 // 0: by district, 1: by chiefdom, 2: by community
	switch {
	case f.CommunityID != "" || f.Chiefdom != "":
		level = 2
	case f.District != "":
		level = 1
	}
	var comms []*lcCommunity
	var first, last int64
	for _, n := range m.commIdx.after(lf.scope, "") {
		c := &m.comms[n]
		if c.Stub || !lf.has(c.Place) {
			continue
		}
		comms = append(comms, c)
		for _, at := range c.Visits {
			if in(at) {
				if first == 0 || at < first {
					first = at
				}
				last = max(last, at)
			}
		}
	}
	var weeks []Week
	if first != 0 || !f.From.IsZero() {
		weeks = seriesRange(&f, time.Unix(0, first).UTC(), time.Unix(0, last).UTC(), f.Now)
	}
	// A visit's week is found by arithmetic from the first week's Monday:
	// the series' weeks are consecutive.
	var start int64
	if len(weeks) > 0 {
		start = nanos(weeks[0].Start())
	}
	const week = int64(7 * 24 * time.Hour)
	weekOfVisit := func(at int64) int {
		if len(weeks) == 0 || at < start {
			return -1
		}
		if i := int((at - start) / week); i < len(weeks) {
			return i
		}
		return -1
	}
	series := make([]needCounts, len(weeks))
	var total needCounts
	visitsWith := 0
	var places []*needCounts
	var placeRows []ConcernPlace
	byKey := map[string]int{}
	for _, c := range comms {
		key, pl := c.Place.District, ConcernPlace{District: c.Names[0]}
		switch level {
		case 1:
			key, pl.Chiefdom = key+"/"+c.Place.Chiefdom, c.Names[1]
		case 2:
			key, pl.Chiefdom, pl.CommunityID, pl.Name = c.ID, c.Names[1], c.ID, c.Name
		}
		pi, ok := byKey[key]
		if !ok {
			pi = len(places)
			byKey[key] = pi
			places = append(places, &needCounts{})
			placeRows = append(placeRows, pl)
		}
		p := places[pi]
		// Concerns are kept in the order of their visits.
		k := 0
		for vi, at := range c.Visits {
			w := -1
			counted := in(at)
			if counted {
				w = weekOfVisit(at)
				total.visits++
				p.visits++
				if w >= 0 {
					series[w].visits++
				}
			}
			raised := 0
			for ; k < len(c.Concerns) && int(c.Concerns[k].Visit) == vi; k++ {
				if !counted {
					continue
				}
				need := c.Concerns[k].Need
				raised++
				total.add(need)
				p.add(need)
				if w >= 0 {
					series[w].add(need)
				}
			}
			if raised > 0 {
				visitsWith++
			}
		}
	}
	tc := total.counts()
	out := ConcernStats{Visits: tc.Visits, VisitsWithConcerns: visitsWith, Concerns: tc.Concerns, ByNeed: tc.ByNeed,
		Series: make([]ConcernWeek, len(weeks)), ByPlace: make([]ConcernPlace, len(places))}
	for i, w := range weeks {
		out.Series[i] = ConcernWeek{Week: w.String(), ConcernCounts: series[i].counts()}
	}
	for i, p := range places {
		out.ByPlace[i] = placeRows[i]
		out.ByPlace[i].ConcernCounts = p.counts()
	}
	slices.SortFunc(out.ByPlace, func(a, b ConcernPlace) int {
		return strings.Compare(nameKey(a.District)+"\x00"+nameKey(a.Chiefdom)+"\x00"+a.CommunityID,
			nameKey(b.District)+"\x00"+nameKey(b.Chiefdom)+"\x00"+b.CommunityID)
	})
	return out
}

// ConcernStats answers the concern counts for f and the model's position.
func (e *Engine) ConcernStats(f Filter) (ConcernStats, uint64) {
	if e.byName[NameLists] == nil {
		return ConcernStats{}, 0
	}
	return query(e, NameLists, &f, "concerns", func(m Model) ConcernStats { return m.(*Lists).Concerns(f) })
}

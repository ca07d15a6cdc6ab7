package projections

import (
	"slices"
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

// Concerns computes the concern counts for f.
func (m *Lists) Concerns(f Filter) ConcernStats {
	out := ConcernStats{ByNeed: newConcernCounts().ByNeed, Series: []ConcernWeek{}, ByPlace: []ConcernPlace{}}
	from, to := nanos(f.From), nanos(f.To)
	in := func(at int64) bool { return (f.From.IsZero() || at >= from) && (f.To.IsZero() || at < to) }
	level := 0 // 0: by district, 1: by chiefdom, 2: by community
	switch {
	case f.CommunityID != "" || f.Chiefdom != "":
		level = 2
	case f.District != "":
		level = 1
	}
	places := map[string]*ConcernPlace{}
	var first, last int64
	sf := f
	sf.From, sf.To = time.Time{}, time.Time{}
	var comms []*lcCommunity
	for _, n := range m.commIdx[f.scopeKey()] {
		c := &m.comms[n]
		if !sf.matches(c.Place, c.Registered) {
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
	pos := map[Week]int{}
	if first != 0 || !f.From.IsZero() {
		weeks = seriesRange(&f, time.Unix(0, first).UTC(), time.Unix(0, last).UTC(), f.Now)
	}
	out.Series = make([]ConcernWeek, len(weeks))
	for i, w := range weeks {
		out.Series[i] = ConcernWeek{Week: w.String(), ConcernCounts: newConcernCounts()}
		pos[w] = i
	}
	week := func(at int64) *ConcernCounts {
		if i, ok := pos[weekOf(time.Unix(0, at))]; ok {
			return &out.Series[i].ConcernCounts
		}
		return nil
	}
	for _, c := range comms {
		key, pl := c.Place.District, ConcernPlace{District: c.Names[0]}
		switch level {
		case 1:
			key, pl.Chiefdom = key+"/"+c.Place.Chiefdom, c.Names[1]
		case 2:
			key, pl.Chiefdom, pl.CommunityID, pl.Name = c.ID, c.Names[1], c.ID, c.Name
		}
		p := places[key]
		if p == nil {
			pl.ConcernCounts = newConcernCounts()
			p = &pl
			places[key] = p
		}
		// Concerns are kept in the order of their visits.
		k := 0
		for vi, at := range c.Visits {
			raised := 0
			for k < len(c.Concerns) && int(c.Concerns[k].Visit) == vi {
				if in(at) {
					need := c.Concerns[k].Need
					raised++
					out.Concerns++
					out.ByNeed[need]++
					p.Concerns++
					p.ByNeed[need]++
					if w := week(at); w != nil {
						w.Concerns++
						w.ByNeed[need]++
					}
				}
				k++
			}
			if !in(at) {
				continue
			}
			out.Visits++
			p.Visits++
			if raised > 0 {
				out.VisitsWithConcerns++
			}
			if w := week(at); w != nil {
				w.Visits++
			}
		}
	}
	for _, p := range places {
		out.ByPlace = append(out.ByPlace, *p)
	}
	slices.SortFunc(out.ByPlace, func(a, b ConcernPlace) int {
		ka := nameKey(a.District) + "\x00" + nameKey(a.Chiefdom) + "\x00" + a.CommunityID
		kb := nameKey(b.District) + "\x00" + nameKey(b.Chiefdom) + "\x00" + b.CommunityID
		if ka < kb {
			return -1
		}
		if ka > kb {
			return 1
		}
		return 0
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

package projections

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// PlaceTrust is where one place's trust stands: the latest week of its
// trend that has an index (Week is empty when it has none yet).
type PlaceTrust struct {
	// District and Chiefdom are place keys (domain.PlaceKey), CommunityID an
	// id; a place one level below the filter sets one more of them.
	District    string    `json:"district"`
	Chiefdom    string    `json:"chiefdom,omitempty"`
	CommunityID string    `json:"community_id,omitempty"`
	Latest      TrustWeek `json:"latest"`
}

// ChildTrust answers, for each place one level below f (the districts of the
// nation, the chiefdoms of a district, the communities of a chiefdom), the
// latest week of its trust trend, so a coordinator sees which places are
// falling. Each child's week is exactly what TrustStats answers for that
// child: the same code computes both.
func (e *Engine) ChildTrust(f Filter) ([]PlaceTrust, uint64) {
	return query(e, NameTrust, &f, "children", func(m Model) []PlaceTrust { return m.(*Trust).children(f) })
}

func (m *Trust) children(f Filter) []PlaceTrust {
	seen := map[Filter]bool{}
	var kids []Filter
	for _, n := range m.idx.list(f.scope()) {
		cm := &m.comms[n]
		if !f.matches(cm.Place, time.Time{}) {
			continue
		}
		child := Filter{District: cm.Place.District}
		switch {
		case f.CommunityID != "":
			continue // a community has no child places
		case f.Chiefdom != "":
			child.Chiefdom, child.CommunityID = cm.Place.Chiefdom, cm.ID
		case f.District != "":
			child.Chiefdom = cm.Place.Chiefdom
		}
		if !seen[child] {
			seen[child] = true
			kids = append(kids, child)
		}
	}
	out := make([]PlaceTrust, 0, len(kids))
	for _, k := range kids {
		k.From, k.To, k.Now = f.From, f.To, f.Now
		pt := PlaceTrust{District: k.District, Chiefdom: k.Chiefdom, CommunityID: k.CommunityID}
		series := m.Stats(k).Series
		for i := len(series) - 1; i >= 0; i-- {
			if series[i].Index != nil {
				pt.Latest = series[i]
				break
			}
		}
		out = append(out, pt)
	}
	slices.SortFunc(out, func(a, b PlaceTrust) int {
		return cmp.Or(strings.Compare(a.District, b.District), strings.Compare(a.Chiefdom, b.Chiefdom),
			strings.Compare(a.CommunityID, b.CommunityID))
	})
	return out
}

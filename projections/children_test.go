package projections_test

import (
	"testing"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// TestChildTrustIsEachChildsOwnTrend: for every level, each place one level
// down gets exactly the latest week TrustStats answers for that place, and
// no place outside the filter appears.
func TestChildTrustIsEachChildsOwnTrend(t *testing.T) {
	w := newWorld(t)
	places := map[string]domain.Place{
		"C1": {District: "Kenema", Chiefdom: "Nongowa", Section: "Hangha"},
		"C2": {District: "kenema ", Chiefdom: "NONGOWA", Section: "Kpayama"},
		"C3": {District: "Kenema", Chiefdom: "Lower  Bambara", Section: "Panguma"},
		"C4": {District: "Kailahun", Chiefdom: "Luawa", Section: "Giema"},
	}
	// Ratings per week: C3 falls from 5 to 1, the others hold.
	ratings := map[string][]int{"C1": {4, 4, 4, 4, 4, 4}, "C2": {3, 3, 3, 3, 3, 3}, "C3": {5, 5, 5, 3, 1, 1}, "C4": {4, 4, 4, 4, 4, 2}}
	var pos uint64
	for id, p := range places {
		w.append(domain.CommunityStream(id), t0, &domain.CommunityRegistered{ID: id, Name: "Village " + id, Place: p, Population: 500})
		for week, r := range ratings[id] {
			pos = max(pos, w.append(domain.CommunityStream(id), t0.AddDate(0, 0, 7*week+1), &domain.VisitRecorded{Kind: "follow_up", TrustRating: r}))
		}
	}
	e := w.engine(projections.Config{})
	run(t, e)
	waitFor(t, e, pos)

	tests := []struct {
		name string
		f    projections.Filter
		want []projections.Filter // the children, in order
	}{
		{name: "nation: districts", f: projections.Filter{}, want: []projections.Filter{{District: "kailahun"}, {District: "kenema"}}},
		{name: "district: chiefdoms", f: projections.Filter{District: "Kenema"},
			want: []projections.Filter{{District: "kenema", Chiefdom: "lower bambara"}, {District: "kenema", Chiefdom: "nongowa"}}},
		{name: "chiefdom: communities", f: projections.Filter{District: "Kenema", Chiefdom: "Nongowa"},
			want: []projections.Filter{{District: "kenema", Chiefdom: "nongowa", CommunityID: "C1"}, {District: "kenema", Chiefdom: "nongowa", CommunityID: "C2"}}},
		{name: "community: none", f: projections.Filter{CommunityID: "C1"}},
	}
	falling := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := e.ChildTrust(tc.f)
			if len(got) != len(tc.want) {
				t.Fatalf("%d children %+v, want %d", len(got), got, len(tc.want))
			}
			for i, k := range got {
				want := tc.want[i]
				if k.District != want.District || k.Chiefdom != want.Chiefdom || k.CommunityID != want.CommunityID {
					t.Errorf("child %d is %s/%s/%s, want %+v", i, k.District, k.Chiefdom, k.CommunityID, want)
				}
				own, _ := e.TrustStats(want)
				var last projections.TrustWeek
				for _, wk := range own.Series {
					if wk.Index != nil {
						last = wk
					}
				}
				if last.Week == "" || k.Latest.Week != last.Week || *k.Latest.Index != *last.Index || k.Latest.Falling != last.Falling {
					t.Errorf("child %+v: latest %+v, its own trend ends %+v", want, k.Latest, last)
				}
				if k.Latest.Falling {
					falling++
				}
			}
		})
	}
	if falling == 0 {
		t.Error("no child was falling: the data does not exercise the flag")
	}
}

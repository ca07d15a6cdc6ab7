package generate_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/backlog"
	"github.com/actionledger/actionledger/services/generate"
	"github.com/actionledger/actionledger/services/places"
)

func gen(t *testing.T, sc generate.Scale, seed uint64) ([]byte, generate.Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := generate.Generate(&buf, sc, seed)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

func TestDeterministic(t *testing.T) {
	a, _ := gen(t, generate.Scales["tiny"], 3)
	b, _ := gen(t, generate.Scales["tiny"], 3)
	c, _ := gen(t, generate.Scales["tiny"], 4)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different files")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same file")
	}
}

// TestShape checks a mid-sized history against its summary and the rules
// the importer and the server rely on: users first and declared, keys
// unique, field times in 2015 and never after their sync, records created
// before they are used, and the action point fates exact.
func TestShape(t *testing.T) {
	sc := generate.Scale{Name: "test", Districts: 4, Communities: 400, Mobilizers: 90, ActionPoints: 2104, Weeks: 12, Referrals: 3000, Feedback: 3000}
	file, sum := gen(t, sc, 1)
	r := backlog.NewReader(bytes.NewReader(file))
	keys := map[string]bool{}
	created := map[string]bool{}
	items := 0
	type state struct{ last time.Time }
	for {
		it, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		items++
		if keys[it.As+"\x00"+it.Key] {
			t.Fatalf("key %s used twice by %s", it.Key, it.As)
		}
		keys[it.As+"\x00"+it.Key] = true
		var body struct {
			ID          string `json:"id"`
			CommunityID string `json:"community_id"`
			OccurredAt  string `json:"occurred_at"`
		}
		if err := json.Unmarshal(it.Body, &body); err != nil {
			t.Fatalf("line %d: %v", r.Line(), err)
		}
		at, err := time.Parse(time.RFC3339, body.OccurredAt)
		if err != nil || at.Year() != 2015 {
			t.Fatalf("line %d: occurred_at %q", r.Line(), body.OccurredAt)
		}
		h := backlog.HintOf(it)
		switch {
		case h.Creates:
			if !created["community/"+h.Community] {
				t.Fatalf("line %d: %s raised in community %s before it was registered", r.Line(), h.Record, h.Community)
			}
			created[h.Record] = true
		case h.Record != "":
			if !created[h.Record] {
				t.Fatalf("line %d: %s %s before its record was created", r.Line(), it.Method, it.Path)
			}
		case it.Path == "/v1/communities":
			created["community/"+h.Community] = true
		default:
			if !created["community/"+h.Community] {
				t.Fatalf("line %d: %s before the community was registered", r.Line(), it.Path)
			}
		}
	}
	m := r.Meta()
	if m == nil || m.Items != items || m.Users != len(r.Users) || m.Events != sum.Events || sum.Items != items {
		t.Fatalf("meta %+v, summary %+v, read %d items and %d users", m, sum, items, len(r.Users))
	}
	if sum.Communities != 400 || sum.ActionPoints != 2104 || sum.Referrals != 3000 || sum.Feedback != 3000 || sum.Visits != 400*12 {
		t.Errorf("summary %+v", sum)
	}
	// 85% of 2104 is 1788.4, 7% is 147.28, 5% is 105.2.
	want := map[string]int{"in_progress": 1788, "achieved": 147, "open": 105, "dropped": 2104 - 1788 - 147 - 105}
	for st, n := range want {
		if sum.ActionPointsBy[st] != n {
			t.Errorf("%s: %d, want %d", st, sum.ActionPointsBy[st], n)
		}
	}
	if sum.LateItems == 0 || sum.MaxLate < 48*time.Hour {
		t.Errorf("late syncs: %d, up to %s; want some, days late", sum.LateItems, sum.MaxLate)
	}
	if sum.EventsByType["UserCreated"] != len(r.Users) {
		t.Errorf("UserCreated %d, users %d", sum.EventsByType["UserCreated"], len(r.Users))
	}
}

// TestPlaces checks that the generator names only places the server
// accepts, spelt as the server stores them, and that at full size it uses
// every district and gives every chiefdom a mobilizer — for Sierra Leone's
// list and for another country's.
func TestPlaces(t *testing.T) {
	other, err := places.Parse(strings.NewReader(`# a made-up country, for the test
district_code,district,chiefdom_code,chiefdom
N1,North,N1-01,Hilltop
N1,North,N1-02,Riverside
S1,South,S1-01,Coast
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                 string
		pl                   *places.Catalogue
		districts, chiefdoms int
	}{
		{"sierra_leone", places.Default(), 16, 167},
		{"another_country", other, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := generate.Scale{Name: "places", Communities: 400, Mobilizers: 200, ActionPoints: 10, Weeks: 1, Referrals: 5, Feedback: 5}
			var buf bytes.Buffer
			sum, err := generate.GenerateIn(&buf, sc, 1, tc.pl)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Districts != tc.districts || sum.Chiefdoms != tc.chiefdoms {
				t.Errorf("%d districts, %d chiefdoms; want %d and %d", sum.Districts, sum.Chiefdoms, tc.districts, tc.chiefdoms)
			}
			canonical := func(what, district, chiefdom string) {
				t.Helper()
				a, err := tc.pl.ResolveArea(district, chiefdom)
				if err != nil || a.District != district || a.Chiefdom != chiefdom {
					t.Errorf("%s in %q/%q: resolves to %+v, %v; want itself", what, district, chiefdom, a, err)
				}
			}
			r := backlog.NewReader(bytes.NewReader(buf.Bytes()))
			withMobilizer := map[string]bool{}
			communities := 0
			for {
				it, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if it.Method == "POST" && it.Path == "/v1/communities" {
					var b struct{ District, Chiefdom string }
					if err := json.Unmarshal(it.Body, &b); err != nil {
						t.Fatal(err)
					}
					canonical("community", b.District, b.Chiefdom)
					communities++
				}
			}
			for _, u := range r.Users {
				canonical("user "+u.Ref, u.District, u.Chiefdom)
				if u.Role == "mobilizer" {
					withMobilizer[u.District+"/"+u.Chiefdom] = true
				}
			}
			if communities != sc.Communities {
				t.Errorf("%d communities registered, want %d", communities, sc.Communities)
			}
			if len(withMobilizer) != tc.chiefdoms {
				t.Errorf("%d chiefdoms have a mobilizer, want all %d", len(withMobilizer), tc.chiefdoms)
			}
		})
	}
}

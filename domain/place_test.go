package domain_test

import (
	"testing"

	"github.com/actionledger/actionledger/domain"
)

func TestPlaceKey(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"already_normal", "kailahun", "kailahun"},
		{"trim_and_case", "  Kailahun ", "kailahun"},
		{"upper", "KAILAHUN", "kailahun"},
		{"inner_spaces", "Kissi  Teng", "kissi teng"},
		{"inner_tabs_and_newlines", "Kissi\t\n Teng", "kissi teng"},
		{"many_words", "  Western   Area  Rural ", "western area rural"},
		{"non_ascii_case", "ÉCOLE Ñ", "école ñ"},
		{"non_breaking_space", "Kissi\u00a0Teng", "kissi teng"},
		{"empty", "", ""},
		{"blank", " \t ", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.PlaceKey(tc.in); got != tc.want {
				t.Errorf("PlaceKey(%q) = %q; want %q", tc.in, got, tc.want)
			}
			if got := domain.PlaceKey(domain.PlaceKey(tc.in)); got != tc.want {
				t.Errorf("PlaceKey is not idempotent on %q: %q", tc.in, got)
			}
		})
	}
	// The pairs PRODUCT.md and the doc comment call the same place.
	same := [][2]string{{"  Kailahun ", "kailahun"}, {"Kissi Teng", "kissi   TENG"}, {"Kenema", "kenema\n"}}
	for _, p := range same {
		if domain.PlaceKey(p[0]) != domain.PlaceKey(p[1]) {
			t.Errorf("PlaceKey(%q) != PlaceKey(%q)", p[0], p[1])
		}
	}
	different := [][2]string{{"Kissi Teng", "KissiTeng"}, {"Kailahun", "Kenema"}, {"Bo", "Bo Town"}}
	for _, p := range different {
		if domain.PlaceKey(p[0]) == domain.PlaceKey(p[1]) {
			t.Errorf("PlaceKey(%q) == PlaceKey(%q)", p[0], p[1])
		}
	}
}

var (
	national   = domain.Area{}
	kailahun   = domain.Area{District: "Kailahun"}
	luawa      = domain.Area{District: "Kailahun", Chiefdom: "Luawa"}
	kissiTeng  = domain.Area{District: "Kailahun", Chiefdom: "Kissi Teng"}
	kenema     = domain.Area{District: "Kenema"}
	kenemaNong = domain.Area{District: "Kenema", Chiefdom: "Nongowa"}
)

func TestAreaContains(t *testing.T) {
	cases := []struct {
		name  string
		area  domain.Area
		place domain.Place
		want  bool
	}{
		{"national_any_place", national, domain.Place{District: "Kenema", Chiefdom: "Nongowa"}, true},
		{"national_empty_place", national, domain.Place{}, true},
		{"national_chiefdom_only_is_still_national", domain.Area{Chiefdom: "Luawa"}, domain.Place{District: "Bo", Chiefdom: "Bo Town"}, true},
		{"district_same", kailahun, domain.Place{District: "Kailahun", Chiefdom: "Luawa"}, true},
		{"district_case_and_spaces", kailahun, domain.Place{District: "  KAILAHUN ", Chiefdom: "Jawie"}, true},
		{"district_area_spelled_oddly", domain.Area{District: " kailahun  "}, domain.Place{District: "Kailahun", Chiefdom: "Jawie"}, true},
		{"district_other", kailahun, domain.Place{District: "Kenema", Chiefdom: "Nongowa"}, false},
		{"district_prefix_is_not_enough", domain.Area{District: "Bo"}, domain.Place{District: "Bombali", Chiefdom: "Bombali Sebora"}, false},
		{"district_place_without_district", kailahun, domain.Place{Chiefdom: "Luawa"}, false},
		{"chiefdom_same", luawa, domain.Place{District: "Kailahun", Chiefdom: "Luawa", Section: "Giema"}, true},
		{"chiefdom_case_and_spaces", kissiTeng, domain.Place{District: "kailahun", Chiefdom: " KISSI   teng"}, true},
		{"chiefdom_other_in_district", luawa, domain.Place{District: "Kailahun", Chiefdom: "Jawie"}, false},
		{"chiefdom_same_name_other_district", domain.Area{District: "Kenema", Chiefdom: "Luawa"}, domain.Place{District: "Kailahun", Chiefdom: "Luawa"}, false},
		{"chiefdom_place_without_chiefdom", luawa, domain.Place{District: "Kailahun"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.area.Contains(tc.place); got != tc.want {
				t.Errorf("%+v.Contains(%+v) = %v; want %v", tc.area, tc.place, got, tc.want)
			}
		})
	}
}

func TestAreaCovers(t *testing.T) {
	cases := []struct {
		name string
		a, b domain.Area
		want bool
	}{
		{"national_covers_national", national, national, true},
		{"national_covers_district", national, kenema, true},
		{"national_covers_chiefdom", national, luawa, true},
		{"district_covers_itself", kailahun, kailahun, true},
		{"district_covers_its_chiefdom", kailahun, luawa, true},
		{"district_covers_case_difference", kailahun, domain.Area{District: " KAILAHUN", Chiefdom: "luawa"}, true},
		{"district_does_not_cover_nation", kailahun, national, false},
		{"district_does_not_cover_national_query_with_chiefdom", kailahun, domain.Area{Chiefdom: "Luawa"}, false},
		{"district_does_not_cover_other_district", kailahun, kenema, false},
		{"district_does_not_cover_other_districts_chiefdom", kailahun, kenemaNong, false},
		{"chiefdom_covers_itself", luawa, luawa, true},
		{"chiefdom_covers_case_and_spaces", kissiTeng, domain.Area{District: "kailahun ", Chiefdom: "kissi  TENG"}, true},
		{"chiefdom_does_not_cover_its_district", luawa, kailahun, false},
		{"chiefdom_does_not_cover_nation", luawa, national, false},
		{"chiefdom_does_not_cover_sibling", luawa, kissiTeng, false},
		{"chiefdom_does_not_cover_same_name_elsewhere", domain.Area{District: "Kenema", Chiefdom: "Luawa"}, luawa, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Covers(tc.b); got != tc.want {
				t.Errorf("%+v.Covers(%+v) = %v; want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestAreaIsNational(t *testing.T) {
	cases := []struct {
		area domain.Area
		want bool
	}{
		{national, true}, {kailahun, false}, {luawa, false}, {domain.Area{Chiefdom: "Luawa"}, true},
	}
	for _, tc := range cases {
		if got := tc.area.IsNational(); got != tc.want {
			t.Errorf("%+v.IsNational() = %v; want %v", tc.area, got, tc.want)
		}
	}
}

// Covers must agree with Contains: if a covers b, every place in b is in a.
// Checked over every combination of a small grid of spellings.
func TestAreaCoversAgreesWithContains(t *testing.T) {
	districts := []string{"", "Kailahun", " KAILAHUN ", "Kenema"}
	chiefdoms := []string{"", "Luawa", "luawa  ", "Kissi Teng", "Nongowa"}
	var areas []domain.Area
	var places []domain.Place
	for _, d := range districts {
		for _, c := range chiefdoms {
			if d == "" && c != "" {
				continue // a chiefdom without a district is refused at user creation
			}
			areas = append(areas, domain.Area{District: d, Chiefdom: c})
			if d != "" && c != "" {
				places = append(places, domain.Place{District: d, Chiefdom: c})
			}
		}
	}
	checked := 0
	for _, a := range areas {
		for _, b := range areas {
			if !a.Covers(b) {
				continue
			}
			for _, p := range places {
				if b.Contains(p) && !a.Contains(p) {
					t.Errorf("%+v covers %+v, which contains %+v, but does not contain it", a, b, p)
				}
				checked++
			}
		}
		if !a.Covers(a) {
			t.Errorf("%+v does not cover itself", a)
		}
	}
	if checked == 0 {
		t.Fatal("grid checked nothing")
	}
}

// A community's place is stored as registered (trimmed, inner spaces
// collapsed), and an area spelled differently still contains it.
func TestRegisteredPlaceIsInArea(t *testing.T) {
	c := &domain.Community{}
	cmd := registerCmd()
	cmd.Place = domain.Place{District: "  kailahun", Chiefdom: "KISSI   Teng ", Section: "Sandia"}
	mustOK(t, c.Register(cmd), "register")
	if got := c.Place(); got.District != "kailahun" || got.Chiefdom != "KISSI Teng" {
		t.Errorf("Place() = %+v; want the registered spelling, trimmed", got)
	}
	for _, a := range []domain.Area{national, kailahun, kissiTeng} {
		if !a.Contains(c.Place()) {
			t.Errorf("%+v does not contain %+v", a, c.Place())
		}
	}
	for _, a := range []domain.Area{luawa, kenema} {
		if a.Contains(c.Place()) {
			t.Errorf("%+v contains %+v", a, c.Place())
		}
	}
}

func TestStreams(t *testing.T) {
	cases := []struct {
		name     string
		stream   string
		want     string
		category string
		id       string
	}{
		{"community", domain.CommunityStream("KAI-0042"), "community-KAI-0042", domain.CommunityCategory, "KAI-0042"},
		{"action_point", domain.ActionPointStream("3f2b8c1e-9a4d-4e7f-8b21-0c5d6e7f8a9b"), "actionpoint-3f2b8c1e-9a4d-4e7f-8b21-0c5d6e7f8a9b", domain.ActionPointCategory, "3f2b8c1e-9a4d-4e7f-8b21-0c5d6e7f8a9b"},
		{"referral", domain.ReferralStream("R1"), "referral-R1", domain.ReferralCategory, "R1"},
		{"feedback", domain.FeedbackStream("F:1.2"), "feedback-F:1.2", domain.FeedbackCategory, "F:1.2"},
		{"users", domain.UsersStream, "users", "users", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stream != tc.want {
				t.Errorf("stream = %q; want %q", tc.stream, tc.want)
			}
			cat, id := domain.SplitStream(tc.stream)
			if cat != tc.category || id != tc.id {
				t.Errorf("SplitStream(%q) = %q, %q; want %q, %q", tc.stream, cat, id, tc.category, tc.id)
			}
		})
	}
}

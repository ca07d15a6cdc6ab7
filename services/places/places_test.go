package places_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/places"
)

// TestDefault checks the shipped list: Sierra Leone's 16 districts of the
// 2017 boundaries, its 167 chiefdom-level units, each with a P-code under
// its district's.
func TestDefault(t *testing.T) {
	c := places.Default()
	nd, nc := c.Counts()
	if nd != 16 || nc != 167 {
		t.Errorf("%d districts, %d chiefdoms; want 16 and 167", nd, nc)
	}
	var names []string
	for _, d := range c.Districts() {
		names = append(names, d.Name)
		if !strings.HasPrefix(d.Code, "SL") || len(d.Code) != 6 {
			t.Errorf("district %s: code %q is not a P-code SLppdd", d.Name, d.Code)
		}
		for _, ch := range d.Chiefdoms {
			if !strings.HasPrefix(ch.Code, d.Code) || len(ch.Code) != 8 {
				t.Errorf("chiefdom %s of %s: code %q is not a P-code under %s", ch.Name, d.Name, ch.Code, d.Code)
			}
		}
	}
	for _, want := range []string{"Falaba", "Karene", "Western Area Rural", "Western Area Urban", "Kenema", "Kailahun", "Port Loko"} {
		if !slices.Contains(names, want) {
			t.Errorf("no district %s in %v", want, names)
		}
	}
}

// TestResolve is the matching a user meets on every write and filter.
func TestResolve(t *testing.T) {
	c := places.Default()
	tests := []struct {
		name               string
		district, chiefdom string
		want               domain.Area
		field              string   // the field an error names; "" for success
		suggestions        []string // an error's suggestions, in order
		detail             string   // a part of the error's message
	}{
		{name: "exact", district: "Kenema", chiefdom: "Nongowa", want: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}},
		{name: "case_and_spaces", district: "  kenema ", chiefdom: " NONGOWA", want: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}},
		{name: "inner_spaces", district: "western  area   urban", chiefdom: "east  iii", want: domain.Area{District: "Western Area Urban", Chiefdom: "East III"}},
		{name: "district_only", district: "kailahun", want: domain.Area{District: "Kailahun"}},
		{name: "nation", want: domain.Area{}},
		{name: "district_word_dropped", district: "Kenema District", chiefdom: "Nongowa Chiefdom", want: domain.Area{District: "Kenema", Chiefdom: "Nongowa"}},
		{name: "hyphen_as_space", district: "Bonthe", chiefdom: "bendu cha", want: domain.Area{District: "Bonthe", Chiefdom: "Bendu-Cha"}},
		{name: "alternative_spelling", district: "Bo", chiefdom: "Bagbe", want: domain.Area{District: "Bo", Chiefdom: "Bagbwe (Bagbe)"}},
		{name: "koya_of_kenema", district: "Kenema", chiefdom: "Koya", want: domain.Area{District: "Kenema", Chiefdom: "Koya"}},
		{name: "koya_of_port_loko", district: "Port Loko", chiefdom: "koya", want: domain.Area{District: "Port Loko", Chiefdom: "Koya"}},

		{name: "misspelt_chiefdom", district: "Kenema", chiefdom: "Nongwa", field: "chiefdom", suggestions: []string{"Nongowa"}, detail: "did you mean Nongowa?"},
		{name: "misspelt_district", district: "Kenama", field: "district", suggestions: []string{"Kenema"}, detail: "did you mean Kenema?"},
		{name: "misspelt_district_with_chiefdom", district: "Kenama", chiefdom: "Nongowa", field: "district", suggestions: []string{"Kenema"}},
		{name: "swapped_letters", district: "Kialahun", field: "district", suggestions: []string{"Kailahun"}},
		{name: "district_prefix", district: "Western", field: "district", suggestions: []string{"Western Area Rural", "Western Area Urban"}},
		{name: "chiefdom_in_another_district", district: "Bo", chiefdom: "Nongowa", field: "chiefdom", detail: "Nongowa is in Kenema"},
		{name: "chiefdom_in_two_other_districts", district: "Bo", chiefdom: "koya", field: "chiefdom", detail: "Koya is in Kenema and Port Loko"},
		{name: "suggestions_from_the_district", district: "Kailahun", chiefdom: "Jawei", field: "chiefdom", suggestions: []string{"Jawie", "Yawei"}},
		{name: "misspelt_chiefdom_of_another_district", district: "Bo", chiefdom: "Nongwa", field: "chiefdom", suggestions: []string{}, detail: "in other districts: Nongowa (Kenema)"},
		{name: "unknown_district", district: "Atlantis", field: "district", detail: "unknown district \"Atlantis\""},
		{name: "unknown_chiefdom", district: "Kenema", chiefdom: "Zzyzx", field: "chiefdom", detail: "no chiefdom \"Zzyzx\" in Kenema"},
		{name: "chiefdom_without_district", chiefdom: "Nongowa", field: "district", detail: "Nongowa is in Kenema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ResolveArea(tt.district, tt.chiefdom)
			if tt.field == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ResolveArea(%q, %q) = %+v, %v; want %+v", tt.district, tt.chiefdom, got, err, tt.want)
				}
				return
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field != tt.field {
				t.Fatalf("ResolveArea(%q, %q) = %+v, %v; want invalid_input on %s", tt.district, tt.chiefdom, got, err, tt.field)
			}
			if tt.suggestions != nil && !slices.Equal(de.Suggestions, tt.suggestions) {
				t.Errorf("suggestions %q, want %q (%s)", de.Suggestions, tt.suggestions, de.Message)
			}
			if !strings.Contains(de.Message, tt.detail) {
				t.Errorf("message %q does not say %q", de.Message, tt.detail)
			}
		})
	}
}

func TestResolvePlace(t *testing.T) {
	c := places.Default()
	got, err := c.ResolvePlace(domain.Place{District: " kenema", Chiefdom: "lower  bambara", Section: " Panguma  "})
	if err != nil || got != (domain.Place{District: "Kenema", Chiefdom: "Lower Bambara", Section: " Panguma  "}) {
		t.Errorf("got %+v, %v; want the canonical district and chiefdom, the section as given", got, err)
	}
	for _, tc := range []struct {
		name  string
		p     domain.Place
		field string
	}{
		{"no_district", domain.Place{Chiefdom: "Nongowa"}, "district"},
		{"no_chiefdom", domain.Place{District: "Kenema"}, "chiefdom"},
		{"blank_chiefdom", domain.Place{District: "Kenema", Chiefdom: "  "}, "chiefdom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ResolvePlace(tc.p)
			var de *domain.Error
			if !errors.As(err, &de) || de.Field != tc.field {
				t.Errorf("err %v, want a field error on %s", err, tc.field)
			}
		})
	}
}

func TestTree(t *testing.T) {
	c := places.Default()
	tests := []struct {
		name      string
		area      domain.Area
		districts []string
		chiefdoms int // of the first district
	}{
		{"nation", domain.Area{}, nil, -1},
		{"district", domain.Area{District: "kenema"}, []string{"Kenema"}, 17},
		{"chiefdom", domain.Area{District: "Kenema", Chiefdom: "nongowa"}, []string{"Kenema"}, 1},
		{"unknown_district", domain.Area{District: "Atlantis"}, []string{}, 0},
		{"unknown_chiefdom", domain.Area{District: "Kenema", Chiefdom: "Atlantis"}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := c.Tree(tt.area)
			if tt.districts == nil {
				if len(tree) != 16 {
					t.Errorf("%d districts, want 16", len(tree))
				}
				return
			}
			var names []string
			for _, d := range tree {
				names = append(names, d.Name)
			}
			if !slices.Equal(names, tt.districts) && !(len(names) == 0 && len(tt.districts) == 0) {
				t.Fatalf("districts %v, want %v", names, tt.districts)
			}
			if len(tree) > 0 && len(tree[0].Chiefdoms) != tt.chiefdoms {
				t.Errorf("%d chiefdoms, want %d", len(tree[0].Chiefdoms), tt.chiefdoms)
			}
			if tt.area.Chiefdom != "" && len(tree) > 0 && (tree[0].Chiefdoms[0] != places.Chiefdom{Code: "SL010212", Name: "Nongowa"}) {
				t.Errorf("chiefdom %+v, want Nongowa SL010212", tree[0].Chiefdoms[0])
			}
		})
	}
	// The tree is a copy: changing it does not change the list.
	tree := c.Tree(domain.Area{})
	tree[0].Chiefdoms[0].Name = "changed"
	if c.Tree(domain.Area{})[0].Chiefdoms[0].Name == "changed" {
		t.Error("changing a tree changed the catalogue")
	}
}

// TestParse checks the loader: another country's list loads, and every fault
// is refused naming its line.
func TestParse(t *testing.T) {
	const header = "district_code,district,chiefdom_code,chiefdom\n"
	c, err := places.Parse(strings.NewReader("# a made-up country\n\n" + header +
		"N1,North,N1-01,Hilltop\n" +
		"N1,North,N1-02,\"Riverside, Upper\"\n" +
		"S1, South , S1-01 , Coast\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.ResolveArea("south", "coast"); err != nil || a != (domain.Area{District: "South", Chiefdom: "Coast"}) {
		t.Errorf("south/coast = %+v, %v", a, err)
	}
	if a, err := c.ResolveArea("North", "riverside, upper"); err != nil || a.Chiefdom != "Riverside, Upper" {
		t.Errorf("a quoted name: %+v, %v", a, err)
	}
	if nd, nc := c.Counts(); nd != 2 || nc != 3 {
		t.Errorf("%d districts, %d chiefdoms; want 2 and 3", nd, nc)
	}

	tests := []struct {
		name, file, want string
	}{
		{"empty", "", "no header"},
		{"comments_only", "# nothing\n", "no header"},
		{"header_only", header, "no places"},
		{"wrong_header", "code,name,code,name\nA,B,C,D\n", "line 1: the header must be"},
		{"too_few_fields", header + "N1,North,N1-01\n", "line 2: 3 fields, want 4"},
		{"too_many_fields", header + "N1,North,N1-01,Hill,extra\n", "line 2: 5 fields, want 4"},
		{"empty_district", header + "N1,,N1-01,Hill\n", "line 2: district is empty"},
		{"empty_chiefdom", header + "N1,North,N1-01, \n", "line 2: chiefdom is empty"},
		{"empty_code", header + "N1,North,,Hill\n", "line 2: chiefdom_code is empty"},
		{"bad_code", header + "N 1,North,N1-01,Hill\n", "line 2: district_code \"N 1\" may hold only"},
		{"bad_quote", header + "N1,North,N1-01,\"Hill\n", "line 2:"},
		{"bad_quote_first", "\"district_code,district\n", "line 1:"},
		{"bad_quote_in_header", "district_code,\"district\"x,chiefdom_code,chiefdom\n", "line 1:"},
		{"duplicate_chiefdom", header + "N1,North,N1-01,Hill\nN1,North,N1-02, hill \n", "line 3: chiefdom \"hill\" is already in North (line 2)"},
		{"duplicate_code", header + "N1,North,N1-01,Hill\nN1,North,N1-01,Dale\n", "line 3: code N1-01 is already used on line 2"},
		{"chiefdom_code_is_a_district_code", header + "N1,North,N1-01,Hill\nS1,South,N1,Dale\n", "line 3: code N1 is already used on line 2"},
		{"district_renamed", header + "N1,North,N1-01,Hill\nN1,Nord,N1-02,Dale\n", "line 3: district N1 is \"Nord\" here but \"North\" on line 2"},
		{"district_twice_under_two_codes", header + "N1,North,N1-01,Hill\nN2,north,N2-01,Dale\n", "line 3: district \"north\" (N2) clashes with \"North\" (N1, line 2)"},
		{"alternative_clashes", header + "N1,North,N1-01,Hill (Dale)\nN1,North,N1-02,Dale\n", "line 3: chiefdom \"Dale\" is already in North (line 2)"},
		{"name_too_long", header + "N1,North,N1-01," + strings.Repeat("x", 201) + "\n", "line 2: chiefdom is longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := places.Parse(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestParseSpreadsheetExport: a list saved by a spreadsheet, with a byte
// order mark and CRLF line ends, loads.
func TestParseSpreadsheetExport(t *testing.T) {
	c, err := places.Parse(strings.NewReader("\ufeffdistrict_code,district,chiefdom_code,chiefdom\r\nN1,North,N1-01,Hilltop\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.ResolveArea("North", "Hilltop"); err != nil || a.Chiefdom != "Hilltop" {
		t.Errorf("North/Hilltop = %+v, %v", a, err)
	}
}

func TestLoadFile(t *testing.T) {
	if _, err := places.LoadFile(t.TempDir() + "/missing.csv"); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"Kenema", "Kailahun", "Kono", "Bo", "Bombali", "Bonthe"}
	tests := []struct {
		name, in string
		want     []string
	}{
		{"one_letter_off", "Kenama", []string{"Kenema"}},
		{"swap", "Knoo", []string{"Kono"}},
		{"prefix_first_then_one_slip", "Bom", []string{"Bombali", "Bo"}},
		{"nothing_close", "Freetown", []string{}},
		{"empty", " ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := places.Suggest(tt.in, names, 3)
			if len(got) != len(tt.want) || (len(got) > 0 && !slices.Equal(got, tt.want)) {
				t.Errorf("Suggest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

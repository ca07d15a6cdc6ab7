package domain

import "strings"

// Place is where a community sits: Country > District > Chiefdom > Section >
// Community. Names keep the spelling they were registered with (since the
// places list, services/app registers the list's spelling of the district
// and chiefdom; older events may hold any); comparisons go through PlaceKey.
type Place struct {
	District string `json:"district"`
	Chiefdom string `json:"chiefdom"`
	Section  string `json:"section,omitempty"`
}

// PlaceKey normalises a place name for matching: trimmed, inner runs of
// spaces collapsed, case folded. "  Kailahun " and "kailahun" are one district.
func PlaceKey(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}

// Area is the part of the country a user works in. An empty District means the
// whole nation; an empty Chiefdom means the whole district.
type Area struct {
	District string `json:"district,omitempty"`
	Chiefdom string `json:"chiefdom,omitempty"`
}

// Contains reports whether p lies inside a.
func (a Area) Contains(p Place) bool {
	if a.District == "" {
		return true
	}
	if PlaceKey(a.District) != PlaceKey(p.District) {
		return false
	}
	return a.Chiefdom == "" || PlaceKey(a.Chiefdom) == PlaceKey(p.Chiefdom)
}

// Covers reports whether every place of b lies inside a (used to decide
// whether a query for area b is within a user's area a).
func (a Area) Covers(b Area) bool {
	if a.District == "" {
		return true
	}
	if b.District == "" || PlaceKey(a.District) != PlaceKey(b.District) {
		return false
	}
	return a.Chiefdom == "" || (b.Chiefdom != "" && PlaceKey(a.Chiefdom) == PlaceKey(b.Chiefdom))
}

// IsNational reports whether a is the whole country.
func (a Area) IsNational() bool { return a.District == "" }

func validatePlace(p Place) (Place, error) {
	var err error
	if p.District, err = text("district", p.District, true, maxName); err != nil {
		return Place{}, err
	}
	if p.Chiefdom, err = text("chiefdom", p.Chiefdom, true, maxName); err != nil {
		return Place{}, err
	}
	if p.Section, err = text("section", p.Section, false, maxName); err != nil {
		return Place{}, err
	}
	p.District = strings.Join(strings.Fields(p.District), " ")
	p.Chiefdom = strings.Join(strings.Fields(p.Chiefdom), " ")
	p.Section = strings.Join(strings.Fields(p.Section), " ")
	return p, nil
}

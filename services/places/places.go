// Package places is the list of a country's districts and chiefdoms that
// every place named in a request is checked against: a community registered
// in "Atlantis", a chiefdom typed "Nongwa" or a filter on "Kenama" is a 400
// naming the field, with the closest known names, instead of data that
// silently falls out of the right totals. Names are stored in the list's
// spelling.
//
// The catalogue lives here rather than in domain because it is reference
// data a deployment chooses (Sierra Leone's by default, embedded; another
// country's with `serve --places FILE`), read from a file, and because the
// domain must keep replaying events recorded before the list existed or
// under another one: the check belongs to the moment a command or a query
// is accepted (services/app), like the area checks, not to an aggregate's
// invariants. The catalogue is immutable once loaded and safe for concurrent
// use.
package places

import (
	"bufio"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/actionledger/actionledger/domain"
)

// Header is the first non-comment line of a places file.
const Header = "district_code,district,chiefdom_code,chiefdom"

// maxName matches the domain's limit on a place name.
const maxName = 200

// maxCode bounds a place code.
const maxCode = 32

//go:embed sierra-leone.csv
var sierraLeone []byte

// Chiefdom is a place of the second level.
type Chiefdom struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// District is a place of the first level and its chiefdoms, in file order.
type District struct {
	Code      string     `json:"code"`
	Name      string     `json:"name"`
	Chiefdoms []Chiefdom `json:"chiefdoms"`
}

// Catalogue is a loaded places list.
type Catalogue struct {
	districts []District
	// byKey maps every matching key of a district to its index.
	byKey map[string]int
	// chiefByKey maps, per district, every matching key of a chiefdom to
	// its index in the district.
	chiefByKey []map[string]int
	// chiefDistricts maps a chiefdom key to the districts that have it, to
	// say "Nongowa is in Kenema" when it is asked for elsewhere.
	chiefDistricts map[string][]int
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
)

// Default returns Sierra Leone's districts and chiefdoms (sierra-leone.csv,
// embedded; its header cites the source).
func Default() *Catalogue {
	defaultOnce.Do(func() {
		c, err := Parse(strings.NewReader(string(sierraLeone)))
		if err != nil {
			panic("places: the embedded sierra-leone.csv is invalid: " + err.Error())
		}
		defaultCat = c
	})
	return defaultCat
}

// LoadFile reads a places file (see Parse).
func LoadFile(path string) (*Catalogue, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("places: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a places file: CSV (UTF-8, a byte order mark and CRLF line
// ends allowed) with # comment lines, the header
// district_code,district,chiefdom_code,chiefdom, then a line per chiefdom.
// Any fault is an error naming its line.
func Parse(r io.Reader) (*Catalogue, error) {
	// A spreadsheet's "CSV UTF-8" starts with a byte order mark.
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	c := &Catalogue{byKey: map[string]int{}, chiefDistricts: map[string][]int{}}
	codes := map[string]int{}        // code -> line first seen
	districtLine := map[string]int{} // district code -> line first seen
	chiefLine := []map[string]int{}  // per district: chiefdom key -> line
	byCode := map[string]int{}       // district code -> index
	header := false
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("places: line %d: %v", pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("places: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if !header {
			got := strings.ToLower(strings.Join(trimAll(rec), ","))
			if got != Header {
				return nil, fmt.Errorf("places: line %d: the header must be %q, not %q", line, Header, strings.Join(rec, ","))
			}
			header = true
			continue
		}
		if len(rec) != 4 {
			return nil, fmt.Errorf("places: line %d: %d fields, want 4 (%s)", line, len(rec), Header)
		}
		rec = trimAll(rec)
		names := strings.Split(Header, ",")
		for i, v := range rec {
			if v == "" {
				return nil, fmt.Errorf("places: line %d: %s is empty", line, names[i])
			}
		}
		dCode, dName, cCode, cName := rec[0], rec[1], rec[2], rec[3]
		for _, f := range []struct{ field, v string }{{"district_code", dCode}, {"chiefdom_code", cCode}} {
			if err := checkCode(f.v); err != nil {
				return nil, fmt.Errorf("places: line %d: %s %q %v", line, f.field, f.v, err)
			}
		}
		for _, f := range []struct{ field, v string }{{"district", dName}, {"chiefdom", cName}} {
			if len(f.v) > maxName {
				return nil, fmt.Errorf("places: line %d: %s is longer than %d bytes", line, f.field, maxName)
			}
		}
		dName, cName = tidy(dName), tidy(cName)

		di, known := byCode[dCode]
		if known {
			if d := c.districts[di]; domain.PlaceKey(d.Name) != domain.PlaceKey(dName) {
				return nil, fmt.Errorf("places: line %d: district %s is %q here but %q on line %d", line, dCode, dName, d.Name, districtLine[dCode])
			}
		} else {
			if first, dup := codes[dCode]; dup {
				return nil, fmt.Errorf("places: line %d: code %s is already used on line %d", line, dCode, first)
			}
			di = len(c.districts)
			for _, k := range keys(dName) {
				if other, dup := c.byKey[k]; dup {
					return nil, fmt.Errorf("places: line %d: district %q (%s) clashes with %q (%s, line %d)", line, dName, dCode,
						c.districts[other].Name, c.districts[other].Code, districtLine[c.districts[other].Code])
				}
			}
			for _, k := range keys(dName) {
				c.byKey[k] = di
			}
			codes[dCode], districtLine[dCode], byCode[dCode] = line, line, di
			c.districts = append(c.districts, District{Code: dCode, Name: dName})
			c.chiefByKey = append(c.chiefByKey, map[string]int{})
			chiefLine = append(chiefLine, map[string]int{})
		}
		if first, dup := codes[cCode]; dup {
			return nil, fmt.Errorf("places: line %d: code %s is already used on line %d", line, cCode, first)
		}
		for _, k := range keys(cName) {
			if first, dup := chiefLine[di][k]; dup {
				return nil, fmt.Errorf("places: line %d: chiefdom %q is already in %s (line %d)", line, cName, dName, first)
			}
		}
		ci := len(c.districts[di].Chiefdoms)
		for _, k := range keys(cName) {
			c.chiefByKey[di][k] = ci
			chiefLine[di][k] = line
			if !slices.Contains(c.chiefDistricts[k], di) {
				c.chiefDistricts[k] = append(c.chiefDistricts[k], di)
			}
		}
		codes[cCode] = line
		c.districts[di].Chiefdoms = append(c.districts[di].Chiefdoms, Chiefdom{Code: cCode, Name: cName})
	}
	if !header {
		return nil, fmt.Errorf("places: no header line (%s)", Header)
	}
	if len(c.districts) == 0 {
		return nil, errors.New("places: no places after the header")
	}
	return c, nil
}

func trimAll(rec []string) []string {
	out := make([]string, len(rec))
	for i, v := range rec {
		out[i] = strings.TrimSpace(v)
	}
	return out
}

// tidy collapses inner runs of spaces, as the domain does for stored names.
func tidy(s string) string { return strings.Join(strings.Fields(s), " ") }

func checkCode(code string) error {
	if len(code) > maxCode {
		return fmt.Errorf("is longer than %d characters", maxCode)
	}
	if domain.ValidateID("code", code) != nil {
		return errors.New("may hold only letters, digits and - _ . : (a letter or digit first)")
	}
	return nil
}

// keys are the matching keys of a name: its PlaceKey, its loose key and,
// for "Bagbwe (Bagbe)", those of Bagbwe and Bagbe too.
func keys(name string) []string {
	out := []string{}
	add := func(s string) {
		for _, k := range []string{domain.PlaceKey(s), looseKey(s)} {
			if k != "" && !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	add(name)
	if open := strings.IndexByte(name, '('); open > 0 && strings.HasSuffix(name, ")") {
		add(name[:open])
		add(name[open+1 : len(name)-1])
	}
	return out
}

// looseKey is PlaceKey with punctuation read as spaces and a trailing
// "district" or "chiefdom" dropped: "Bendu Cha", "bendu-cha" and
// "Bendu-Cha Chiefdom" are one place.
func looseKey(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ',', '\'', '’', '/', '(', ')':
			return ' '
		}
		return r
	}, s)
	k := domain.PlaceKey(s)
	for _, suffix := range []string{" district", " chiefdom"} {
		if t, ok := strings.CutSuffix(k, suffix); ok && t != "" {
			k = t
		}
	}
	return k
}

// Districts returns every district with its chiefdoms, in file order. The
// caller may keep and change the copy.
func (c *Catalogue) Districts() []District {
	out := make([]District, len(c.districts))
	for i, d := range c.districts {
		out[i] = District{Code: d.Code, Name: d.Name, Chiefdoms: slices.Clone(d.Chiefdoms)}
	}
	return out
}

// Counts returns the number of districts and of chiefdoms.
func (c *Catalogue) Counts() (districts, chiefdoms int) {
	for _, d := range c.districts {
		chiefdoms += len(d.Chiefdoms)
	}
	return len(c.districts), chiefdoms
}

// Tree returns the part of the list inside area: everything for the nation,
// one district for a district, that district with its one chiefdom for a
// chiefdom. An area the list does not know (a user created before the list
// was checked) sees nothing.
func (c *Catalogue) Tree(area domain.Area) []District {
	if area.IsNational() {
		return c.Districts()
	}
	di, ok := c.district(area.District)
	if !ok {
		return []District{}
	}
	d := c.districts[di]
	out := District{Code: d.Code, Name: d.Name, Chiefdoms: slices.Clone(d.Chiefdoms)}
	if area.Chiefdom != "" {
		ci, ok := c.chiefdom(di, area.Chiefdom)
		if !ok {
			return []District{}
		}
		out.Chiefdoms = []Chiefdom{d.Chiefdoms[ci]}
	}
	return []District{out}
}

func (c *Catalogue) district(name string) (int, bool) {
	if i, ok := c.byKey[domain.PlaceKey(name)]; ok {
		return i, true
	}
	i, ok := c.byKey[looseKey(name)]
	return i, ok
}

func (c *Catalogue) chiefdom(di int, name string) (int, bool) {
	m := c.chiefByKey[di]
	if i, ok := m[domain.PlaceKey(name)]; ok {
		return i, true
	}
	i, ok := m[looseKey(name)]
	return i, ok
}

// ResolveArea checks an area named in a request — a read filter or a user's
// area — and returns it in the list's spelling. Both names may be empty (the
// nation); a chiefdom needs its district. An unknown name is a field error
// (400) on "district" or "chiefdom" with the closest known names.
func (c *Catalogue) ResolveArea(district, chiefdom string) (domain.Area, error) {
	if strings.TrimSpace(district) == "" {
		if strings.TrimSpace(chiefdom) == "" {
			return domain.Area{}, nil
		}
		msg := "is required when chiefdom is given"
		if in := c.districtsOf(chiefdom); len(in) > 0 {
			msg += fmt.Sprintf(" (%s is in %s)", c.chiefdomName(in[0], chiefdom), c.districtNames(in))
		}
		return domain.Area{}, &domain.Error{Code: domain.CodeInvalid, Field: "district", Message: msg}
	}
	di, err := c.resolveDistrict(district)
	if err != nil {
		return domain.Area{}, err
	}
	area := domain.Area{District: c.districts[di].Name}
	if strings.TrimSpace(chiefdom) == "" {
		return area, nil
	}
	ci, err := c.resolveChiefdom(di, chiefdom)
	if err != nil {
		return domain.Area{}, err
	}
	area.Chiefdom = c.districts[di].Chiefdoms[ci].Name
	return area, nil
}

// ResolvePlace checks the district and chiefdom of a place (both required)
// and returns the place in the list's spelling. The section is free text and
// passes as given.
func (c *Catalogue) ResolvePlace(p domain.Place) (domain.Place, error) {
	if strings.TrimSpace(p.District) == "" {
		return p, domain.FieldError("district", "is required")
	}
	if strings.TrimSpace(p.Chiefdom) == "" {
		return p, domain.FieldError("chiefdom", "is required")
	}
	a, err := c.ResolveArea(p.District, p.Chiefdom)
	if err != nil {
		return p, err
	}
	p.District, p.Chiefdom = a.District, a.Chiefdom
	return p, nil
}

func (c *Catalogue) resolveDistrict(name string) (int, error) {
	if di, ok := c.district(name); ok {
		return di, nil
	}
	cands := make([]string, len(c.districts))
	for i, d := range c.districts {
		cands[i] = d.Name
	}
	sugg := Suggest(name, cands, 3)
	msg := fmt.Sprintf("unknown district %q", tidy(name))
	if len(sugg) > 0 {
		msg += "; did you mean " + joinOr(sugg) + "?"
	} else {
		msg += " (GET /v1/places lists the districts)"
	}
	return 0, &domain.Error{Code: domain.CodeInvalid, Field: "district", Message: msg, Suggestions: sugg}
}

func (c *Catalogue) resolveChiefdom(di int, name string) (int, error) {
	if ci, ok := c.chiefdom(di, name); ok {
		return ci, nil
	}
	d := c.districts[di]
	cands := make([]string, len(d.Chiefdoms))
	for i, ch := range d.Chiefdoms {
		cands[i] = ch.Name
	}
	sugg := Suggest(name, cands, 3)
	msg := fmt.Sprintf("no chiefdom %q in %s", tidy(name), d.Name)
	elsewhere := c.districtsOf(name)
	if len(elsewhere) > 0 {
		msg += fmt.Sprintf("; %s is in %s", c.chiefdomName(elsewhere[0], name), c.districtNames(elsewhere))
	}
	switch {
	case len(sugg) > 0:
		msg += "; did you mean " + joinOr(sugg) + "?"
	case len(elsewhere) == 0:
		// Perhaps the wrong district: name close chiefdoms of others in
		// the message only, as they are not values for this district.
		if near := c.nearElsewhere(di, name); len(near) > 0 {
			msg += "; in other districts: " + strings.Join(near, ", ")
		} else {
			msg += fmt.Sprintf(" (GET /v1/places lists the chiefdoms of %s)", d.Name)
		}
	}
	return 0, &domain.Error{Code: domain.CodeInvalid, Field: "chiefdom", Message: msg, Suggestions: sugg}
}

// nearElsewhere names, as "Nongowa (Kenema)", up to three chiefdoms of
// districts other than skip that are close to name.
func (c *Catalogue) nearElsewhere(skip int, name string) []string {
	var cands []string
	where := map[string][]string{}
	for di, d := range c.districts {
		if di == skip {
			continue
		}
		for _, ch := range d.Chiefdoms {
			if where[ch.Name] == nil {
				cands = append(cands, ch.Name)
			}
			where[ch.Name] = append(where[ch.Name], d.Name)
		}
	}
	var out []string
	for _, n := range Suggest(name, cands, 3) {
		out = append(out, fmt.Sprintf("%s (%s)", n, joinAnd(where[n])))
	}
	return out
}

// districtsOf returns the districts that have a chiefdom of this name.
func (c *Catalogue) districtsOf(chiefdom string) []int {
	if in := c.chiefDistricts[domain.PlaceKey(chiefdom)]; len(in) > 0 {
		return in
	}
	return c.chiefDistricts[looseKey(chiefdom)]
}

func (c *Catalogue) chiefdomName(di int, name string) string {
	if ci, ok := c.chiefdom(di, name); ok {
		return c.districts[di].Chiefdoms[ci].Name
	}
	return tidy(name)
}

func (c *Catalogue) districtNames(idx []int) string {
	names := make([]string, len(idx))
	for i, di := range idx {
		names[i] = c.districts[di].Name
	}
	return joinAnd(names)
}

func joinOr(ss []string) string  { return join(ss, " or ") }
func joinAnd(ss []string) string { return join(ss, " and ") }

func join(ss []string, last string) string {
	switch len(ss) {
	case 0:
		return ""
	case 1:
		return ss[0]
	}
	return strings.Join(ss[:len(ss)-1], ", ") + last + ss[len(ss)-1]
}

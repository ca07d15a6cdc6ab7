package projections

import (
	"fmt"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Filter selects the part of the country (and of time) a query is about.
// Place names match case-insensitively and trimmed. Zero values mean "all".
type Filter struct {
	District    string
	Chiefdom    string
	CommunityID string
	// Category narrows action-point indicators.
	Category string
	// From and To bound the weeks of a series and, for totals, the creation
	// time (occurred_at) of the records counted: From ≤ t < To. Nothing that
	// happened at or after To counts at all: records are as they stood at To
	// (see periodCut).
	From, To time.Time
	// Now is "today" for overdue and for the current (partial) week; the
	// engine sets it from its clock. Zero: overdue uses the time of the
	// query, and no week is partial for being current.
	Now time.Time
}

// place is a record's position in the place chain, normalised for matching.
type place struct {
	District  string
	Chiefdom  string
	Community string
}

// interner shares the strings records repeat — place keys, community ids,
// kinds, categories, types, outcomes — so that a record does not hold its
// own copy decoded from its event (a third of what the models would hold
// otherwise), and remembers the key of each place name it has seen.
type interner struct {
	strs map[string]string
	keys map[string]string // place name as written -> its PlaceKey
}

func newInterner() interner {
	return interner{strs: map[string]string{}, keys: map[string]string{}}
}

func (in interner) str(s string) string {
	if v, ok := in.strs[s]; ok {
		return v
	}
	in.strs[s] = s
	return s
}

func (in interner) key(name string) string {
	if k, ok := in.keys[name]; ok {
		return k
	}
	k := in.str(domain.PlaceKey(name))
	in.keys[name] = k
	return k
}

// placeOf is the place of a record of community, at p.
func (in interner) placeOf(p domain.Place, community string) place {
	return place{District: in.key(p.District), Chiefdom: in.key(p.Chiefdom), Community: in.str(community)}
}

// place shares the strings of a place read back from a snapshot.
func (in interner) place(p place) place {
	return place{District: in.str(p.District), Chiefdom: in.str(p.Chiefdom), Community: in.str(p.Community)}
}

// matches reports whether a record at p, created at t, is selected by f.
func (f *Filter) matches(p place, created time.Time) bool {
	if f.District != "" && domain.PlaceKey(f.District) != p.District {
		return false
	}
	if f.Chiefdom != "" && domain.PlaceKey(f.Chiefdom) != p.Chiefdom {
		return false
	}
	if f.CommunityID != "" && f.CommunityID != p.Community {
		return false
	}
	if !f.From.IsZero() && created.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !created.Before(f.To) {
		return false
	}
	return true
}

// scopeKeys are the keys a record at p is summed under (the trust model's
// weekly sums): the nation, its district, its chiefdom and its community.
func scopeKeys(p place) [4]string {
	return [4]string{"", "d:" + p.District, "c:" + p.District + "/" + p.Chiefdom, "k:" + p.Community}
}

func (f *Filter) scopeKey() string {
	switch s := f.scope(); {
	case s.community != "":
		return "k:" + s.community
	case s.chiefdom != "":
		return "c:" + s.district + "/" + s.chiefdom
	case s.district != "":
		return "d:" + s.district
	}
	return ""
}

// scope is the narrowest place a filter names, as keys: a community, a
// chiefdom of a district, a district, or (all empty) the nation. A query
// scans that place's list of records.
type scope struct {
	district, chiefdom, community string
}

func (f *Filter) scope() scope {
	switch {
	case f.CommunityID != "":
		return scope{community: f.CommunityID}
	case f.Chiefdom != "" && f.District != "":
		return scope{district: domain.PlaceKey(f.District), chiefdom: domain.PlaceKey(f.Chiefdom)}
	case f.District != "":
		return scope{district: domain.PlaceKey(f.District)}
	}
	return scope{}
}

// scopes numbers the places records are listed under: the nation is list
// 0, and every district, chiefdom and community the next number when it
// is first seen. A record at p is listed under the nation, its district,
// its chiefdom and its community; finding those four lists takes three
// lookups of strings the model already holds (a place's keys, interned),
// where building four string keys and looking each up in a map of lists,
// then storing the grown list back, was a tenth of a rebuild's CPU. The
// lists model's four indexes share one numbering.
type scopes struct {
	districts   map[string]int32
	chiefdoms   map[[2]string]int32 // district and chiefdom keys
	communities map[string]int32
	n           int32 // lists numbered so far, the nation's included
}

func newScopes() *scopes {
	return &scopes{districts: map[string]int32{}, chiefdoms: map[[2]string]int32{}, communities: map[string]int32{}, n: 1}
}

// of returns the lists a record at p is listed under, numbering new ones.
func (sc *scopes) of(p place) [4]int32 {
	return [4]int32{0, number(sc, sc.districts, p.District), number(sc, sc.chiefdoms, [2]string{p.District, p.Chiefdom}),
		number(sc, sc.communities, p.Community)}
}

func number[K comparable](sc *scopes, m map[K]int32, k K) int32 {
	n, ok := m[k]
	if !ok {
		n = sc.n
		sc.n++
		m[k] = n
	}
	return n
}

// find returns the list of s, if a record was ever listed there.
func (sc *scopes) find(s scope) (int32, bool) {
	var n int32
	ok := true
	switch {
	case s.community != "":
		n, ok = sc.communities[s.community]
	case s.chiefdom != "":
		n, ok = sc.chiefdoms[[2]string{s.district, s.chiefdom}]
	case s.district != "":
		n, ok = sc.districts[s.district]
	}
	return n, ok
}

// index lists record numbers by place (scopes), each list in the order
// the records were added.
type index struct {
	sc    *scopes
	lists [][]int32
}

func newIndex(sc *scopes) index { return index{sc: sc} }

func (ix *index) add(p place, n int32) {
	for _, s := range ix.sc.of(p) {
		ix.grow(s)
		ix.lists[s] = append(ix.lists[s], n)
	}
}

// grow makes room for list s: the numbering may be ahead of this index's
// lists when several indexes share it.
func (ix *index) grow(s int32) {
	if int(s) >= len(ix.lists) {
		ix.lists = append(ix.lists, make([][]int32, int(s)+1-len(ix.lists))...)
	}
}

// list returns the records listed under s, in the order they were added.
func (ix *index) list(s scope) []int32 {
	if n, ok := ix.sc.find(s); ok && int(n) < len(ix.lists) {
		return ix.lists[n]
	}
	return nil
}

// eachDistrict calls f with the key and records of every district that
// lists any.
func (ix *index) eachDistrict(f func(key string, recs []int32)) {
	for k, n := range ix.sc.districts {
		if int(n) < len(ix.lists) && len(ix.lists[n]) > 0 {
			f(k, ix.lists[n])
		}
	}
}

// Week is an ISO week, e.g. "2015-W07".
type Week struct {
	Year, Week int
}

func weekOf(t time.Time) Week {
	y, w := t.UTC().ISOWeek()
	return Week{y, w}
}

func (w Week) String() string { return fmt.Sprintf("%04d-W%02d", w.Year, w.Week) }

// Start is Monday 00:00 UTC of w.
func (w Week) Start() time.Time {
	// January 4th is always in week 1.
	jan4 := time.Date(w.Year, 1, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	return monday.AddDate(0, 0, 7*(w.Week-1))
}

// End is the start of the following week.
func (w Week) End() time.Time { return w.Start().AddDate(0, 0, 7) }

// Add returns the week n weeks after w.
func (w Week) Add(n int) Week { return weekOf(w.Start().AddDate(0, 0, 7*n)) }

// Before reports whether w comes before o.
func (w Week) Before(o Week) bool {
	return w.Year < o.Year || w.Year == o.Year && w.Week < o.Week
}

// maxWeeks bounds a series (ten years); a longer range keeps its most
// recent weeks.
const maxWeeks = 520

// weeksBetween lists the weeks from first to last inclusive, at most the
// last maxWeeks of them.
func weeksBetween(first, last Week) []Week {
	if last.Before(first) {
		return nil
	}
	if n := int(last.Start().Sub(first.Start()).Hours()/(24*7)) + 1; n > maxWeeks {
		first = last.Add(-(maxWeeks - 1))
	}
	var out []Week
	for w := first; !last.Before(w); w = w.Add(1) {
		out = append(out, w)
	}
	return out
}

// seriesRange picks the weeks of a series: the filter's bounds when given,
// else from the first to the last week with data of the place asked about
// (no later than now's week: a history reviewed years later does not trail
// empty weeks to today). A place without data has no weeks. A zero now
// sets no bound.
func seriesRange(f *Filter, first, last, now time.Time) []Week {
	if first.IsZero() {
		return nil
	}
	start := weekOf(first)
	if !f.From.IsZero() {
		start = weekOf(f.From)
	}
	end := weekOf(last)
	if !now.IsZero() && now.Before(last) {
		end = weekOf(now)
	}
	if !f.To.IsZero() {
		end = weekOf(f.To.Add(-time.Nanosecond))
	}
	return weeksBetween(start, end)
}

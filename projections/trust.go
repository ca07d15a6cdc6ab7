package projections

import (
	"math"
	"strconv"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// DefaultTrustWeights weigh T1..T4 in the trust index. They are a starting
// point from PRODUCT.md, not a calibrated model: visits are the most direct
// signal, so they count double.
var DefaultTrustWeights = [4]float64{0.4, 0.2, 0.2, 0.2}

// fallingDrop is how far the index must fall in four weeks to be "falling".
const fallingDrop = 0.10

// DefaultTrustMinVisits is how many visits each of the two weeks "falling"
// compares must rest on by default. One visit rated 3 after one rated 4 is
// a drop of 0.25 on T1 alone and says nothing about a district: a
// coordinator acts on "falling", so it must not cry wolf. Five is a
// starting point (about one visit per community and week in a chiefdom of
// five communities), configurable per server.
const DefaultTrustMinVisits = 5

// Trust is the trust-trend read model: per community, its visits, feedback
// items and suspected-case referrals, reduced to what T1–T4 need.
type Trust struct {
	// snap sizes the next save's buffers (snapSizes).
	snap    *snapSizes
	weights [4]float64
	comms   []trustCommunity
	byID    map[string]int32
	idx     index
	names   interner
	fbByID  map[string][2]int32 // feedback id -> community, item
	// weekly sums every community's data week by week, as this model
	// holds it, per scope key but the community's own (see weekSums).
	weekly map[string]*weekSums
	// minVisits is how many visits each of the two weeks "falling" compares
	// must rest on.
	minVisits int
}

type trustCommunity struct {
	ID       string
	Place    place
	Visits   visitList
	Feedback []trustFeedback
	Cases    []trustCase
	RegPos   uint64 // log position of its registration; 0: not seen
	RegAt    int64  // occurred_at of its registration
	// Reclosed keeps the loop closures a later closure of the same item
	// replaced, in log order (the domain closes a loop once: nil).
	Reclosed []trustClosure
	span     span // of every event above (zero: none yet)
	// first and last are the earliest and latest field time of its visits,
	// items and cases (first > last: none), the range of weeks it shows
	// data in.
	first, last int64
	// sums are the weekly sums of the nation, district and chiefdom it is
	// in, which its data is added to as it comes.
	sums [3]*weekSums
}

// sawData widens the community's range of data to t.
func (cm *trustCommunity) sawData(t int64) {
	cm.first, cm.last = min(cm.first, t), max(cm.last, t)
}

// Every Pos below is the log position of the event, and every time is in
// unix nanoseconds; At, ReceivedAt, RaisedAt and CloseAt are occurred_at.

type trustVisit struct {
	At     int64
	Pos    uint64
	Rating int8
}

// visitList is a community's visits, in log order.
type visitList []trustVisit

type trustFeedback struct {
	ID         string
	ReceivedAt int64
	ClosedAt   int64 // communicated_at of the last closure; 0: loop not closed
	Pos        uint64
	ClosePos   uint64 // the last closure; 0: none
	CloseAt    int64
	Negative   bool // complaint, rumour or refusal
}

type trustCase struct {
	RaisedAt int64
	Pos      uint64
	Within   bool // raised within 24 h of symptom onset
}

type trustClosure struct {
	Item     int32 // index in Feedback
	Pos      uint64
	At       int64
	ClosedAt int64
}

// NewTrust returns an empty model with the given weights (zero: defaults)
// and the default minimum of visits.
func NewTrust(weights [4]float64) *Trust { return NewTrustMin(weights, 0) }

// NewTrustMin returns an empty model with the given weights (zero: defaults)
// that calls a week "falling" only when it and the week it is compared with
// rest on at least minVisits visits each (0: DefaultTrustMinVisits).
func NewTrustMin(weights [4]float64, minVisits int) *Trust {
	if weights == [4]float64{} {
		weights = DefaultTrustWeights
	}
	if minVisits <= 0 {
		minVisits = DefaultTrustMinVisits
	}
	return &Trust{weights: weights, minVisits: minVisits, byID: map[string]int32{}, idx: newIndex(newScopes()), names: newInterner(), fbByID: map[string][2]int32{},
		weekly: map[string]*weekSums{}, snap: new(snapSizes)}
}

// community returns the index of a community, adding it at p if new (an
// item may name a community whose registration this model has not seen, if
// that event was poisoned).
func (m *Trust) community(id string, p place) int32 {
	if n, ok := m.byID[id]; ok {
		return n
	}
	n := int32(len(m.comms))
	cm := trustCommunity{ID: id, Place: p, first: math.MaxInt64, last: math.MinInt64}
	keys := scopeKeys(p)
	for i, k := range keys[:3] {
		if m.weekly[k] == nil {
			m.weekly[k] = &weekSums{}
		}
		cm.sums[i] = m.weekly[k]
	}
	m.comms = append(m.comms, cm)
	m.byID[id] = n
	m.idx.add(p, n)
	return n
}

// communityAt is community for an event that names the community and its
// place.
func (m *Trust) communityAt(id string, p domain.Place) int32 {
	if n, ok := m.byID[id]; ok {
		return n
	}
	return m.community(id, m.names.placeOf(p, id))
}

// Apply implements Model.
func (m *Trust) Apply(ev *Event) error {
	switch e := ev.Data.(type) {
	case *domain.CommunityRegistered:
		n := m.communityAt(e.ID, e.Place)
		if c := &m.comms[n]; c.RegPos == 0 {
			c.RegPos, c.RegAt = ev.Position, nanos(ev.OccurredAt)
			c.span.add(c.RegPos, c.RegAt)
		}
	case *domain.VisitRecorded:
		_, id := domain.SplitStream(ev.Stream)
		n, ok := m.byID[id]
		if !ok {
			return nil
		}
		c := &m.comms[n]
		c.Visits = append(c.Visits, trustVisit{At: ev.OccurredAt.UnixNano(), Pos: ev.Position, Rating: int8(e.TrustRating)})
		c.span.add(ev.Position, ev.OccurredAt.UnixNano())
		c.sawData(ev.OccurredAt.UnixNano())
		c.addVisit(&c.Visits[len(c.Visits)-1], 1)
	case *domain.FeedbackReceived:
		if _, dup := m.fbByID[e.ID]; dup {
			return nil
		}
		n := m.communityAt(e.CommunityID, e.Place)
		c := &m.comms[n]
		m.fbByID[e.ID] = [2]int32{n, int32(len(c.Feedback))}
		c.Feedback = append(c.Feedback, trustFeedback{ID: e.ID, ReceivedAt: ev.OccurredAt.UnixNano(), Pos: ev.Position,
			Negative: e.Type == "complaint" || e.Type == "rumour" || e.Type == "refusal"})
		c.span.add(ev.Position, ev.OccurredAt.UnixNano())
		c.sawData(ev.OccurredAt.UnixNano())
		c.addFeedback(&c.Feedback[len(c.Feedback)-1], 0, 1)
	case *domain.FeedbackLoopClosed:
		_, id := domain.SplitStream(ev.Stream)
		if at, ok := m.fbByID[id]; ok {
			c := &m.comms[at[0]]
			fb := &c.Feedback[at[1]]
			if fb.ClosePos != 0 {
				c.Reclosed = append(c.Reclosed, trustClosure{Item: at[1], Pos: fb.ClosePos, At: fb.CloseAt, ClosedAt: fb.ClosedAt})
			}
			c.addFeedback(fb, fb.ClosedAt, -1)
			fb.ClosedAt, fb.ClosePos, fb.CloseAt = e.CommunicatedAt.UnixNano(), ev.Position, nanos(ev.OccurredAt)
			c.addFeedback(fb, fb.ClosedAt, 1)
			c.span.add(fb.ClosePos, fb.CloseAt)
		}
	case *domain.ReferralRaised:
		if e.Kind != "suspected_case" || e.SymptomOnset.IsZero() {
			return nil
		}
		n := m.communityAt(e.CommunityID, e.Place)
		c := &m.comms[n]
		c.Cases = append(c.Cases, trustCase{RaisedAt: ev.OccurredAt.UnixNano(), Pos: ev.Position,
			Within: ev.OccurredAt.Sub(e.SymptomOnset) <= hoursIn24})
		c.span.add(ev.Position, ev.OccurredAt.UnixNano())
		c.sawData(ev.OccurredAt.UnixNano())
		c.addCase(&c.Cases[len(c.Cases)-1], 1)
	}
	return nil
}

// weekSums are the trustAggs of a run of weeks: aggs[i] is week first+i.
// The Trust model keeps one per scope key but the communities' own — the
// nation, each district and each chiefdom: a few hundred, whatever the
// number of communities, each as long as the weeks the data spans — so that
// a question about a place adds up only the communities a cut does not hold
// whole, and takes the rest from these sums. Every count is an integer, and
// T1's sum one of quarters, so adding and taking out in any order is exact.
type weekSums struct {
	first int64
	aggs  []trustAgg
}

// at returns week w's sums, adding weeks to reach it.
func (s *weekSums) at(w int64) *trustAgg {
	switch {
	case len(s.aggs) == 0:
		s.first, s.aggs = w, make([]trustAgg, 1, 64)
	case w < s.first:
		s.aggs = append(make([]trustAgg, s.first-w, int64(len(s.aggs))+s.first-w), s.aggs...)
		s.first = w
	case w >= s.first+int64(len(s.aggs)):
		s.aggs = append(s.aggs, make([]trustAgg, w-s.first-int64(len(s.aggs))+1)...)
	}
	return &s.aggs[w-s.first]
}

// copyTo sets aggs (week first onward) to the sums.
func (s *weekSums) copyTo(aggs []trustAgg, first int64) {
	for i := range aggs {
		if j := first + int64(i) - s.first; j >= 0 && j < int64(len(s.aggs)) {
			aggs[i] = s.aggs[j]
		}
	}
}

// addVisit adds a visit to the community's weekly sums (sign -1: takes it
// out); addFeedback an item closed at closed (0: not closed); addCase a
// suspected case.
func (cm *trustCommunity) addVisit(v *trustVisit, sign int) {
	w := weekNo(v.At)
	for _, s := range cm.sums {
		a := s.at(w)
		a.t1sum += float64(sign) * float64(v.Rating-1) / 4
		a.visits += sign
	}
}

func (cm *trustCommunity) addFeedback(fb *trustFeedback, closed int64, sign int) {
	w := weekNo(fb.ReceivedAt)
	for _, s := range cm.sums {
		a := s.at(w)
		a.fbReceived += sign
		if closedWithin14(closed, fb.ReceivedAt) {
			a.fbClosedIn14 += sign
		}
		if fb.Negative {
			a.fbNegative += sign
		}
	}
}

func (cm *trustCommunity) addCase(rc *trustCase, sign int) {
	w := weekNo(rc.RaisedAt)
	for _, s := range cm.sums {
		a := s.at(w)
		a.cases += sign
		if rc.Within {
			a.casesIn24 += sign
		}
	}
}

// closedWithin14 reports whether an item received at received had its loop
// closed (communicated) at closed (0: not) within 14 days.
func closedWithin14(closed, received int64) bool {
	return closed != 0 && closed-received <= int64(days14)
}

// TrustWeek is one week of the trust trend.
type TrustWeek struct {
	Week string `json:"week"`
	// Partial: the week is not over (it holds now), or the period asked
	// for cuts it (from or to fall inside it): its figures are of part of
	// a week.
	Partial bool     `json:"partial"`
	T1      *float64 `json:"t1"`
	T2      *float64 `json:"t2"`
	T3      *float64 `json:"t3"`
	T4      *float64 `json:"t4"`
	Index   *float64 `json:"index"`
	Falling bool     `json:"falling"`
	Visits  int      `json:"visits"`
	// Components are T1..T4 by name, with their weights and the counts
	// behind them.
	Components []TrustComponent `json:"components"`
}

// Names of the trust components, in the order T1..T4.
const (
	ComponentVisitTrust          = "visit_trust"
	ComponentLoopsClosed14d      = "feedback_loops_closed_14d"
	ComponentReferralsWithin24h  = "suspected_referrals_within_24h"
	ComponentFeedbackNotNegative = "feedback_not_negative"
)

// TrustComponent is one of T1..T4 in a week: its value (null without
// data), its weight in the index, and the counts it was computed from.
type TrustComponent struct {
	Name   string
	Code   string // T1..T4
	Value  *float64
	Weight float64
	Counts []Count
}

// Count is one named count behind a component.
type Count struct {
	Name string
	N    int
}

// MarshalJSON writes a component as one flat object, its counts beside its
// value: {"name":"visit_trust","code":"T1","value":0.5,"weight":0.4,"visits":3}.
func (c TrustComponent) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 128)
	b = append(b, `{"name":`...)
	b = strconv.AppendQuote(b, c.Name)
	b = append(b, `,"code":`...)
	b = strconv.AppendQuote(b, c.Code)
	b = append(b, `,"value":`...)
	if c.Value == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, *c.Value, 'g', -1, 64)
	}
	b = append(b, `,"weight":`...)
	b = strconv.AppendFloat(b, c.Weight, 'g', -1, 64)
	for _, n := range c.Counts {
		b = append(b, ',')
		b = strconv.AppendQuote(b, n.Name)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(n.N), 10)
	}
	return append(b, '}'), nil
}

// TrustStats answers /v1/stats/trust.
type TrustStats struct {
	Weights [4]float64 `json:"weights"`
	// MinVisits is how many visits each of the two weeks "falling" compares
	// must rest on.
	MinVisits int         `json:"min_visits"`
	Series    []TrustWeek `json:"series"`
}

// weekNo numbers weeks from the Unix epoch, Monday-based like ISO weeks
// (1970-01-01 was a Thursday, so day 4 is the first Monday). The domain
// keeps times after 2000, so nanoseconds are positive.
func weekNo(unixNano int64) int64 {
	return (unixNano/int64(24*time.Hour) + 3) / 7
}

func weekFromNo(n int64) Week { return weekOf(time.Unix((n*7-3)*86400, 0)) }

// trustAgg is one week's data: T1 and T4 read the week's, T2 and T3 sum
// the received and cases counts over four weeks.
type trustAgg struct {
	t1sum            float64
	visits           int
	fbReceived       int
	fbClosedIn14     int
	fbNegative       int
	cases, casesIn24 int
}

// notCreated: a community a cut does not create.
const notCreated = math.MaxUint64

// createdIn is the position at which a fresh model fed only the events of c
// would create the community: that of the first of its creating events in c
// — its registration, a feedback item, a suspected case (the model creates
// a community it has not seen from an item or a case) — or notCreated.
// Every creating event of a community carries the same place (the domain
// copies the registered place into items and referrals, and a place never
// changes), so which one creates it does not change where it is.
func (cm *trustCommunity) createdIn(c *cut) uint64 {
	created := uint64(notCreated)
	if cm.RegPos != 0 && c.has(cm.RegPos, cm.RegAt) {
		created = cm.RegPos
	}
	for i := range cm.Feedback {
		if fb := &cm.Feedback[i]; c.has(fb.Pos, fb.ReceivedAt) {
			created = min(created, fb.Pos)
			break
		}
	}
	for i := range cm.Cases {
		if rc := &cm.Cases[i]; c.has(rc.Pos, rc.RaisedAt) {
			created = min(created, rc.Pos)
			break
		}
	}
	return created
}

// summarize works out the span from the community's events.
func (cm *trustCommunity) summarize() {
	cm.span, cm.first, cm.last = span{}, math.MaxInt64, math.MinInt64
	if cm.RegPos != 0 {
		cm.span.add(cm.RegPos, cm.RegAt)
	}
	for _, v := range cm.Visits {
		cm.span.add(v.Pos, v.At)
		cm.sawData(v.At)
	}
	for _, fb := range cm.Feedback {
		cm.span.add(fb.Pos, fb.ReceivedAt)
		cm.sawData(fb.ReceivedAt)
		if fb.ClosePos != 0 {
			cm.span.add(fb.ClosePos, fb.CloseAt)
		}
	}
	for _, rc := range cm.Reclosed {
		cm.span.add(rc.Pos, rc.At)
	}
	for _, rc := range cm.Cases {
		cm.span.add(rc.Pos, rc.RaisedAt)
		cm.sawData(rc.RaisedAt)
	}
}

// visitIn: a visit counts in c if it is in c and the community exists by
// then (a visit to a community the model does not know is dropped).
func (v *trustVisit) in(c *cut, created uint64) bool {
	return v.Pos > created && c.has(v.Pos, v.At)
}

// closedIn is the ClosedAt item i would have in a fresh model fed only the
// events of c (its receipt being in c): that of its last closure in c.
func (cm *trustCommunity) closedIn(i int, c *cut) int64 {
	fb := &cm.Feedback[i]
	if fb.ClosePos != 0 && c.has(fb.ClosePos, fb.CloseAt) {
		return fb.ClosedAt
	}
	for j := len(cm.Reclosed) - 1; j >= 0; j-- {
		if rc := &cm.Reclosed[j]; int(rc.Item) == i && c.has(rc.Pos, rc.At) {
			return rc.ClosedAt
		}
	}
	return 0
}

// Stats computes the weekly trust trend for f.
func (m *Trust) Stats(f Filter) TrustStats { return m.stats(&f, nil) }

// asOf answers Stats(f) for the events of c.
func (m *Trust) asOf(f Filter, c *cut) TrustStats { return m.stats(&f, c) }

// stats computes the trend for f; with c, as a fresh model fed only the
// events of c would.
//
// The series spans the selected place's own data (a back-dated record
// elsewhere does not stretch it). Nothing that happened at or after f.To
// counts anywhere (see periodCut). f.From picks the first week shown, and
// nothing before it counts in that week's own figures (T1, T4, visits); the
// trailing windows of T2 and T3 and the "falling" comparison look back past
// it on purpose, so that a week reads the same wherever the chart starts.
func (m *Trust) stats(f *Filter, c *cut) TrustStats {
	c = periodCut(f, c)
	now := f.Now
	cf := Filter{District: f.District, Chiefdom: f.Chiefdom, CommunityID: f.CommunityID}
	sel := m.idx.list(cf.scope())
	// First pass: which communities count (the place; with a cut, those it
	// creates, and where) and the span of their data. A community whose
	// every event is in the cut counts as the live model holds it (see
	// span): its created is 0, and whole[k] says not to ask the cut again.
	created := make([]uint64, len(sel))
	whole := make([]bool, len(sel))
	wholes := 0
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	see := func(t int64) { lo, hi = min(lo, t), max(hi, t) }
	for k, n := range sel {
		cm := &m.comms[n]
		created[k] = notCreated
		if !cf.matches(cm.Place, time.Time{}) {
			continue
		}
		if c == nil || cm.span.last != 0 && c.hasAll(cm.span) {
			created[k], whole[k] = 0, true
			wholes++
			if cm.first <= cm.last {
				see(cm.first)
				see(cm.last)
			}
			continue
		}
		if created[k] = cm.createdIn(c); created[k] == notCreated {
			continue
		}
		for i := range cm.Visits {
			if v := &cm.Visits[i]; v.in(c, created[k]) {
				see(v.At)
			}
		}
		for i := range cm.Feedback {
			if fb := &cm.Feedback[i]; c.has(fb.Pos, fb.ReceivedAt) {
				see(fb.ReceivedAt)
			}
		}
		for i := range cm.Cases {
			if rc := &cm.Cases[i]; c.has(rc.Pos, rc.RaisedAt) {
				see(rc.RaisedAt)
			}
		}
	}
	var seenFirst, seenLast time.Time
	if lo <= hi {
		seenFirst, seenLast = time.Unix(0, lo), time.Unix(0, hi)
	}
	weeks := seriesRange(f, seenFirst, seenLast, now)
	out := TrustStats{Weights: m.weights, MinVisits: m.minVisits, Series: make([]TrustWeek, len(weeks))}
	if len(weeks) == 0 {
		return out
	}
	// Aggregate per week from seven weeks before the first shown: "falling"
	// compares with the index four weeks earlier, whose T2 and T3 look
	// three weeks further back. Where the series starts must not change
	// what a week reads.
	first := weekNo(weeks[0].Start().UnixNano()) - 7
	last := weekNo(weeks[len(weeks)-1].Start().UnixNano())
	aggs := make([]trustAgg, last-first+1)
	at := func(unix int64) *trustAgg {
		w := weekNo(unix)
		if w < first || w > last {
			return nil
		}
		return &aggs[w-first]
	}
	// fromOwn is the first week shown without what happened before from
	// (from inside the week): its row shows that, while the comparisons
	// and windows of later weeks read the whole week.
	var fromOwn trustAgg
	fromNs, fromWeek := int64(math.MinInt64), first+7
	if !f.From.IsZero() {
		fromNs = nanos(f.From)
	}
	own := func(t int64) *trustAgg {
		if !f.From.IsZero() && t >= fromNs && weekNo(t) == fromWeek {
			return &fromOwn
		}
		return nil
	}
	// Where the place's weekly sums answer for the communities the cut
	// holds whole (no from: its first week's own figures are not in them;
	// and a filter its scope key says all of), only the others are read:
	// what the sums hold of each is taken out, and what the cut holds of
	// it added. That reads the others twice: it pays when they are fewer
	// than half (a time in the middle of the history, when every community
	// is still being visited, reads each once instead).
	sums := m.weekly[cf.scopeKey()]
	useSums := sums != nil && f.From.IsZero() && cf.CommunityID == "" && (cf.Chiefdom == "" || cf.District != "") &&
		2*(len(sel)-wholes) < len(sel)
	if useSums {
		sums.copyTo(aggs, first)
	}
	for k, n := range sel {
		cr := created[k]
		cm := &m.comms[n]
		switch {
		case useSums && whole[k]:
		case useSums:
			m.fold(cm, nil, 0, -1, at, own)
			if cr != notCreated {
				m.fold(cm, c, cr, 1, at, own)
			}
		case cr == notCreated:
		case whole[k]:
			m.fold(cm, nil, cr, 1, at, own)
		default:
			m.fold(cm, c, cr, 1, at, own)
		}
	}
	for i, wk := range weeks {
		w := first + 7 + int64(i)
		var self *trustAgg
		if w == fromWeek && !f.From.IsZero() {
			self = &fromOwn
		}
		tw := m.week(aggs, first, w, self)
		b := m.week(aggs, first, w-4, nil)
		if tw.Index != nil && b.Index != nil && tw.Visits >= m.minVisits && b.Visits >= m.minVisits {
			tw.Falling = *b.Index-*tw.Index >= fallingDrop-1e-9
		}
		tw.Partial = !now.IsZero() && wk.End().After(now) || !f.To.IsZero() && wk.End().After(f.To) ||
			!f.From.IsZero() && wk.Start().Before(f.From)
		out.Series[i] = tw
	}
	return out
}

// fold adds (sign -1: takes out) the data of community cm in cut c, which
// creates it at created (c nil: all of it, as the model holds it) to the
// weeks at finds and, for the first week shown without what came before
// from, own.
func (m *Trust) fold(cm *trustCommunity, c *cut, created uint64, sign int, at, own func(int64) *trustAgg) {
	for i := range cm.Visits {
		v := &cm.Visits[i]
		if c != nil && !v.in(c, created) {
			continue
		}
		t1 := float64(sign) * float64(v.Rating-1) / 4
		if a := at(v.At); a != nil {
			a.t1sum += t1
			a.visits += sign
		}
		if a := own(v.At); a != nil {
			a.t1sum += t1
			a.visits += sign
		}
	}
	for i := range cm.Feedback {
		fb := &cm.Feedback[i]
		closed := fb.ClosedAt
		if c != nil {
			if !c.has(fb.Pos, fb.ReceivedAt) {
				continue
			}
			closed = cm.closedIn(i, c)
		}
		for _, a := range [2]*trustAgg{at(fb.ReceivedAt), own(fb.ReceivedAt)} {
			if a != nil {
				a.fbReceived += sign
				if closedWithin14(closed, fb.ReceivedAt) {
					a.fbClosedIn14 += sign
				}
				if fb.Negative {
					a.fbNegative += sign
				}
			}
		}
	}
	for i := range cm.Cases {
		rc := &cm.Cases[i]
		if c != nil && !c.has(rc.Pos, rc.RaisedAt) {
			continue
		}
		if a := at(rc.RaisedAt); a != nil {
			a.cases += sign
			if rc.Within {
				a.casesIn24 += sign
			}
		}
	}
}

// week reads week w (aggs starting at week first); self, when not nil,
// replaces the week's own figures (T1, T4, visits).
func (m *Trust) week(aggs []trustAgg, first, w int64, self *trustAgg) TrustWeek {
	a := &aggs[w-first]
	if self != nil {
		a = self
	}
	tw := TrustWeek{Week: weekFromNo(w).String(), Visits: a.visits}
	if a.visits > 0 {
		v := a.t1sum / float64(a.visits)
		tw.T1 = &v
	}
	var rec, closed, cases, in24 int
	for k := max(w-3, first); k <= w; k++ {
		b := &aggs[k-first]
		rec, closed, cases, in24 = rec+b.fbReceived, closed+b.fbClosedIn14, cases+b.cases, in24+b.casesIn24
	}
	tw.T2 = rate(closed, rec)
	tw.T3 = rate(in24, cases)
	if a.fbReceived > 0 {
		v := 1 - float64(a.fbNegative)/float64(a.fbReceived)
		tw.T4 = &v
	}
	ts := [4]*float64{tw.T1, tw.T2, tw.T3, tw.T4}
	var sum, weight float64
	for i, t := range ts {
		if t != nil {
			sum += m.weights[i] * *t
			weight += m.weights[i]
		}
	}
	if weight > 0 {
		v := sum / weight
		tw.Index = &v
	}
	tw.Components = []TrustComponent{
		{Name: ComponentVisitTrust, Code: "T1", Value: ts[0], Weight: m.weights[0], Counts: []Count{{"visits", a.visits}}},
		{Name: ComponentLoopsClosed14d, Code: "T2", Value: ts[1], Weight: m.weights[1],
			Counts: []Count{{"received_4w", rec}, {"closed_within_14d", closed}}},
		{Name: ComponentReferralsWithin24h, Code: "T3", Value: ts[2], Weight: m.weights[2],
			Counts: []Count{{"suspected_cases_4w", cases}, {"within_24h", in24}}},
		{Name: ComponentFeedbackNotNegative, Code: "T4", Value: ts[3], Weight: m.weights[3],
			Counts: []Count{{"received", a.fbReceived}, {"negative", a.fbNegative}}},
	}
	return tw
}

// MarshalBinary implements Model.
func (m *Trust) MarshalBinary() ([]byte, error) {
	return m.encode(nil), nil
}

// AppendBinary implements encoding.BinaryAppender: the engine encodes a
// save after its checkpoint in one buffer.
func (m *Trust) AppendBinary(b []byte) ([]byte, error) {
	return m.encode(b), nil
}

// UnmarshalBinary implements Model. The weights and minimum of visits are
// the model's own (the server's configuration), not the snapshot's.
func (m *Trust) UnmarshalBinary(data []byte) error {
	fresh := NewTrustMin(m.weights, m.minVisits)
	comms, err := fresh.decode(data)
	if err != nil {
		return err
	}
	// The communities are set up in the decoded slice itself: the one
	// community() appends lands at or before the one being read, which
	// range has already copied.
	fresh.comms = comms[:0]
	fresh.byID = make(map[string]int32, len(comms))
	// Sized before it is filled rather than grown from empty to the million
	// items of ten times CLEA: restoring the model there allocated 397 MB
	// instead of 453 MB and took 1.08-1.13 s instead of 1.16-1.18 s
	// (BenchmarkSnapshotEncode/restore/trust, two runs each).
	items := 0
	for i := range comms {
		items += len(comms[i].Feedback)
	}
	fresh.fbByID = make(map[string][2]int32, items)
	for _, c := range comms {
		c.summarize()
		n := fresh.community(c.ID, c.Place)
		c.sums = fresh.comms[n].sums
		fresh.comms[n] = c
		cm := &fresh.comms[n]
		for i := range cm.Visits {
			cm.addVisit(&cm.Visits[i], 1)
		}
		for i := range cm.Feedback {
			cm.addFeedback(&cm.Feedback[i], cm.Feedback[i].ClosedAt, 1)
		}
		for i := range cm.Cases {
			cm.addCase(&cm.Cases[i], 1)
		}
		for i, fb := range c.Feedback {
			fresh.fbByID[fb.ID] = [2]int32{n, int32(i)}
		}
	}
	*m = *fresh
	return nil
}

package projections

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"math"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// DefaultTrustWeights weigh T1..T4 in the trust index. They are a starting
// point from PRODUCT.md, not a calibrated model: visits are the most direct
// signal, so they count double.
var DefaultTrustWeights = [4]float64{0.4, 0.2, 0.2, 0.2}

// fallingDrop is how far the index must fall in four weeks to be "falling".
const fallingDrop = 0.10

// Trust is the trust-trend read model: per community, its visits, feedback
// items and suspected-case referrals, reduced to what T1–T4 need.
type Trust struct {
	weights [4]float64
	comms   []trustCommunity
	byID    map[string]int32
	idx     index
	names   interner
	fbByID  map[string][2]int32 // feedback id -> community, item
	first   time.Time
	last    time.Time
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

// GobEncode packs the visits as varints (time and position as deltas from
// the visit before): snapshots hold half a million of them.
func (l visitList) GobEncode() ([]byte, error) {
	b := make([]byte, 0, 2+len(l)*12)
	b = binary.AppendUvarint(b, uint64(len(l)))
	var at int64
	var pos uint64
	for _, v := range l {
		b = binary.AppendVarint(b, v.At-at)
		b = binary.AppendUvarint(b, v.Pos-pos)
		b = append(b, byte(v.Rating))
		at, pos = v.At, v.Pos
	}
	return b, nil
}

var errBadVisits = errors.New("projections: bad visit list in snapshot")

// GobDecode unpacks what GobEncode packed.
func (l *visitList) GobDecode(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errBadVisits
	}
	b = b[k:]
	out := make(visitList, n)
	var at int64
	var pos uint64
	for i := range out {
		da, k1 := binary.Varint(b)
		if k1 <= 0 {
			return errBadVisits
		}
		dp, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 || len(b) < k1+k2+1 {
			return errBadVisits
		}
		at, pos = at+da, pos+dp
		out[i] = trustVisit{At: at, Pos: pos, Rating: int8(b[k1+k2])}
		b = b[k1+k2+1:]
	}
	*l = out
	return nil
}

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

// NewTrust returns an empty model with the given weights (zero: defaults).
func NewTrust(weights [4]float64) *Trust {
	if weights == [4]float64{} {
		weights = DefaultTrustWeights
	}
	return &Trust{weights: weights, byID: map[string]int32{}, idx: index{}, names: newInterner(), fbByID: map[string][2]int32{}}
}

// community returns the index of a community, adding it at p if new (an
// item may name a community whose registration this model has not seen, if
// that event was poisoned).
func (m *Trust) community(id string, p place) int32 {
	if n, ok := m.byID[id]; ok {
		return n
	}
	n := int32(len(m.comms))
	m.comms = append(m.comms, trustCommunity{ID: id, Place: p})
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

func (m *Trust) seen(t time.Time) {
	if m.first.IsZero() || t.Before(m.first) {
		m.first = t
	}
	if t.After(m.last) {
		m.last = t
	}
}

// Apply implements Model.
func (m *Trust) Apply(ev *Event) error {
	switch e := ev.Data.(type) {
	case *domain.CommunityRegistered:
		n := m.communityAt(e.ID, e.Place)
		if c := &m.comms[n]; c.RegPos == 0 {
			c.RegPos, c.RegAt = ev.Position, nanos(ev.OccurredAt)
		}
	case *domain.VisitRecorded:
		_, id := domain.SplitStream(ev.Stream)
		n, ok := m.byID[id]
		if !ok {
			return nil
		}
		m.comms[n].Visits = append(m.comms[n].Visits, trustVisit{At: ev.OccurredAt.UnixNano(), Pos: ev.Position, Rating: int8(e.TrustRating)})
		m.seen(ev.OccurredAt)
	case *domain.FeedbackReceived:
		if _, dup := m.fbByID[e.ID]; dup {
			return nil
		}
		n := m.communityAt(e.CommunityID, e.Place)
		c := &m.comms[n]
		m.fbByID[e.ID] = [2]int32{n, int32(len(c.Feedback))}
		c.Feedback = append(c.Feedback, trustFeedback{ID: e.ID, ReceivedAt: ev.OccurredAt.UnixNano(), Pos: ev.Position,
			Negative: e.Type == "complaint" || e.Type == "rumour" || e.Type == "refusal"})
		m.seen(ev.OccurredAt)
	case *domain.FeedbackLoopClosed:
		_, id := domain.SplitStream(ev.Stream)
		if at, ok := m.fbByID[id]; ok {
			c := &m.comms[at[0]]
			fb := &c.Feedback[at[1]]
			if fb.ClosePos != 0 {
				c.Reclosed = append(c.Reclosed, trustClosure{Item: at[1], Pos: fb.ClosePos, At: fb.CloseAt, ClosedAt: fb.ClosedAt})
			}
			fb.ClosedAt, fb.ClosePos, fb.CloseAt = e.CommunicatedAt.UnixNano(), ev.Position, nanos(ev.OccurredAt)
		}
	case *domain.ReferralRaised:
		if e.Kind != "suspected_case" || e.SymptomOnset.IsZero() {
			return nil
		}
		n := m.communityAt(e.CommunityID, e.Place)
		m.comms[n].Cases = append(m.comms[n].Cases, trustCase{RaisedAt: ev.OccurredAt.UnixNano(), Pos: ev.Position,
			Within: ev.OccurredAt.Sub(e.SymptomOnset) <= hoursIn24})
		m.seen(ev.OccurredAt)
	}
	return nil
}

// TrustWeek is one week of the trust trend.
type TrustWeek struct {
	Week    string   `json:"week"`
	T1      *float64 `json:"t1"`
	T2      *float64 `json:"t2"`
	T3      *float64 `json:"t3"`
	T4      *float64 `json:"t4"`
	Index   *float64 `json:"index"`
	Falling bool     `json:"falling"`
	Visits  int      `json:"visits"`
}

// TrustStats answers /v1/stats/trust.
type TrustStats struct {
	Weights [4]float64  `json:"weights"`
	Series  []TrustWeek `json:"series"`
}

// weekNo numbers weeks from the Unix epoch, Monday-based like ISO weeks
// (1970-01-01 was a Thursday, so day 4 is the first Monday). The domain
// keeps times after 2000, so nanoseconds are positive.
func weekNo(unixNano int64) int64 {
	return (unixNano/int64(24*time.Hour) + 3) / 7
}

func weekFromNo(n int64) Week { return weekOf(time.Unix((n*7-3)*86400, 0)) }

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

// spanIn is the first and last field time a fresh model fed only the events
// of c would have seen (what seen records), and where c creates each
// community.
func (m *Trust) spanIn(c *cut) (first, last time.Time, created []uint64) {
	created = make([]uint64, len(m.comms))
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	see := func(t int64) {
		lo, hi = min(lo, t), max(hi, t)
	}
	for n := range m.comms {
		cm := &m.comms[n]
		cr := cm.createdIn(c)
		created[n] = cr
		if cr == notCreated {
			continue
		}
		for i := range cm.Visits {
			if v := &cm.Visits[i]; v.in(c, cr) {
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
	if lo <= hi {
		first, last = time.Unix(0, lo), time.Unix(0, hi)
	}
	return first, last, created
}

// stats computes the trend for f; with c, as a fresh model fed only the
// events of c would.
func (m *Trust) stats(f *Filter, c *cut) TrustStats {
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	seenFirst, seenLast := m.first, m.last
	var created []uint64
	if c != nil {
		seenFirst, seenLast, created = m.spanIn(c)
	}
	weeks := seriesRange(f, seenFirst, seenLast, now)
	out := TrustStats{Weights: m.weights, Series: make([]TrustWeek, len(weeks))}
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
	cf := Filter{District: f.District, Chiefdom: f.Chiefdom, CommunityID: f.CommunityID}
	for _, n := range m.idx[cf.scopeKey()] {
		cm := &m.comms[n]
		if !cf.matches(cm.Place, time.Time{}) {
			continue
		}
		var cr uint64
		if c != nil {
			if cr = created[n]; cr == notCreated {
				continue
			}
		}
		for i := range cm.Visits {
			v := &cm.Visits[i]
			if c != nil && !v.in(c, cr) {
				continue
			}
			if a := at(v.At); a != nil {
				a.t1sum += float64(v.Rating-1) / 4
				a.visits++
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
			if a := at(fb.ReceivedAt); a != nil {
				a.fbReceived++
				if closed != 0 && closed-fb.ReceivedAt <= int64(days14) {
					a.fbClosedIn14++
				}
				if fb.Negative {
					a.fbNegative++
				}
			}
		}
		for i := range cm.Cases {
			rc := &cm.Cases[i]
			if c != nil && !c.has(rc.Pos, rc.RaisedAt) {
				continue
			}
			if a := at(rc.RaisedAt); a != nil {
				a.cases++
				if rc.Within {
					a.casesIn24++
				}
			}
		}
	}
	indexAt := func(w int64) (TrustWeek, *float64) {
		a := &aggs[w-first]
		tw := TrustWeek{Week: weekFromNo(w).String(), Visits: a.visits}
		if a.visits > 0 {
			v := a.t1sum / float64(a.visits)
			tw.T1 = &v
		}
		var rec, closed, cases, in24 int
		for k := w - 3; k <= w; k++ {
			if k < first {
				continue
			}
			b := &aggs[k-first]
			rec, closed, cases, in24 = rec+b.fbReceived, closed+b.fbClosedIn14, cases+b.cases, in24+b.casesIn24
		}
		tw.T2 = rate(closed, rec)
		tw.T3 = rate(in24, cases)
		if a.fbReceived > 0 {
			v := 1 - float64(a.fbNegative)/float64(a.fbReceived)
			tw.T4 = &v
		}
		var sum, weight float64
		for i, t := range []*float64{tw.T1, tw.T2, tw.T3, tw.T4} {
			if t != nil {
				sum += m.weights[i] * *t
				weight += m.weights[i]
			}
		}
		if weight > 0 {
			v := sum / weight
			tw.Index = &v
		}
		return tw, tw.Index
	}
	for i := range weeks {
		w := first + 7 + int64(i)
		tw, idx := indexAt(w)
		if _, before := indexAt(w - 4); idx != nil && before != nil {
			tw.Falling = *before-*idx >= fallingDrop-1e-9
		}
		out.Series[i] = tw
	}
	return out
}

type trustSnapshot struct {
	Weights [4]float64
	Comms   []trustCommunity
}

// MarshalBinary implements Model.
func (m *Trust) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(trustSnapshot{Weights: m.weights, Comms: m.comms})
	return b.Bytes(), err
}

// UnmarshalBinary implements Model.
func (m *Trust) UnmarshalBinary(data []byte) error {
	var s trustSnapshot
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&s); err != nil {
		return err
	}
	fresh := NewTrust(m.weights)
	for _, c := range s.Comms {
		c.Place = fresh.names.place(c.Place)
		n := fresh.community(c.ID, c.Place)
		fresh.comms[n] = c
		for i, fb := range c.Feedback {
			fresh.fbByID[fb.ID] = [2]int32{n, int32(i)}
			fresh.seen(time.Unix(0, fb.ReceivedAt))
		}
		for _, v := range c.Visits {
			fresh.seen(time.Unix(0, v.At))
		}
		for _, rc := range c.Cases {
			fresh.seen(time.Unix(0, rc.RaisedAt))
		}
	}
	*m = *fresh
	return nil
}

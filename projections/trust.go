package projections

import (
	"bytes"
	"encoding/gob"
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
	fbByID  map[string][2]int32 // feedback id -> community, item
	first   time.Time
	last    time.Time
}

type trustCommunity struct {
	ID       string
	Place    place
	Visits   []trustVisit
	Feedback []trustFeedback
	Cases    []trustCase
}

type trustVisit struct {
	At     int64 // unix nanoseconds, like every time below
	Rating int8
}

type trustFeedback struct {
	ID         string
	ReceivedAt int64
	ClosedAt   int64 // 0: loop not closed
	Negative   bool  // complaint, rumour or refusal
}

type trustCase struct {
	RaisedAt int64
	Within   bool // raised within 24 h of symptom onset
}

// NewTrust returns an empty model with the given weights (zero: defaults).
func NewTrust(weights [4]float64) *Trust {
	if weights == [4]float64{} {
		weights = DefaultTrustWeights
	}
	return &Trust{weights: weights, byID: map[string]int32{}, idx: index{}, fbByID: map[string][2]int32{}}
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
		m.community(e.ID, placeOf(e.Place, e.ID))
	case *domain.VisitRecorded:
		_, id := domain.SplitStream(ev.Stream)
		n, ok := m.byID[id]
		if !ok {
			return nil
		}
		m.comms[n].Visits = append(m.comms[n].Visits, trustVisit{At: ev.OccurredAt.UnixNano(), Rating: int8(e.TrustRating)})
		m.seen(ev.OccurredAt)
	case *domain.FeedbackReceived:
		if _, dup := m.fbByID[e.ID]; dup {
			return nil
		}
		n := m.community(e.CommunityID, placeOf(e.Place, e.CommunityID))
		c := &m.comms[n]
		m.fbByID[e.ID] = [2]int32{n, int32(len(c.Feedback))}
		c.Feedback = append(c.Feedback, trustFeedback{ID: e.ID, ReceivedAt: ev.OccurredAt.UnixNano(),
			Negative: e.Type == "complaint" || e.Type == "rumour" || e.Type == "refusal"})
		m.seen(ev.OccurredAt)
	case *domain.FeedbackLoopClosed:
		_, id := domain.SplitStream(ev.Stream)
		if at, ok := m.fbByID[id]; ok {
			m.comms[at[0]].Feedback[at[1]].ClosedAt = e.CommunicatedAt.UnixNano()
		}
	case *domain.ReferralRaised:
		if e.Kind != "suspected_case" || e.SymptomOnset.IsZero() {
			return nil
		}
		n := m.community(e.CommunityID, placeOf(e.Place, e.CommunityID))
		m.comms[n].Cases = append(m.comms[n].Cases, trustCase{RaisedAt: ev.OccurredAt.UnixNano(),
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

// Stats computes the weekly trust trend for f.
func (m *Trust) Stats(f Filter) TrustStats {
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	weeks := seriesRange(&f, m.first, m.last, now)
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
		c := &m.comms[n]
		if !cf.matches(c.Place, time.Time{}) {
			continue
		}
		for _, v := range c.Visits {
			if a := at(v.At); a != nil {
				a.t1sum += float64(v.Rating-1) / 4
				a.visits++
			}
		}
		for _, fb := range c.Feedback {
			if a := at(fb.ReceivedAt); a != nil {
				a.fbReceived++
				if fb.ClosedAt != 0 && fb.ClosedAt-fb.ReceivedAt <= int64(days14) {
					a.fbClosedIn14++
				}
				if fb.Negative {
					a.fbNegative++
				}
			}
		}
		for _, rc := range c.Cases {
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

package projections

import (
	"bytes"
	"encoding/gob"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Feedback is the feedback read model: one record per item.
type Feedback struct {
	recs  []fbRecord
	byID  map[string]int32
	idx   index
	first time.Time
	last  time.Time
}

type fbRecord struct {
	ID         string
	Place      place
	Type       string
	Need       string
	ReceivedAt time.Time
	Status     string
	ClosedAt   time.Time // communicated_at of the loop closure
	Satisfied  bool
}

// NewFeedback returns an empty model.
func NewFeedback() *Feedback { return &Feedback{byID: map[string]int32{}, idx: index{}} }

// Apply implements Model.
func (m *Feedback) Apply(ev *Event) error {
	if e, ok := ev.Data.(*domain.FeedbackReceived); ok {
		if _, dup := m.byID[e.ID]; !dup {
			m.add(fbRecord{ID: e.ID, Place: placeOf(e.Place, e.CommunityID), Type: e.Type, Need: e.NeedCategory,
				ReceivedAt: ev.OccurredAt, Status: domain.StatusReceived})
		}
		return nil
	}
	_, id := domain.SplitStream(ev.Stream)
	n, ok := m.byID[id]
	if !ok {
		return nil
	}
	r := &m.recs[n]
	switch e := ev.Data.(type) {
	case *domain.FeedbackReferred:
		r.Status = domain.StatusReferred
	case *domain.FeedbackAnswered:
		r.Status = domain.StatusAnswered
	case *domain.FeedbackLoopClosed:
		r.Status, r.ClosedAt, r.Satisfied = domain.StatusLoopClosed, e.CommunicatedAt, e.Satisfied
	}
	return nil
}

func (m *Feedback) add(r fbRecord) {
	n := int32(len(m.recs))
	m.recs = append(m.recs, r)
	m.byID[r.ID] = n
	m.idx.add(r.Place, n)
	if m.first.IsZero() || r.ReceivedAt.Before(m.first) {
		m.first = r.ReceivedAt
	}
	if r.ReceivedAt.After(m.last) {
		m.last = r.ReceivedAt
	}
}

// FeedbackCounts are the feedback indicators over a set of items.
type FeedbackCounts struct {
	Received          int            `json:"received"`
	LoopClosed        int            `json:"loop_closed"`
	LoopClosureRate   *float64       `json:"loop_closure_rate"`
	DaysToCloseMedian *float64       `json:"days_to_close_median"`
	SatisfiedRate     *float64       `json:"satisfied_rate"`
	ByType            map[string]int `json:"by_type"`
	ByNeed            map[string]int `json:"by_need"`
	days              []float64
	satisfied         int
}

func newFeedbackCounts() FeedbackCounts {
	return FeedbackCounts{ByType: map[string]int{}, ByNeed: map[string]int{}}
}

func (c *FeedbackCounts) add(r *fbRecord) {
	c.Received++
	c.ByType[r.Type]++
	if r.Need != "" {
		c.ByNeed[r.Need]++
	}
	if r.Status == domain.StatusLoopClosed {
		c.LoopClosed++
		c.days = append(c.days, r.ClosedAt.Sub(r.ReceivedAt).Hours()/24)
		if r.Satisfied {
			c.satisfied++
		}
	}
}

func (c *FeedbackCounts) finish() {
	c.LoopClosureRate = rate(c.LoopClosed, c.Received)
	c.DaysToCloseMedian = percentile(c.days, 0.5)
	c.SatisfiedRate = rate(c.satisfied, c.LoopClosed)
	c.days = nil
}

// FeedbackStats answers /v1/stats/feedback.
type FeedbackStats struct {
	FeedbackCounts
	Series []FeedbackWeek `json:"series,omitempty"`
}

// FeedbackWeek counts the items received in one week.
type FeedbackWeek struct {
	Week string `json:"week"`
	FeedbackCounts
}

// Stats computes the feedback indicators for f; with weekly set, the items
// received each week too.
func (m *Feedback) Stats(f Filter, weekly bool) FeedbackStats {
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	out := FeedbackStats{FeedbackCounts: newFeedbackCounts()}
	var weeks []Week
	pos := map[Week]int{}
	if weekly {
		weeks = seriesRange(&f, m.first, m.last, now)
		out.Series = make([]FeedbackWeek, len(weeks))
		for i, w := range weeks {
			out.Series[i] = FeedbackWeek{Week: w.String(), FeedbackCounts: newFeedbackCounts()}
			pos[w] = i
		}
	}
	for _, n := range m.idx[f.scopeKey()] {
		r := &m.recs[n]
		if !f.matches(r.Place, r.ReceivedAt) {
			continue
		}
		out.add(r)
		if i, ok := pos[weekOf(r.ReceivedAt)]; ok {
			out.Series[i].add(r)
		}
	}
	out.finish()
	for i := range out.Series {
		out.Series[i].finish()
	}
	return out
}

// MarshalBinary implements Model.
func (m *Feedback) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(m.recs)
	return b.Bytes(), err
}

// UnmarshalBinary implements Model.
func (m *Feedback) UnmarshalBinary(data []byte) error {
	var recs []fbRecord
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&recs); err != nil {
		return err
	}
	*m = *NewFeedback()
	for _, r := range recs {
		m.add(r)
	}
	return nil
}

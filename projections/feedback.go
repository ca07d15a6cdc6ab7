package projections

import (
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Feedback is the feedback read model: one record per item.
type Feedback struct {
	// snap sizes the next save's buffers (snapSizes).
	snap  *snapSizes
	recs  []fbRecord
	byID  map[string]int32
	idx   index
	names interner
	steps stepLog
	// prior keeps, per record, communicated_at and satisfied of every loop
	// closure but its last, in log order (the domain closes a loop once, so
	// it stays empty).
	prior map[int32][]fbClosure
}

type fbRecord struct {
	ID         string
	Place      place
	Type       string
	Need       string
	ReceivedAt time.Time
	ClosedAt   time.Time // communicated_at of the (last) loop closure
	Pos        uint64    // log position of the receipt
	Steps      stepChain // transitions after the receipt, in log order
	span       span      // of the receipt and the transitions
	Status     uint8
	Satisfied  bool
}

type fbClosure struct {
	ClosedAt  time.Time
	Satisfied bool
}

// Feedback statuses in the read model.
const (
	fbReceived uint8 = iota
	fbReferred
	fbAnswered
	fbLoopClosed
)

var fbStatusNames = [...]string{domain.StatusReceived, domain.StatusReferred, domain.StatusAnswered, domain.StatusLoopClosed}

// NewFeedback returns an empty model.
func NewFeedback() *Feedback {
	return &Feedback{byID: map[string]int32{}, idx: newIndex(newScopes()), names: newInterner(), prior: map[int32][]fbClosure{}, snap: new(snapSizes)}
}

// Apply implements Model.
func (m *Feedback) Apply(ev *Event) error {
	if e, ok := ev.Data.(*domain.FeedbackReceived); ok {
		if _, dup := m.byID[e.ID]; !dup {
			m.add(fbRecord{ID: e.ID, Place: m.names.placeOf(e.Place, e.CommunityID), Type: m.names.str(e.Type), Need: m.names.str(e.NeedCategory),
				ReceivedAt: ev.OccurredAt, Status: fbReceived, Pos: ev.Position})
		}
		return nil
	}
	switch ev.Data.(type) {
	case *domain.FeedbackReferred, *domain.FeedbackAnswered, *domain.FeedbackLoopClosed:
	default:
		// Most of the log is about something else: no need to look for an
		// item on its stream.
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
		r.Status = fbReferred
	case *domain.FeedbackAnswered:
		r.Status = fbAnswered
	case *domain.FeedbackLoopClosed:
		if m.steps.count(r.Steps, fbLoopClosed) > 0 {
			m.prior[n] = append(m.prior[n], fbClosure{ClosedAt: r.ClosedAt, Satisfied: r.Satisfied})
		}
		r.Status, r.ClosedAt, r.Satisfied = fbLoopClosed, e.CommunicatedAt, e.Satisfied
	default:
		return nil
	}
	m.steps.add(&r.Steps, ev.Position, nanos(ev.OccurredAt), r.Status)
	r.span.add(ev.Position, nanos(ev.OccurredAt))
	return nil
}

// in returns item n as a fresh model fed only the events of c would hold
// it, and whether it would hold it at all: it exists if its receipt is in c;
// its status is that of its last transition in c, in log order (one left
// out is skipped, later ones still apply), and its closure fields those of
// its last loop closure in c.
func (m *Feedback) in(n int32, c *cut) (fbRecord, bool) {
	r := &m.recs[n]
	if !c.has(r.Pos, nanos(r.ReceivedAt)) {
		return fbRecord{}, false
	}
	v := *r
	var last int
	v.Status, last = m.steps.in(r.Steps, c, fbReceived, fbLoopClosed)
	switch prior := m.prior[n]; {
	case last < 0:
		v.ClosedAt, v.Satisfied = time.Time{}, false
	case last < len(prior):
		v.ClosedAt, v.Satisfied = prior[last].ClosedAt, prior[last].Satisfied
	}
	return v, true
}

func (m *Feedback) add(r fbRecord) {
	r.span = spanOf(r.Pos, nanos(r.ReceivedAt))
	n := int32(len(m.recs))
	m.recs = append(m.recs, r)
	m.byID[r.ID] = n
	m.idx.add(r.Place, n)
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
	// byType and byNeed count until finish fills ByType and ByNeed.
	byType, byNeed tally[int]
}

func newFeedbackCounts() FeedbackCounts {
	return FeedbackCounts{ByType: map[string]int{}, ByNeed: map[string]int{}}
}

func (c *FeedbackCounts) add(r *fbRecord) {
	c.Received++
	*c.byType.at(r.Type)++
	if r.Need != "" {
		*c.byNeed.at(r.Need)++
	}
	if r.Status == fbLoopClosed {
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
	for i, k := range c.byType.keys {
		c.ByType[k] += c.byType.vals[i]
	}
	for i, k := range c.byNeed.keys {
		c.ByNeed[k] += c.byNeed.vals[i]
	}
	c.byType, c.byNeed = tally[int]{}, tally[int]{}
}

// FeedbackStats answers /v1/stats/feedback.
type FeedbackStats struct {
	FeedbackCounts
	Series []FeedbackWeek `json:"series,omitempty"`
}

// FeedbackWeek counts the items received in one week.
type FeedbackWeek struct {
	Week string `json:"week"`
	// Partial: the week is not over (it holds now), or the period cuts it.
	Partial bool `json:"partial"`
	FeedbackCounts
}

// Stats computes the feedback indicators for f; with weekly set, the items
// received each week too.
func (m *Feedback) Stats(f Filter, weekly bool) FeedbackStats { return m.stats(&f, weekly, nil) }

// asOf answers Stats(f, false) for the events of c.
func (m *Feedback) asOf(f Filter, c *cut) FeedbackStats { return m.stats(&f, false, c) }

// stats computes the indicators; with c, as a fresh model fed only the
// events of c would (without the series: the range of weeks it would span
// is not worked out for c). With f.To, items are as they stood at to
// (periodCut): a loop closed from to on is not closed in the answer.
func (m *Feedback) stats(f *Filter, weekly bool, c *cut) FeedbackStats {
	c = periodCut(f, c)
	out := FeedbackStats{FeedbackCounts: newFeedbackCounts()}
	sel := m.idx.list(f.scope())
	// One allocation for the days to close, not a slice grown by doubling.
	out.days = make([]float64, 0, len(sel))
	pos := map[Week]int{}
	if weekly {
		// The series spans the place's own items, not the whole model's.
		var first, last time.Time
		for _, n := range sel {
			r := &m.recs[n]
			if !f.matches(r.Place, r.ReceivedAt) {
				continue
			}
			if first.IsZero() || r.ReceivedAt.Before(first) {
				first = r.ReceivedAt
			}
			if r.ReceivedAt.After(last) {
				last = r.ReceivedAt
			}
		}
		weeks := seriesRange(f, first, last, f.Now)
		out.Series = make([]FeedbackWeek, len(weeks))
		for i, w := range weeks {
			out.Series[i] = FeedbackWeek{Week: w.String(), FeedbackCounts: newFeedbackCounts(),
				Partial: !f.Now.IsZero() && w.End().After(f.Now) || !f.To.IsZero() && w.End().After(f.To) ||
					!f.From.IsZero() && w.Start().Before(f.From)}
			pos[w] = i
		}
	}
	var v fbRecord
	for _, n := range sel {
		r := &m.recs[n]
		if c != nil && !c.hasAll(r.span) {
			var ok bool
			if v, ok = m.in(n, c); !ok {
				continue
			}
			r = &v
		}
		if !f.matches(r.Place, r.ReceivedAt) {
			continue
		}
		out.add(r)
		if weekly {
			if i, ok := pos[weekOf(r.ReceivedAt)]; ok {
				out.Series[i].add(r)
			}
		}
	}
	out.finish()
	for i := range out.Series {
		out.Series[i].finish()
	}
	return out
}

// MarshalBinary implements Model (see indicator_codec.go).
func (m *Feedback) MarshalBinary() ([]byte, error) {
	return m.encode(nil), nil
}

// AppendBinary implements encoding.BinaryAppender: the engine encodes a
// save after its checkpoint in one buffer.
func (m *Feedback) AppendBinary(b []byte) ([]byte, error) {
	return m.encode(b), nil
}

// UnmarshalBinary implements Model.
func (m *Feedback) UnmarshalBinary(data []byte) error {
	*m = *NewFeedback()
	if err := m.decode(data); err != nil {
		return err
	}
	// Each record is set up as add does, and indexed in bulk (bulkIndex);
	// its strings come interned.
	ix := newBulkIndex(len(m.recs))
	m.byID = make(map[string]int32, len(m.recs))
	for i := range m.recs {
		r := &m.recs[i]
		r.span = spanOf(r.Pos, nanos(r.ReceivedAt))
		if err := m.steps.widen(&r.span, r.Steps); err != nil {
			return err
		}
		m.byID[r.ID] = int32(i)
		ix.add(r.Place)
	}
	ix.fill(&m.idx)
	return nil
}

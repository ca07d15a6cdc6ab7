package projections

import (
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Status codes of action points in the read model.
const (
	apOpen uint8 = iota
	apInProgress
	apAchieved
	apDropped
)

var apStatusNames = [...]string{"open", "in_progress", "achieved", "dropped"}

// Completion is the action-point read model: one record per action point
// with its status history, indexed by place.
type Completion struct {
	// snap sizes the next save's buffers (snapSizes).
	snap  *snapSizes
	recs  []apRecord
	byID  map[string]int32
	idx   index
	names interner
}

type apRecord struct {
	ID       string
	Place    place
	Names    [2]string // district and chiefdom as registered, for display
	Category string
	Kind     string
	Due      int64 // UTC day number of the due date; 0: none
	RaisedAt time.Time
	Pos      uint64   // log position of the raise
	Steps    []apStep // status changes after the raise, in log order
	span     span     // of the raise and the steps
	cur      uint8    // the status after the last step
}

type apStep struct {
	At     time.Time // occurred_at
	Pos    uint64    // log position
	Status uint8
}

// NewCompletion returns an empty model.
func NewCompletion() *Completion {
	return &Completion{byID: map[string]int32{}, idx: newIndex(newScopes()), names: newInterner(), snap: new(snapSizes)}
}

// status is the status after the last step. It is kept in the record: a
// question reads it for every record, and the steps are elsewhere in memory.
func (r *apRecord) status() uint8 { return r.cur }

// summarize works out the span and status from the raise and the steps.
func (r *apRecord) summarize() {
	r.span, r.cur = spanOf(r.Pos, nanos(r.RaisedAt)), apOpen
	for _, st := range r.Steps {
		r.span.add(st.Pos, nanos(st.At))
		r.cur = st.Status
	}
}

// statusAt is the status at moment t (field time), and whether the action
// point had been raised by then.
func (r *apRecord) statusAt(t time.Time) (uint8, bool) {
	if !r.RaisedAt.Before(t) {
		return 0, false
	}
	s := apOpen
	for _, st := range r.Steps {
		if st.At.Before(t) {
			s = st.Status
		}
	}
	return s, true
}

// statusIn is the status a fresh model fed only the events of c would give
// the action point, and whether it would know it: it exists if its raise is
// in c, and its status is that of the last of its changes in c, in log order
// (a change left out is skipped; later ones still apply).
func (r *apRecord) statusIn(c *cut) (uint8, bool) {
	if !c.has(r.Pos, nanos(r.RaisedAt)) {
		return 0, false
	}
	s := apOpen
	for i := range r.Steps {
		if st := &r.Steps[i]; c.has(st.Pos, nanos(st.At)) {
			s = st.Status
		}
	}
	return s, true
}

// Apply implements Model.
func (m *Completion) Apply(ev *Event) error {
	switch e := ev.Data.(type) {
	case *domain.ActionPointRaised:
		if _, dup := m.byID[e.ID]; dup {
			return nil
		}
		in := m.names
		rec := apRecord{ID: e.ID, Place: in.placeOf(e.Place, e.CommunityID), Names: [2]string{in.str(e.District), in.str(e.Chiefdom)},
			Category: in.str(e.Category), Kind: in.str(e.Kind), RaisedAt: ev.OccurredAt, Pos: ev.Position}
		if t := e.DueDate.Time(); !t.IsZero() {
			rec.Due = dayOf(t)
		}
		m.add(rec)
	case *domain.ActionPointStarted:
		m.step(ev, apInProgress)
	case *domain.ActionPointReopened:
		m.step(ev, apInProgress)
	case *domain.ActionPointAchieved:
		m.step(ev, apAchieved)
	case *domain.ActionPointDropped:
		m.step(ev, apDropped)
	}
	return nil
}

func (m *Completion) add(rec apRecord) {
	rec.summarize()
	n := int32(len(m.recs))
	m.recs = append(m.recs, rec)
	m.byID[rec.ID] = n
	m.idx.add(rec.Place, n)
}

func (m *Completion) step(ev *Event, s uint8) {
	_, id := domain.SplitStream(ev.Stream)
	if n, ok := m.byID[id]; ok {
		r := &m.recs[n]
		r.Steps = append(r.Steps, apStep{At: ev.OccurredAt, Pos: ev.Position, Status: s})
		r.span.add(ev.Position, nanos(ev.OccurredAt))
		r.cur = s
	}
}

// Counts are action points by status with the two rates.
type Counts struct {
	Total              int      `json:"total"`
	Open               int      `json:"open"`
	InProgress         int      `json:"in_progress"`
	Achieved           int      `json:"achieved"`
	Dropped            int      `json:"dropped"`
	Overdue            int      `json:"overdue"`
	AchievedRate       *float64 `json:"achieved_rate"`
	ImplementationRate *float64 `json:"implementation_rate"`
}

func (c *Counts) add(status uint8, overdue bool) {
	c.Total++
	switch status {
	case apOpen:
		c.Open++
	case apInProgress:
		c.InProgress++
	case apAchieved:
		c.Achieved++
	case apDropped:
		c.Dropped++
	}
	if overdue {
		c.Overdue++
	}
}

func (c *Counts) finish() {
	c.AchievedRate = rate(c.Achieved, c.Total-c.Dropped)
	c.ImplementationRate = rate(c.InProgress+c.Achieved, c.Total-c.Dropped)
}

// CompletionStats answers /v1/stats/completion.
type CompletionStats struct {
	Counts
	ByCategory map[string]*Counts `json:"by_category"`
	ByKind     map[string]*Counts `json:"by_kind"`
	Series     []CompletionWeek   `json:"series,omitempty"`
}

// CompletionWeek is the state at the end of one week.
type CompletionWeek struct {
	Week string `json:"week"`
	// Partial: the week is not over (it holds now or to), and the state is
	// that of then.
	Partial bool `json:"partial"`
	Counts
}

func isOverdue(due int64, status uint8, today int64) bool {
	return due != 0 && due < today && status != apAchieved && status != apDropped
}

func (m *Completion) selected(f *Filter, fn func(r *apRecord)) {
	for _, n := range m.idx.list(f.scope()) {
		r := &m.recs[n]
		if f.Category != "" && r.Category != f.Category {
			continue
		}
		if f.matches(r.Place, r.RaisedAt) {
			fn(r)
		}
	}
}

// Stats computes the completion indicators for f; with weekly set, the
// series of week-end states too.
//
// With f.To, every figure is as things stood at to: records raised from to
// on are left out, and so are changes from to on to older ones (periodCut);
// "today" for overdue is the last day before to when to is past.
func (m *Completion) Stats(f Filter, weekly bool) CompletionStats {
	out := m.counts(&f, dayOf(statusTime(&f)), periodCut(&f, nil))
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	if weekly {
		// The series counts every record of the place, not only those
		// created within the range: it is the state at each week's end.
		sf := f
		sf.From, sf.To = time.Time{}, time.Time{}
		// It spans the place's own records (a back-dated record elsewhere
		// does not stretch it).
		var first, last time.Time
		m.selected(&sf, func(r *apRecord) {
			if first.IsZero() || r.RaisedAt.Before(first) {
				first = r.RaisedAt
			}
			if r.RaisedAt.After(last) {
				last = r.RaisedAt
			}
			for _, st := range r.Steps {
				if st.At.After(last) {
					last = st.At
				}
			}
		})
		weeks := seriesRange(&f, first, last, now)
		out.Series = make([]CompletionWeek, len(weeks))
		// Each point is the state at the end of its week (or now, or to,
		// for the week that holds it); "today" for overdue is the week's
		// last day.
		ends := make([]time.Time, len(weeks))
		days := make([]int64, len(weeks))
		for i, w := range weeks {
			out.Series[i].Week = w.String()
			ends[i], days[i] = w.End(), dayOf(w.End().Add(-time.Nanosecond))
			if ends[i].After(now) {
				ends[i], days[i] = now, dayOf(now)
				out.Series[i].Partial = true
			}
			if !f.To.IsZero() && ends[i].After(f.To) {
				ends[i], days[i] = f.To, dayOf(f.To.Add(-time.Nanosecond))
				out.Series[i].Partial = true
			}
		}
		m.selected(&sf, func(r *apRecord) {
			for i, end := range ends {
				if s, ok := r.statusAt(end); ok {
					out.Series[i].add(s, isOverdue(r.Due, s, days[i]))
				}
			}
		})
		for i := range out.Series {
			out.Series[i].finish()
		}
	}
	return out
}

// counts computes the totals of Stats for f with today's UTC day number;
// with c, as a fresh model fed only the events of c would.
func (m *Completion) counts(f *Filter, today int64, c *cut) CompletionStats {
	out := CompletionStats{ByCategory: map[string]*Counts{}, ByKind: map[string]*Counts{}}
	var cats, kinds tally[Counts]
	m.selected(f, func(r *apRecord) {
		s := r.status()
		if c != nil && !c.hasAll(r.span) {
			var ok bool
			if s, ok = r.statusIn(c); !ok {
				return
			}
		}
		od := isOverdue(r.Due, s, today)
		out.add(s, od)
		cats.at(r.Category).add(s, od)
		kinds.at(r.Kind).add(s, od)
	})
	for i, k := range cats.keys {
		out.ByCategory[k] = &cats.vals[i]
	}
	for i, k := range kinds.keys {
		out.ByKind[k] = &kinds.vals[i]
	}
	out.finish()
	for _, c := range out.ByCategory {
		c.finish()
	}
	for _, c := range out.ByKind {
		c.finish()
	}
	return out
}

// asOf answers Stats(f, false) for the events of c, f.Now being the time
// asked about.
func (m *Completion) asOf(f Filter, c *cut) CompletionStats {
	return m.counts(&f, dayOf(statusTime(&f)), periodCut(&f, c))
}

// statusTime is the moment the totals describe: now (f.Now; zero: the time
// of the query), or just before the end of the period when that is earlier.
func statusTime(f *Filter) time.Time {
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	if !f.To.IsZero() && f.To.Before(now) {
		now = f.To.Add(-time.Nanosecond)
	}
	return now
}

// MarshalBinary implements Model.
func (m *Completion) MarshalBinary() ([]byte, error) {
	return m.encode(nil), nil
}

// AppendBinary implements encoding.BinaryAppender: the engine encodes a
// save after its checkpoint in one buffer.
func (m *Completion) AppendBinary(b []byte) ([]byte, error) {
	return m.encode(b), nil
}

// UnmarshalBinary implements Model.
func (m *Completion) UnmarshalBinary(data []byte) error {
	*m = *NewCompletion()
	if err := m.decode(data); err != nil {
		return err
	}
	// Each record is set up as add does, and indexed in bulk (bulkIndex);
	// its strings come interned.
	ix := newBulkIndex(len(m.recs))
	m.byID = make(map[string]int32, len(m.recs))
	for i := range m.recs {
		r := &m.recs[i]
		r.summarize()
		m.byID[r.ID] = int32(i)
		ix.add(r.Place)
	}
	ix.fill(&m.idx)
	return nil
}

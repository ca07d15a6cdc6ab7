package projections

import (
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Referrals is the referral read model: one record per referral.
type Referrals struct {
	// snap sizes the next save's buffers (snapSizes).
	snap  *snapSizes
	recs  []refRecord
	byID  map[string]int32
	idx   index
	names interner
	steps stepLog
	// prior keeps, per record, the arrival and outcome of every completion
	// but its last, in log order (the domain completes a referral once, so
	// it stays empty).
	prior map[int32][]refCompletion
}

type refRecord struct {
	ID        string
	Place     place
	Kind      string
	RaisedAt  time.Time
	Onset     time.Time
	ArrivedAt time.Time // of the last completion
	Outcome   string    // of the last completion
	Pos       uint64    // log position of the raise
	Steps     stepChain // transitions after the raise, in log order
	span      span      // of the raise and the transitions
	Status    uint8
}

type refCompletion struct {
	ArrivedAt time.Time
	Outcome   string
}

// Referral statuses in the read model.
const (
	refRaised uint8 = iota
	refAcknowledged
	refCompleted
	refClosed
	refCancelled
)

var refStatusNames = [...]string{domain.StatusRaised, domain.StatusAcknowledged, domain.StatusCompleted, domain.StatusClosed, domain.StatusCancelled}

// NewReferrals returns an empty model.
func NewReferrals() *Referrals {
	return &Referrals{byID: map[string]int32{}, idx: newIndex(newScopes()), names: newInterner(), prior: map[int32][]refCompletion{}, snap: new(snapSizes)}
}

// Apply implements Model.
func (m *Referrals) Apply(ev *Event) error {
	if e, ok := ev.Data.(*domain.ReferralRaised); ok {
		if _, dup := m.byID[e.ID]; !dup {
			m.add(refRecord{ID: e.ID, Place: m.names.placeOf(e.Place, e.CommunityID), Kind: m.names.str(e.Kind),
				RaisedAt: ev.OccurredAt, Onset: e.SymptomOnset, Status: refRaised, Pos: ev.Position})
		}
		return nil
	}
	switch ev.Data.(type) {
	case *domain.ReferralAcknowledged, *domain.ReferralCompleted, *domain.ReferralClosed, *domain.ReferralCancelled:
	default:
		// Most of the log is about something else: no need to look for a
		// referral on its stream.
		return nil
	}
	_, id := domain.SplitStream(ev.Stream)
	n, ok := m.byID[id]
	if !ok {
		return nil
	}
	r := &m.recs[n]
	switch e := ev.Data.(type) {
	case *domain.ReferralAcknowledged:
		r.Status = refAcknowledged
	case *domain.ReferralCompleted:
		if m.steps.count(r.Steps, refCompleted) > 0 {
			m.prior[n] = append(m.prior[n], refCompletion{ArrivedAt: r.ArrivedAt, Outcome: r.Outcome})
		}
		r.Status, r.ArrivedAt, r.Outcome = refCompleted, e.ArrivedAt, m.names.str(e.Outcome)
	case *domain.ReferralClosed:
		r.Status = refClosed
	case *domain.ReferralCancelled:
		r.Status = refCancelled
	default:
		return nil
	}
	m.steps.add(&r.Steps, ev.Position, nanos(ev.OccurredAt), r.Status)
	r.span.add(ev.Position, nanos(ev.OccurredAt))
	return nil
}

func (m *Referrals) add(r refRecord) {
	r.span = spanOf(r.Pos, nanos(r.RaisedAt))
	n := int32(len(m.recs))
	m.recs = append(m.recs, r)
	m.byID[r.ID] = n
	m.idx.add(r.Place, n)
}

// in returns record n as a fresh model fed only the events of c would hold
// it, and whether it would hold it at all: it exists if its raise is in c;
// its status is that of its last transition in c, in log order (one left
// out is skipped, later ones still apply), and its arrival and outcome
// those of its last completion in c.
func (m *Referrals) in(n int32, c *cut) (refRecord, bool) {
	r := &m.recs[n]
	if !c.has(r.Pos, nanos(r.RaisedAt)) {
		return refRecord{}, false
	}
	v := *r
	var last int
	v.Status, last = m.steps.in(r.Steps, c, refRaised, refCompleted)
	switch prior := m.prior[n]; {
	case last < 0:
		v.ArrivedAt, v.Outcome = time.Time{}, ""
	case last < len(prior):
		v.ArrivedAt, v.Outcome = prior[last].ArrivedAt, prior[last].Outcome
	}
	return v, true
}

// withinOnset reports whether a suspected case was raised within 24 hours of
// symptom onset; ok is false when it is not a suspected case with an onset.
func (r *refRecord) withinOnset() (within, ok bool) {
	if r.Kind != "suspected_case" || r.Onset.IsZero() {
		return false, false
	}
	return r.RaisedAt.Sub(r.Onset) <= hoursIn24, true
}

// ReferralStats answers /v1/stats/referrals.
type ReferralStats struct {
	Total                  int            `json:"total"`
	ByStatus               map[string]int `json:"by_status"`
	ByKind                 map[string]int `json:"by_kind"`
	SuspectedWithin24hRate *float64       `json:"suspected_within_24h_rate"`
	HoursToCompleteMedian  *float64       `json:"hours_to_complete_median"`
	HoursToCompleteP90     *float64       `json:"hours_to_complete_p90"`
	SafeBurialRate         *float64       `json:"safe_burial_rate"`
}

// Stats computes the referral indicators for f.
func (m *Referrals) Stats(f Filter) ReferralStats { return m.stats(&f, nil) }

// asOf answers Stats(f) for the events of c.
func (m *Referrals) asOf(f Filter, c *cut) ReferralStats { return m.stats(&f, c) }

// stats computes the indicators for f; with c, as a fresh model fed only the
// events of c would.
//
// With f.To, referrals are as they stood at to (periodCut): one completed
// from to on is not completed in the answer.
func (m *Referrals) stats(f *Filter, c *cut) ReferralStats {
	c = periodCut(f, c)
	out := ReferralStats{ByStatus: map[string]int{}, ByKind: map[string]int{}}
	var suspected, within, deaths, safe int
	sel := m.idx.list(f.scope())
	// One allocation for the durations, not a slice grown by doubling:
	// growing it was a third of a national question.
	hours := make([]float64, 0, len(sel))
	var v refRecord
	var byStatus [len(refStatusNames)]int
	var byKind tally[int]
	for _, n := range sel {
		r := &m.recs[n]
		if c != nil && !c.hasAll(r.span) {
			var ok bool
			if v, ok = m.in(n, c); !ok {
				continue
			}
			r = &v
		}
		if !f.matches(r.Place, r.RaisedAt) {
			continue
		}
		out.Total++
		byStatus[r.Status]++
		*byKind.at(r.Kind)++
		if w, ok := r.withinOnset(); ok {
			suspected++
			if w {
				within++
			}
		}
		if r.Outcome != "" {
			hours = append(hours, r.ArrivedAt.Sub(r.RaisedAt).Hours())
			if r.Kind == "death_alert" {
				deaths++
				if r.Outcome == "safe_burial" {
					safe++
				}
			}
		}
	}
	for st, n := range byStatus {
		if n > 0 {
			out.ByStatus[refStatusNames[st]] = n
		}
	}
	for i, k := range byKind.keys {
		out.ByKind[k] = byKind.vals[i]
	}
	out.SuspectedWithin24hRate = rate(within, suspected)
	out.HoursToCompleteMedian = percentile(hours, 0.5)
	out.HoursToCompleteP90 = percentile(hours, 0.9)
	out.SafeBurialRate = rate(safe, deaths)
	return out
}

// MarshalBinary implements Model (see indicator_codec.go).
func (m *Referrals) MarshalBinary() ([]byte, error) {
	return m.encode(nil), nil
}

// AppendBinary implements encoding.BinaryAppender: the engine encodes a
// save after its checkpoint in one buffer.
func (m *Referrals) AppendBinary(b []byte) ([]byte, error) {
	return m.encode(b), nil
}

// UnmarshalBinary implements Model.
func (m *Referrals) UnmarshalBinary(data []byte) error {
	*m = *NewReferrals()
	if err := m.decode(data); err != nil {
		return err
	}
	// Each record is set up as add does, and indexed in bulk (bulkIndex);
	// its strings come interned.
	ix := newBulkIndex(len(m.recs))
	m.byID = make(map[string]int32, len(m.recs))
	for i := range m.recs {
		r := &m.recs[i]
		r.span = spanOf(r.Pos, nanos(r.RaisedAt))
		if err := m.steps.widen(&r.span, r.Steps); err != nil {
			return err
		}
		m.byID[r.ID] = int32(i)
		ix.add(r.Place)
	}
	ix.fill(&m.idx)
	return nil
}

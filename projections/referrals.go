package projections

import (
	"bytes"
	"encoding/gob"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Referrals is the referral read model: one record per referral.
type Referrals struct {
	recs []refRecord
	byID map[string]int32
	idx  index
}

type refRecord struct {
	ID        string
	Place     place
	Kind      string
	RaisedAt  time.Time
	Onset     time.Time
	Status    string
	ArrivedAt time.Time
	Outcome   string
}

// NewReferrals returns an empty model.
func NewReferrals() *Referrals { return &Referrals{byID: map[string]int32{}, idx: index{}} }

// Apply implements Model.
func (m *Referrals) Apply(ev *Event) error {
	if e, ok := ev.Data.(*domain.ReferralRaised); ok {
		if _, dup := m.byID[e.ID]; !dup {
			m.add(refRecord{ID: e.ID, Place: placeOf(e.Place, e.CommunityID), Kind: e.Kind,
				RaisedAt: ev.OccurredAt, Onset: e.SymptomOnset, Status: domain.StatusRaised})
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
	case *domain.ReferralAcknowledged:
		r.Status = domain.StatusAcknowledged
	case *domain.ReferralCompleted:
		r.Status, r.ArrivedAt, r.Outcome = domain.StatusCompleted, e.ArrivedAt, e.Outcome
	case *domain.ReferralClosed:
		r.Status = domain.StatusClosed
	case *domain.ReferralCancelled:
		r.Status = domain.StatusCancelled
	}
	return nil
}

func (m *Referrals) add(r refRecord) {
	n := int32(len(m.recs))
	m.recs = append(m.recs, r)
	m.byID[r.ID] = n
	m.idx.add(r.Place, n)
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
func (m *Referrals) Stats(f Filter) ReferralStats {
	out := ReferralStats{ByStatus: map[string]int{}, ByKind: map[string]int{}}
	var suspected, within, deaths, safe int
	var hours []float64
	for _, n := range m.idx[f.scopeKey()] {
		r := &m.recs[n]
		if !f.matches(r.Place, r.RaisedAt) {
			continue
		}
		out.Total++
		out.ByStatus[r.Status]++
		out.ByKind[r.Kind]++
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
	out.SuspectedWithin24hRate = rate(within, suspected)
	out.HoursToCompleteMedian = percentile(hours, 0.5)
	out.HoursToCompleteP90 = percentile(hours, 0.9)
	out.SafeBurialRate = rate(safe, deaths)
	return out
}

// MarshalBinary implements Model.
func (m *Referrals) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(m.recs)
	return b.Bytes(), err
}

// UnmarshalBinary implements Model.
func (m *Referrals) UnmarshalBinary(data []byte) error {
	var recs []refRecord
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&recs); err != nil {
		return err
	}
	*m = *NewReferrals()
	for _, r := range recs {
		m.add(r)
	}
	return nil
}

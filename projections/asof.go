package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
)

// Bases of an as-of query.
const (
	// BasisRecorded: what the system knew at the time — events recorded by
	// then. This is what a coordinator could have seen.
	BasisRecorded = "recorded"
	// BasisOccurred: what had happened by then — events whose field time is
	// by then, including reports synced later.
	BasisOccurred = "occurred"
)

// recordedSlack is how far past the asked time a recorded-basis replay reads
// before it stops, in case recorded_at is not monotonic (KurrentDB).
const recordedSlack = time.Minute

// ErrBusy is returned by AsOf while another as-of replay runs.
var ErrBusy = errors.New("projections: an as-of replay is already running; retry shortly")

// AsOf is every indicator as it stood at a time, on one basis.
type AsOf struct {
	At         time.Time       `json:"at"`
	Basis      string          `json:"basis"`
	Position   uint64          `json:"position"`
	Completion CompletionStats `json:"completion"`
	Trust      TrustStats      `json:"trust"`
	Referrals  ReferralStats   `json:"referrals"`
	Feedback   FeedbackStats   `json:"feedback"`
}

// AsOf rebuilds the standard models from the log as it stood at `at` and
// answers f from them, with `at` as "today". The models are the live ones'
// code fed a filtered log, so the numbers are what the live read side
// showed (recorded basis) or would have shown had every report arrived on
// time (occurred basis).
func (e *Engine) AsOf(ctx context.Context, at time.Time, basis string, f Filter) (AsOf, error) {
	select {
	case e.asOfSlots <- struct{}{}:
		defer func() { <-e.asOfSlots }()
	default:
		return AsOf{}, ErrBusy
	}
	var sel selector
	switch basis {
	case BasisRecorded:
		// recorded_at never decreases along the embedded log; a server
		// store's clock may step back a little across a leader change, so
		// the replay filters, and stops only well past the time.
		sel = func(rec *eventstore.RecordedEvent) (bool, bool) {
			return !rec.RecordedAt.After(at), rec.RecordedAt.After(at.Add(recordedSlack))
		}
	case BasisOccurred:
		sel = func(rec *eventstore.RecordedEvent) (bool, bool) { return !rec.Meta.OccurredAt.After(at), false }
	default:
		return AsOf{}, fmt.Errorf("unknown basis %q", basis)
	}
	comp, refs, fb, trust := NewCompletion(), NewReferrals(), NewFeedback(), NewTrust(e.cfg.TrustWeights)
	last, _, err := replay(ctx, e.cfg.Store, 0, 0, sel, []Model{comp, refs, fb, trust}, nil)
	if err != nil {
		return AsOf{}, err
	}
	f.Now = at
	return AsOf{
		At: at.UTC(), Basis: basis, Position: last,
		Completion: comp.Stats(f, false),
		Trust:      trust.Stats(f),
		Referrals:  refs.Stats(f),
		Feedback:   fb.Stats(f, false),
	}, nil
}

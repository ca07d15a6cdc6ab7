package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
)

// Deliver hands one stored event to the named model as the Watermill handler
// does, so tests can redeliver an event.
func (e *Engine) Deliver(name string, rec *eventstore.RecordedEvent) error {
	return e.apply(e.byName[name], rec)
}

// BuildModels folds the whole log of store into the four standard models, as
// Rebuild does, and returns them (for measuring what they hold).
func BuildModels(ctx context.Context, store eventstore.Store) ([]Model, error) {
	models := []Model{NewCompletion(), NewReferrals(), NewFeedback(), NewTrust([4]float64{})}
	_, _, err := replay(ctx, store, 0, 0, keepAll, models, nil)
	return models, err
}

// AsOfReplay is the replay-based as-of that Engine.AsOf replaced, kept as
// the oracle AsOf must agree with: it folds the selected events of the log
// into fresh standard models and asks them. It answers several filters from
// one replay (one AsOf per filter, each as the old AsOf answered it).
func (e *Engine) AsOfReplay(ctx context.Context, at time.Time, basis string, fs ...Filter) ([]AsOf, error) {
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
		return nil, fmt.Errorf("unknown basis %q", basis)
	}
	comp, refs, fb, trust := NewCompletion(), NewReferrals(), NewFeedback(), NewTrustMin(e.cfg.TrustWeights, e.cfg.TrustMinVisits)
	last, _, err := replay(ctx, e.cfg.Store, 0, 0, sel, []Model{comp, refs, fb, trust}, nil)
	if err != nil {
		return nil, err
	}
	out := make([]AsOf, len(fs))
	for i, f := range fs {
		f.Now = at
		out[i] = AsOf{
			At: at.UTC(), Basis: basis, Position: last,
			Completion: comp.Stats(f, false),
			Trust:      trust.Stats(f),
			Referrals:  refs.Stats(f),
			Feedback:   fb.Stats(f, false),
		}
	}
	return out, nil
}

// ClockSamples is how many samples the engine's as-of clock holds and the
// position of the last event it counted.
func (e *Engine) ClockSamples() (int, uint64) {
	samples, _ := e.clock.view()
	return len(samples), e.clock.covered.Load()
}

// ActivityLastSeen reads one actor's last write from an Activity model.
func ActivityLastSeen(m *Activity, id string) time.Time {
	if a := m.actors[id]; a != nil {
		return a.last
	}
	return time.Time{}
}

// FirstTryThen exposes the read models' retry middleware.
var FirstTryThen = firstTryThen

// Percentile is percentile, for testing it against a sort.
func Percentile(values []float64, p float64) *float64 { return percentile(values, p) }

// BuildAllModels folds the whole log into fresh instances of the six
// standard read models, named as the engine names them.
func BuildAllModels(ctx context.Context, store eventstore.Store) (map[string]Model, error) {
	names := []string{NameCompletion, NameReferrals, NameFeedback, NameTrust, NameActivity, NameLists}
	models := []Model{NewCompletion(), NewReferrals(), NewFeedback(), NewTrust([4]float64{}), NewActivity(), NewLists()}
	if _, _, err := replay(ctx, store, 0, 0, keepAll, models, nil); err != nil {
		return nil, err
	}
	out := make(map[string]Model, len(models))
	for i, m := range models {
		out[names[i]] = m
	}
	return out, nil
}

// New returns an empty standard read model of the given name.
func New(name string) Model {
	switch name {
	case NameCompletion:
		return NewCompletion()
	case NameReferrals:
		return NewReferrals()
	case NameFeedback:
		return NewFeedback()
	case NameTrust:
		return NewTrust([4]float64{})
	case NameActivity:
		return NewActivity()
	case NameLists:
		return NewLists()
	}
	panic("no model " + name)
}

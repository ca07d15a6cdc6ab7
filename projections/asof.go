package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
	"go.uber.org/zap"
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

// AsOf answers f as it stood at `at`, with `at` as "today".
//
// The answer is, number for number, that of fresh standard models fed the log
// as it stood then, in log order — the events read up to the head of the log
// when asked that were recorded by `at` (basis recorded; reading stops at the
// first event recorded after at + recordedSlack, and Position is the last
// event before it) or that occurred by `at` (basis occurred; Position is the
// head) — so the numbers are what the live read side showed (recorded basis)
// or would have shown had every report arrived on time (occurred basis).
//
// It does not replay: the live models keep, for every event folded into a
// record, its position and occurred_at, and each answers from its records
// what the fresh model would hold (a transition left out is skipped, later
// ones still apply; a record whose creating event is left out does not
// exist). The cost is one pass over the records asked about (and, for
// trust, over every community's events, for the range of weeks), the four
// models side by side, each under its own read lock; nothing the size of a
// model is copied. A record whose every event is in the cut (its span) is
// read as it stands, and only the others' histories are walked: most
// records, at any time but the weeks they were alive. Models behind the head
// are first brought up to it.
//
// It relies on two things the domain guarantees (an aggregate is created
// once, in its own stream, and feedback items and referrals copy their
// community's place, which never changes): a record id has one creating
// event — a model ignores a second one and keeps no trace of it — and every
// event naming a community carries the same place, so which of them creates
// the community in the trust model (its registration, or an item or a case
// that comes first in the cut) does not change where it is.
//
// There is no limit on concurrent calls any more: a question costs what an
// uncached /stats question costs, and holds no more memory than its answer.
func (e *Engine) AsOf(ctx context.Context, at time.Time, basis string, f Filter) (AsOf, error) {
	if basis != BasisRecorded && basis != BasisOccurred {
		return AsOf{}, fmt.Errorf("unknown basis %q", basis)
	}
	names := [...]string{NameCompletion, NameReferrals, NameFeedback, NameTrust}
	for _, name := range names {
		if e.byName[name] == nil {
			return AsOf{}, fmt.Errorf("as-of needs the %s read model, which this engine does not run", name)
		}
	}
	head, err := e.cfg.Store.Head(ctx)
	if err != nil {
		return AsOf{}, err
	}
	if err := e.catchUp(ctx, head); err != nil {
		return AsOf{}, err
	}
	c := cut{upto: head, occurred: true, at: nanos(at)}
	if basis == BasisRecorded {
		if c, err = e.recordedCut(ctx, at, head); err != nil {
			return AsOf{}, err
		}
	}
	f.Now = at
	out := AsOf{At: at.UTC(), Basis: basis, Position: c.upto}
	// The four models answer side by side, each under its own read lock:
	// they share nothing but the cut, which none of them changes, and each
	// writes its own part of the answer.
	var errs [len(names)]error
	var wg sync.WaitGroup
	for i, name := range names {
		p := e.byName[name]
		wg.Go(func() {
			p.mu.RLock()
			defer p.mu.RUnlock()
			// A model's position never goes back (a rebuild switches over
			// at or past it), so the catch-up above holds.
			switch m := p.model.(type) {
			case *Completion:
				out.Completion = m.asOf(f, &c)
			case *Referrals:
				out.Referrals = m.asOf(f, &c)
			case *Feedback:
				out.Feedback = m.asOf(f, &c)
			case *Trust:
				out.Trust = m.asOf(f, &c)
			default:
				errs[i] = fmt.Errorf("as-of: the %s read model is not the standard one (%T)", name, m)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return AsOf{}, err
	}
	return out, nil
}

// catchUp brings every model behind position `until` up to it, in one read
// of the log, under their write locks: what the router would do, so that an
// engine that is not running (the offline CLI) or still catching up answers
// as-of questions about the whole log. The router then finds those events
// already applied and skips them as redeliveries; an event a model cannot
// apply goes to the poison queue, as on the live path.
func (e *Engine) catchUp(ctx context.Context, until uint64) error {
	var behind []*proj
	var models []Model
	from := until
	for _, p := range e.projs {
		p.mu.Lock()
		if p.pos >= until {
			p.mu.Unlock()
			continue
		}
		behind = append(behind, p)
		models = append(models, &fromModel{Model: p.model, after: p.pos})
		from = min(from, p.pos)
	}
	if len(behind) == 0 {
		return nil
	}
	defer func() {
		for _, p := range behind {
			p.mu.Unlock()
		}
	}()
	prev, lastAt := from, time.Time{}
	sel := func(rec *eventstore.RecordedEvent) (bool, bool) {
		e.clock.observe(prev, rec.Position, rec.RecordedAt)
		prev, lastAt = rec.Position, rec.RecordedAt
		return true, false
	}
	onBad := func(rec *eventstore.RecordedEvent, model int, err error) {
		for i, p := range behind {
			if (model == -1 || model == i) && rec.Position > models[i].(*fromModel).after {
				e.poisonOne(p, rec, err)
			}
		}
	}
	start := time.Now()
	last, _, err := replay(ctx, e.cfg.Store, from, until, sel, models, onBad)
	// Whatever happened, every event up to last was applied to every model
	// behind it, and none after.
	for _, p := range behind {
		if last > p.pos {
			// Positions may have gaps (KurrentDB's), so this may count
			// more events than there were: the model is saved sooner.
			p.unsaved += int(min(last-p.pos, uint64(e.cfg.SnapshotEvents)))
			p.pos, p.lastAt = last, lastAt
			p.published.Store(last)
		}
	}
	e.advanced()
	if err != nil {
		return err
	}
	level := zap.DebugLevel
	if time.Since(start) > time.Second {
		level = zap.InfoLevel
	}
	e.log.Log(level, "read models caught up for an as-of question", zap.Int("models", len(behind)), zap.Uint64("from", from),
		zap.Uint64("to", last), zap.Duration("took", time.Since(start)))
	return nil
}

// fromModel feeds a model only the events after its own position.
type fromModel struct {
	Model
	after uint64
}

func (m *fromModel) Apply(ev *Event) error {
	if ev.Position <= m.after {
		return nil
	}
	return m.Model.Apply(ev)
}

package projections

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
	"go.uber.org/zap"
)

// replayPage is how many events a replay reads at once.
const replayPage = 4096

// selector decides, per stored event, whether a replay applies it and
// whether the replay stops there.
type selector func(rec *eventstore.RecordedEvent) (keep, stop bool)

// badEvent is told about an event a replay could not apply: model is the
// index of the model that refused it, or -1 when the event could not be
// decoded at all (no model can apply it).
type badEvent func(rec *eventstore.RecordedEvent, model int, err error)

func keepAll(*eventstore.RecordedEvent) (bool, bool) { return true, false }

type batch struct {
	recs   []eventstore.RecordedEvent
	events []Event
	errs   []error
	done   chan struct{}
}

// replay feeds models the events after `after` up to `until` (inclusive;
// until 0 means the head when called), chosen by sel. Reading, decoding and
// applying overlap: one goroutine reads pages, every core decodes, and one
// goroutine applies in log order, since a model's fold is sequential. It
// returns the position of the last event looked at and how many could not be
// decoded (skipped, as the live path poisons them).
func replay(ctx context.Context, store eventstore.Store, after, until uint64, sel selector, models []Model, onBad badEvent) (last uint64, bad int, err error) {
	if until == 0 {
		if until, err = store.Head(ctx); err != nil {
			return after, 0, err
		}
	}
	if until <= after {
		return after, 0, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *batch, 2*runtime.GOMAXPROCS(0))
	ordered := make(chan *batch, 2*runtime.GOMAXPROCS(0))
	readErr := make(chan error, 1)
	go func() {
		defer close(work)
		defer close(ordered)
		pos := after
		for pos < until {
			recs, err := store.ReadAll(ctx, pos, replayPage)
			if err != nil {
				readErr <- err
				return
			}
			if len(recs) == 0 {
				break
			}
			if n := len(recs); recs[n-1].Position > until {
				i := 0
				for i < n && recs[i].Position <= until {
					i++
				}
				recs = recs[:i]
			}
			if len(recs) == 0 {
				break
			}
			pos = recs[len(recs)-1].Position
			b := &batch{recs: recs, done: make(chan struct{})}
			select {
			case ordered <- b:
			case <-ctx.Done():
				return
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
		}
		readErr <- nil
	}()
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for b := range work {
				b.events = make([]Event, len(b.recs))
				b.errs = make([]error, len(b.recs))
				for i := range b.recs {
					b.events[i], b.errs[i] = Decode(&b.recs[i])
				}
				close(b.done)
			}
		}()
	}
	last = after
	for b := range ordered {
		select {
		case <-b.done:
		case <-ctx.Done():
			return last, bad, ctx.Err()
		}
		for i := range b.recs {
			keep, stop := sel(&b.recs[i])
			if stop {
				cancel()
				return last, bad, nil
			}
			last = b.recs[i].Position
			if !keep {
				continue
			}
			switch err := b.errs[i]; {
			case errors.Is(err, errSkip):
				continue
			case err != nil:
				bad++
				if onBad != nil {
					onBad(&b.recs[i], -1, err)
				}
				continue
			}
			for k, m := range models {
				if err := m.Apply(&b.events[i]); err != nil {
					bad++
					if onBad != nil {
						onBad(&b.recs[i], k, err)
					}
				}
			}
		}
	}
	if err := <-readErr; err != nil {
		return last, bad, err
	}
	return last, bad, nil
}

// RebuildReport says what a rebuild did.
type RebuildReport struct {
	Events   uint64        `json:"events"`
	Skipped  int           `json:"skipped"`
	Position uint64        `json:"position"`
	Took     time.Duration `json:"took_ns"`
	PerSec   float64       `json:"events_per_second"`
}

// rebuildCounters are a rebuild's progress, updated as it replays.
type rebuildCounters struct {
	running  atomic.Bool
	replayed atomic.Uint64
	head     atomic.Uint64
	started  atomic.Int64 // UnixNano
}

// RebuildProgress is how far the running rebuild has got (or the last one
// got, when Running is false).
type RebuildProgress struct {
	Running bool
	// Replayed is the position of the last event replayed so far.
	Replayed uint64
	// Head is the log's head when the rebuild started: where its replay
	// stops (the switch then catches up what came since).
	Head uint64
	// Started is when the rebuild began (zero: none ever ran).
	Started time.Time
}

// RebuildProgress reports the running rebuild's progress, or the last
// one's.
func (e *Engine) RebuildProgress() RebuildProgress {
	p := RebuildProgress{Running: e.rebuilding.running.Load(), Replayed: e.rebuilding.replayed.Load(), Head: e.rebuilding.head.Load()}
	if ns := e.rebuilding.started.Load(); ns != 0 {
		p.Started = time.Unix(0, ns)
	}
	return p
}

// Rebuild builds every model afresh from the first event while the current
// ones keep answering, then switches each over once it has caught up, and
// saves them. The poison queue starts over with it: events that still
// cannot be applied are listed again. One rebuild runs at a time.
func (e *Engine) Rebuild(ctx context.Context) (RebuildReport, error) {
	e.rebuildMu.Lock()
	defer e.rebuildMu.Unlock()
	start := time.Now()
	head, err := e.cfg.Store.Head(ctx)
	if err != nil {
		return RebuildReport{}, err
	}
	e.rebuilding.replayed.Store(0)
	e.rebuilding.head.Store(head)
	e.rebuilding.started.Store(start.UnixNano())
	e.rebuilding.running.Store(true)
	defer e.rebuilding.running.Store(false)
	fresh := make([]Model, len(e.projs))
	for i, p := range e.projs {
		fresh[i] = p.def.New()
	}
	var poisoned []Poisoned
	onBad := func(rec *eventstore.RecordedEvent, model int, err error) {
		for i, p := range e.projs {
			if model == -1 || model == i {
				poisoned = append(poisoned, Poisoned{Projection: p.def.Name, Position: rec.Position, EventID: rec.ID.String(),
					EventType: rec.Type, Stream: rec.Stream, Reason: err.Error(), PoisonedAt: e.cfg.Clock().UTC()})
			}
		}
	}
	// The rebuild reads the whole log: the as-of clock (cut.go) counts it
	// on the way, so that it is complete when the models are saved.
	var prev uint64
	observe := func(rec *eventstore.RecordedEvent) (bool, bool) {
		e.clock.observe(prev, rec.Position, rec.RecordedAt)
		prev = rec.Position
		e.rebuilding.replayed.Store(rec.Position)
		return true, false
	}
	last, bad, err := replay(ctx, e.cfg.Store, 0, head, observe, fresh, onBad)
	if err != nil {
		return RebuildReport{}, err
	}
	e.snapMu.Lock()
	for i, p := range e.projs {
		p.mu.Lock()
		// The live model may be ahead of where the rebuild stopped (or
		// behind, if it is still catching up): bring the new one to the
		// same position before switching.
		pos, lastAt := last, time.Time{}
		if p.pos > last {
			if _, _, err := replay(ctx, e.cfg.Store, last, p.pos, keepAll, fresh[i:i+1], nil); err != nil {
				p.mu.Unlock()
				e.snapMu.Unlock()
				return RebuildReport{}, err
			}
			pos, lastAt = p.pos, p.lastAt
		}
		p.model, p.pos, p.savedPos = fresh[i], pos, 0
		p.published.Store(pos)
		if !lastAt.IsZero() {
			p.lastAt = lastAt
		}
		p.mu.Unlock()
	}
	e.snapMu.Unlock()
	// The new models may answer differently at the same position.
	e.cache.clear()
	e.advanced()
	if err := e.replacePoison(poisoned); err != nil {
		return RebuildReport{}, err
	}
	if err := e.snapshot(); err != nil {
		return RebuildReport{}, err
	}
	took := time.Since(start)
	r := RebuildReport{Events: last, Skipped: bad, Position: e.Position(), Took: took}
	if took > 0 {
		r.PerSec = float64(last) / took.Seconds()
	}
	e.log.Info("read models rebuilt", zap.Uint64("events", last), zap.Int("skipped", bad), zap.Duration("took", took))
	return r, nil
}

package projections

import (
	"context"
	"errors"
	"runtime"
	"sync"
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
	// Set by the applying goroutine once the batch is decoded: how many of
	// recs the replay looked at (all, unless the selector stopped in it),
	// and the events the models are to apply.
	looked int
	apply  []int32
	// broken are the events sel kept that could not be decoded.
	broken []int32
	// applied counts down as the models' goroutines finish the batch; each
	// writes its refusals into its own slot of refused.
	applied sync.WaitGroup
	refused [][]refusal
}

// refusal is an event of a batch (its index) that a model could not apply.
type refusal struct {
	i   int32
	err error
}

// replayQueue is how many batches each model's goroutine may have waiting.
const replayQueue = 4

// replay feeds models the events after `after` up to `until` (inclusive;
// until 0 means the head when called), chosen by sel. Reading, decoding and
// applying overlap: one goroutine reads pages, every core decodes, and the
// models apply side by side, each in its own goroutine and in log order
// (a model's fold is sequential, but the models share nothing but the
// decoded events, which they only read). It returns the position of the
// last event looked at and how many could not be decoded (skipped, as the
// live path poisons them) or applied. sel and onBad are called from the
// calling goroutine, in log order; every model has stopped applying when
// replay returns.
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
	// Batches come back once reported, and the next pages are read and
	// decoded into them (see pageAppender).
	free := make(chan *batch, 4*runtime.GOMAXPROCS(0)+replayQueue+1)
	pager, _ := store.(pageAppender)
	go func() {
		defer close(work)
		defer close(ordered)
		pos := after
		for pos < until {
			b := reuse(free)
			var recs []eventstore.RecordedEvent
			var err error
			if pager != nil {
				recs, err = pager.AppendAll(ctx, b.recs[:0], pos, replayPage)
			} else {
				recs, err = store.ReadAll(ctx, pos, replayPage)
			}
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
			b.recs = recs
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
				b.events = resize(b.events, len(b.recs))
				b.errs = resize(b.errs, len(b.recs))
				for i := range b.recs {
					b.events[i], b.errs[i] = Decode(&b.recs[i])
				}
				close(b.done)
			}
		}()
	}
	// One model applies in this goroutine; several apply each in its own.
	var appliers []chan *batch
	var running sync.WaitGroup
	if len(models) > 1 {
		appliers = make([]chan *batch, len(models))
		for k, m := range models {
			in := make(chan *batch, replayQueue)
			appliers[k] = in
			running.Go(func() {
				for b := range in {
					applyBatch(b, k, m)
					b.applied.Done()
				}
			})
		}
	}
	// Whatever way replay returns, no model is applying any more.
	defer func() {
		for _, in := range appliers {
			close(in)
		}
		running.Wait()
	}()
	var pending []*batch // handed to the models, refusals not yet reported
	report := func(b *batch) {
		b.applied.Wait()
		bad += b.report(models, onBad)
		recycle(free, b)
	}
	last = after
	stopped := false
	for b := range ordered {
		select {
		case <-b.done:
		case <-ctx.Done():
			return last, bad, ctx.Err()
		}
		for i := range b.recs {
			keep, st := sel(&b.recs[i])
			if st {
				stopped = true
				break
			}
			b.looked = i + 1
			last = b.recs[i].Position
			switch err := b.errs[i]; {
			case !keep || errors.Is(err, errSkip):
			case err != nil:
				b.broken = append(b.broken, int32(i))
			default:
				b.apply = append(b.apply, int32(i))
			}
		}
		b.refused = resize(b.refused, len(models))
		if appliers == nil {
			for k, m := range models {
				applyBatch(b, k, m)
			}
			bad += b.report(models, onBad)
			recycle(free, b)
		} else {
			b.applied.Add(len(models))
			for _, in := range appliers {
				in <- b
			}
			pending = append(pending, b)
			// Report in order, and keep the batches in flight bounded:
			// the models are at most replayQueue batches apart.
			for len(pending) > replayQueue {
				report(pending[0])
				pending = pending[1:]
			}
		}
		if stopped {
			cancel()
			break
		}
	}
	for _, b := range pending {
		report(b)
	}
	if stopped {
		// The reader's error, if any, is about events past the stop.
		return last, bad, nil
	}
	select {
	case err := <-readErr:
		return last, bad, err
	case <-ctx.Done():
		return last, bad, ctx.Err()
	}
}

// pageAppender is a store that reads a page of the log into room its
// caller hands it (boltstore): a replay reads each page into a batch done
// with, instead of a new page of records for every 4,096 events.
type pageAppender interface {
	AppendAll(ctx context.Context, dst []eventstore.RecordedEvent, after uint64, limit int) ([]eventstore.RecordedEvent, error)
}

// reuse returns a batch done with, emptied, or a new one. A rebuild of the
// national log allocated a quarter of its bytes in pages of records and
// decoded events, each used once, every byte of it bringing the
// collector's next cycle over the models' growing heap nearer.
func reuse(free chan *batch) *batch {
	select {
	case b := <-free:
		b.done = make(chan struct{})
		b.looked, b.apply, b.broken = 0, b.apply[:0], b.broken[:0]
		for k := range b.refused {
			b.refused[k] = b.refused[k][:0]
		}
		return b
	default:
		return &batch{done: make(chan struct{})}
	}
}

// recycle hands b back for reuse once every model has applied it and its
// refusals are reported: nothing reads it any more (models are given an
// event to read while they apply it, and keep none).
func recycle(free chan *batch, b *batch) {
	select {
	case free <- b:
	default:
	}
}

// resize is s with length n, reusing its room when it has enough.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// applyBatch applies the chosen events of b to the model at index k.
func applyBatch(b *batch, k int, m Model) {
	for _, i := range b.apply {
		if err := m.Apply(&b.events[i]); err != nil {
			b.refused[k] = append(b.refused[k], refusal{i, err})
		}
	}
}

// report tells onBad, in log order and for each event in model order, of
// the events of b that could not be decoded (model -1) or applied, once
// every model is done with b; it returns how many there were.
func (b *batch) report(models []Model, onBad badEvent) int {
	bad := len(b.broken)
	for _, r := range b.refused {
		bad += len(r)
	}
	if bad == 0 || onBad == nil {
		return bad
	}
	next := make([]int, len(models)) // each model's next refusal
	broken := b.broken
	for i := range int32(b.looked) {
		if len(broken) > 0 && broken[0] == i {
			broken = broken[1:]
			onBad(&b.recs[i], -1, b.errs[i])
			continue
		}
		for k, r := range b.refused {
			if next[k] < len(r) && r[next[k]].i == i {
				onBad(&b.recs[i], k, r[next[k]].err)
				next[k]++
			}
		}
	}
	return bad
}

// RebuildReport says what a rebuild did.
type RebuildReport struct {
	Events   uint64        `json:"events"`
	Skipped  int           `json:"skipped"`
	Position uint64        `json:"position"`
	Took     time.Duration `json:"took_ns"`
	PerSec   float64       `json:"events_per_second"`
	// Saved is the part of Took spent saving the rebuilt models, which at
	// ten times CLEA takes seconds of its own, apart from the replay.
	Saved time.Duration `json:"saved_ns"`
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
		p.unsaved = e.cfg.SnapshotEvents // due: nothing of it is saved
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
	saving := time.Now()
	if err := e.snapshot(); err != nil {
		return RebuildReport{}, err
	}
	took := time.Since(start)
	r := RebuildReport{Events: last, Skipped: bad, Position: e.Position(), Took: took, Saved: time.Since(saving)}
	if took > 0 {
		r.PerSec = float64(last) / took.Seconds()
	}
	e.log.Info("read models rebuilt", zap.Uint64("events", last), zap.Int("skipped", bad), zap.Duration("took", took))
	return r, nil
}

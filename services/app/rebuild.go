package app

import (
	"context"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"go.uber.org/zap"
)

// RebuildEngine is the read side's rebuild, as the projections engine runs
// it.
type RebuildEngine interface {
	Rebuild(ctx context.Context) (projections.RebuildReport, error)
	RebuildProgress() projections.RebuildProgress
}

// Rebuild states.
const (
	RebuildIdle    = "idle"
	RebuildRunning = "running"
	RebuildDone    = "done"
	RebuildFailed  = "failed"
)

// RebuildStatus is the read-model rebuild as an admin follows it: the JSON
// API and the console show this one answer.
type RebuildStatus struct {
	State string `json:"state"`
	// Replayed is the position of the last event replayed; Head the log's
	// head when the rebuild started, where its replay stops.
	Replayed uint64 `json:"replayed"`
	Head     uint64 `json:"head"`
	// StartedAt is when the running or last rebuild began.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// ElapsedSeconds, EventsPerSecond and RemainingSeconds (at the rate so
	// far; absent until there is a rate) describe the running one, or how
	// the last one went.
	ElapsedSeconds   float64  `json:"elapsed_seconds"`
	EventsPerSecond  float64  `json:"events_per_second"`
	RemainingSeconds *float64 `json:"remaining_seconds,omitempty"`
	// Report is what the last rebuild did, once it is done.
	Report *projections.RebuildReport `json:"report,omitempty"`
	// Error is why the last rebuild failed.
	Error string `json:"error,omitempty"`
}

// Rebuilds runs read-model rebuilds in the background, one at a time, for
// admins: a rebuild of a national log takes minutes, longer than a request
// should wait.
type Rebuilds struct {
	engine RebuildEngine
	clock  func() time.Time
	log    *zap.Logger
	// ctx ends with Close: a rebuild outlives the request that started it,
	// not the server.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	running  bool
	finished time.Time
	report   *projections.RebuildReport
	err      error
	done     chan struct{} // closed when the running (or last) one ends
}

// NewRebuilds returns the rebuild runner over engine.
func NewRebuilds(engine RebuildEngine, clock func() time.Time, log *zap.Logger) *Rebuilds {
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Rebuilds{engine: engine, clock: clock, log: log, ctx: ctx, cancel: cancel}
}

// Close stops a running rebuild and waits for it to end, before the read
// models it writes to are closed. The read models it would have replaced
// keep serving until then.
func (b *Rebuilds) Close() {
	b.cancel()
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	if done != nil {
		<-done
	}
}

func requireRebuilder(actor Actor) error {
	return requireRole(actor, "rebuild the read models", domain.RoleAdmin)
}

// Start starts a rebuild in the background unless one is running, and
// answers the status of the one that runs now (started tells which).
func (b *Rebuilds) Start(actor Actor) (st RebuildStatus, started bool, err error) {
	if err := requireRebuilder(actor); err != nil {
		return RebuildStatus{}, false, err
	}
	b.mu.Lock()
	if !b.running && b.ctx.Err() == nil {
		b.running, b.report, b.err, b.done, started = true, nil, nil, make(chan struct{}), true
		// Not the request's context: the rebuild outlives the request that
		// started it.
		go b.run(b.done)
	}
	b.mu.Unlock()
	st, err = b.Status(actor)
	return st, started, err
}

func (b *Rebuilds) run(done chan struct{}) {
	rep, err := b.engine.Rebuild(b.ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.running, b.finished, b.err = false, b.clock(), err
	switch {
	case err == nil:
		b.report = &rep
	case b.ctx.Err() != nil:
		b.log.Info("read-model rebuild stopped: the server is shutting down")
	default:
		b.log.Error("read-model rebuild failed", zap.Error(err))
	}
	close(done)
}

// Wait waits for the running rebuild (if any) to end, or ctx, and answers
// the status then.
func (b *Rebuilds) Wait(ctx context.Context, actor Actor) (RebuildStatus, error) {
	if err := requireRebuilder(actor); err != nil {
		return RebuildStatus{}, err
	}
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return RebuildStatus{}, ctx.Err()
		}
	}
	return b.Status(actor)
}

// Status is the running rebuild's progress, or how the last one ended.
func (b *Rebuilds) Status(actor Actor) (RebuildStatus, error) {
	if err := requireRebuilder(actor); err != nil {
		return RebuildStatus{}, err
	}
	b.mu.Lock()
	running, finished, report, rerr, ever := b.running, b.finished, b.report, b.err, b.done != nil
	b.mu.Unlock()
	p := b.engine.RebuildProgress()
	st := RebuildStatus{State: RebuildIdle, Replayed: p.Replayed, Head: p.Head, Report: report}
	switch {
	case running:
		st.State = RebuildRunning
	case rerr != nil:
		st.State, st.Error = RebuildFailed, rerr.Error()
	case ever:
		st.State = RebuildDone
	}
	if !ever || p.Started.IsZero() {
		return st, nil
	}
	started := p.Started.UTC()
	st.StartedAt = &started
	end := b.clock()
	if !running && !finished.IsZero() {
		end = finished
	}
	// Never below zero, should the engine's clock and this one disagree.
	elapsed := max(end.Sub(p.Started).Seconds(), 0)
	st.ElapsedSeconds = elapsed
	if elapsed > 0 && p.Replayed > 0 {
		st.EventsPerSecond = float64(p.Replayed) / elapsed
		if running && p.Head >= p.Replayed {
			left := float64(p.Head-p.Replayed) / st.EventsPerSecond
			st.RemainingSeconds = &left
		}
	}
	return st, nil
}

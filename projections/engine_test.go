package projections_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/google/uuid"
)

var t0 = time.Date(2015, 2, 2, 9, 0, 0, 0, time.UTC) // a Monday

type world struct {
	t     *testing.T
	dir   string
	store eventstore.Store
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	s, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &world{t: t, dir: dir, store: s}
}

// append writes domain events to a stream, as the command side would.
func (w *world) append(stream string, at time.Time, events ...domain.Event) uint64 {
	w.t.Helper()
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		typ, b := domain.Marshal(e)
		data[i] = eventstore.EventData{ID: uuid.New(), Type: typ, Data: b, Meta: eventstore.Metadata{OccurredAt: at}}
	}
	res, err := w.store.Append(context.Background(), stream, eventstore.Any, data...)
	if err != nil {
		w.t.Fatal(err)
	}
	return res.LastPosition
}

var kenema = domain.Place{District: "Kenema", Chiefdom: "Nongowa", Section: "Hangha"}

// actionPoint raises an action point of community C1 and moves it along.
func (w *world) actionPoint(id string, at time.Time, steps ...domain.Event) uint64 {
	w.t.Helper()
	pos := w.append(domain.ActionPointStream(id), at, &domain.ActionPointRaised{ID: id, CommunityID: "C1", Place: kenema,
		Title: "t", Category: "hygiene", Kind: "one_off", DueDate: "2015-02-20"})
	for i, s := range steps {
		pos = w.append(domain.ActionPointStream(id), at.Add(time.Duration(i+1)*time.Hour), s)
	}
	return pos
}

func (w *world) engine(cfg projections.Config) *projections.Engine {
	w.t.Helper()
	cfg.Store = w.store
	if cfg.Path == "" {
		cfg.Path = filepath.Join(w.dir, "projections.db")
	}
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return t0.AddDate(0, 0, 30) }
	}
	e, err := projections.Open(context.Background(), cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

// run starts e and returns its stop function.
func run(t *testing.T, e *projections.Engine) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, e *projections.Engine, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.WaitFor(ctx, pos); err != nil {
		t.Fatal(err)
	}
}

func TestCatchUpThenLive(t *testing.T) {
	w := newWorld(t)
	w.actionPoint("AP1", t0, &domain.ActionPointStarted{})
	w.actionPoint("AP2", t0, &domain.ActionPointStarted{}, &domain.ActionPointAchieved{})
	e := w.engine(projections.Config{})
	if err := e.Ready(); err == nil {
		t.Fatal("ready before catching up")
	}
	run(t, e)
	pos := w.actionPoint("AP3", t0)
	waitFor(t, e, pos)
	if err := e.Ready(); err != nil {
		t.Fatalf("not ready after catching up: %v", err)
	}
	st, at := e.CompletionStats(projections.Filter{}, false)
	if at < pos || st.Total != 3 || st.Open != 1 || st.InProgress != 1 || st.Achieved != 1 {
		t.Fatalf("at %d: %+v", at, st.Counts)
	}
}

func TestRestartResumesFromCheckpointWithoutDoubleCounting(t *testing.T) {
	w := newWorld(t)
	for i := range 10 {
		w.actionPoint(fmt.Sprintf("AP%d", i), t0, &domain.ActionPointStarted{})
	}
	e := w.engine(projections.Config{SnapshotEvery: time.Hour})
	stop := run(t, e)
	head, _ := w.store.Head(context.Background())
	waitFor(t, e, head)
	stop() // saves the models with their checkpoint

	for i := 10; i < 15; i++ {
		w.actionPoint(fmt.Sprintf("AP%d", i), t0)
	}
	applied := &countingModel{}
	e2 := w.engine(projections.Config{SnapshotEvery: time.Hour, Models: []projections.Definition{
		{Name: projections.NameCompletion, New: func() projections.Model { return projections.NewCompletion() }},
		{Name: "counter", New: func() projections.Model { return applied }},
	}})
	run(t, e2)
	head, _ = w.store.Head(context.Background())
	waitFor(t, e2, head)
	st, _ := e2.CompletionStats(projections.Filter{}, false)
	if st.Total != 15 || st.InProgress != 10 || st.Open != 5 {
		t.Fatalf("after restart: %+v", st.Counts)
	}
}

// An offline rebuild opens the engine Fresh: nothing of the saved models or
// clock is restored (they are about to be replaced), and the rebuild saves
// complete ones that the next normal open restores.
func TestFreshEngineRestoresNothingAndItsRebuildIsSaved(t *testing.T) {
	w := newWorld(t)
	for i := range 10 {
		w.actionPoint(fmt.Sprintf("AP%d", i), t0, &domain.ActionPointStarted{})
	}
	head, _ := w.store.Head(context.Background())
	e := w.engine(projections.Config{})
	stop := run(t, e)
	waitFor(t, e, head)
	stop() // saves the models and the clock

	fresh := w.engine(projections.Config{Fresh: true})
	st, at := fresh.CompletionStats(projections.Filter{}, false)
	if n, covered := fresh.ClockSamples(); at != 0 || st.Total != 0 || n != 0 || covered != 0 {
		t.Fatalf("fresh engine restored something: at %d, %+v, clock %d samples to %d", at, st.Counts, n, covered)
	}
	if _, err := fresh.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Close(); err != nil {
		t.Fatal(err)
	}

	again := w.engine(projections.Config{})
	defer again.Close()
	st, at = again.CompletionStats(projections.Filter{}, false)
	if _, covered := again.ClockSamples(); at != head || covered != head || st.Total != 10 || st.InProgress != 10 {
		t.Fatalf("after the fresh rebuild: at %d of %d, clock to %d, %+v", at, head, covered, st.Counts)
	}
}

// countingModel counts what it is given.
type countingModel struct{ n atomic.Int64 }

func (m *countingModel) Apply(*projections.Event) error    { m.n.Add(1); return nil }
func (m *countingModel) MarshalBinary() ([]byte, error)    { return []byte{1}, nil }
func (m *countingModel) UnmarshalBinary(data []byte) error { return nil }

// failingModel refuses every event of one type.
type failingModel struct {
	countingModel
	refuse string
}

func (m *failingModel) Apply(ev *projections.Event) error {
	if ev.Data.EventType() == m.refuse {
		return errors.New("refused on purpose")
	}
	return m.countingModel.Apply(ev)
}

func TestPoisonedEventIsSkippedAndListed(t *testing.T) {
	w := newWorld(t)
	failing := &failingModel{refuse: "ActionPointAchieved.v1"}
	e := w.engine(projections.Config{Models: []projections.Definition{
		{Name: projections.NameCompletion, New: func() projections.Model { return projections.NewCompletion() }},
		{Name: "fragile", New: func() projections.Model { return failing }},
	}})
	run(t, e)
	w.actionPoint("AP1", t0, &domain.ActionPointStarted{}, &domain.ActionPointAchieved{})
	pos := w.actionPoint("AP2", t0)
	waitFor(t, e, pos)
	if got := failing.n.Load(); got != 3 {
		t.Fatalf("the fragile model applied %d events, want 3 (all but the poisoned one)", got)
	}
	items, err := e.Poisoned()
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Projection != "fragile" || items[0].EventType != "ActionPointAchieved.v1" || items[0].Position != 3 ||
		!strings.HasSuffix(items[0].Stream, "AP1") || items[0].EventID == "" {
		t.Fatalf("poison queue: %+v", items)
	}
	st, _ := e.CompletionStats(projections.Filter{}, false)
	if st.Achieved != 1 {
		t.Fatalf("the healthy model missed the event: %+v", st.Counts)
	}
}

func TestRebuildWhileServing(t *testing.T) {
	w := newWorld(t)
	for i := range 50 {
		w.actionPoint(fmt.Sprintf("AP%d", i), t0, &domain.ActionPointStarted{})
	}
	e := w.engine(projections.Config{})
	run(t, e)
	head, _ := w.store.Head(context.Background())
	waitFor(t, e, head)
	before, _ := e.CompletionStats(projections.Filter{}, false)
	done := make(chan error, 1)
	go func() {
		_, err := e.Rebuild(context.Background())
		done <- err
	}()
	var last uint64
	for i := 50; i < 80; i++ {
		last = w.actionPoint(fmt.Sprintf("AP%d", i), t0)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, last)
	after, _ := e.CompletionStats(projections.Filter{}, false)
	if before.Total != 50 || after.Total != 80 || after.InProgress != 50 || after.Open != 30 {
		t.Fatalf("before %+v after %+v", before.Counts, after.Counts)
	}
}

func TestDuplicateDeliveryChangesNothing(t *testing.T) {
	w := newWorld(t)
	w.actionPoint("AP1", t0, &domain.ActionPointStarted{})
	e := w.engine(projections.Config{})
	t.Cleanup(func() { e.Close() })
	recs, err := w.store.ReadAll(context.Background(), 0, 10)
	if err != nil || len(recs) != 2 {
		t.Fatalf("read: %v, %d events", err, len(recs))
	}
	// Every event delivered twice, and the first again at the end.
	for _, rec := range append(append(recs, recs...), recs[0]) {
		if err := e.Deliver(projections.NameCompletion, &rec); err != nil {
			t.Fatal(err)
		}
	}
	st, pos := e.CompletionStats(projections.Filter{}, false)
	if pos != 2 || st.Total != 1 || st.InProgress != 1 {
		t.Fatalf("at %d: %+v", pos, st.Counts)
	}
}

// positionsModel records the position of every event it applies, and
// refuses the events of one type: always (fails < 0) or that many times
// each, with an error or, if panics, a panic.
type positionsModel struct {
	countingModel
	mu     sync.Mutex
	seen   []uint64
	refuse string
	fails  int
	panics bool
	tries  map[uint64]int
}

func (m *positionsModel) Apply(ev *projections.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev.Data.EventType() == m.refuse {
		if m.tries == nil {
			m.tries = map[uint64]int{}
		}
		m.tries[ev.Position]++
		if m.fails < 0 || m.tries[ev.Position] <= m.fails {
			if m.panics {
				panic("refused on purpose")
			}
			return errors.New("refused on purpose")
		}
	}
	m.seen = append(m.seen, ev.Position)
	return nil
}

func (m *positionsModel) applied() []uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.seen)
}

// Events committed together reach a read model in one message. One that the
// model cannot apply must cost it that event alone: the events after it in
// the same message are applied, once each and in order, the failing one is
// retried as a single event would be, and only it is poisoned (or, when a
// retry succeeds, none is); a model that panics on it fares the same.
func TestAFailingEventInABatchIsRetriedAndPoisonedAlone(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fails        int // per try of the refused event; -1: always
		panics       bool
		wantPoisoned bool
	}{
		{name: "always refused: poisoned, the rest applied", fails: -1, wantPoisoned: true},
		{name: "refused twice: applied on a retry", fails: 2},
		{name: "always panics: poisoned, the rest applied", fails: -1, panics: true, wantPoisoned: true},
		{name: "panics once: applied on a retry", fails: 1, panics: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			m := &positionsModel{refuse: "ActionPointStarted.v1", fails: tc.fails, panics: tc.panics}
			e := w.engine(projections.Config{Models: []projections.Definition{
				{Name: projections.NameCompletion, New: func() projections.Model { return projections.NewCompletion() }},
				{Name: "fragile", New: func() projections.Model { return m }},
			}})
			run(t, e)
			first := w.actionPoint("AP0", t0)
			waitFor(t, e, first)
			// One append: the model's subscription reads the six together.
			last := w.append(domain.ActionPointStream("AP1"), t0,
				&domain.ActionPointRaised{ID: "AP1", CommunityID: "C1", Place: kenema, Title: "t", Category: "hygiene", Kind: "one_off", DueDate: "2015-02-20"},
				&domain.ActionPointProgressNoted{Note: "a"},
				&domain.ActionPointStarted{},
				&domain.ActionPointProgressNoted{Note: "b"},
				&domain.ActionPointAchieved{},
				&domain.ActionPointReopened{Reason: "c"})
			waitFor(t, e, last)
			started := first + 3
			var want []uint64
			for pos := uint64(1); pos <= last; pos++ {
				if pos != started || !tc.wantPoisoned {
					want = append(want, pos)
				}
			}
			if got := m.applied(); !slices.Equal(got, want) {
				t.Errorf("the model applied positions %v, want %v", got, want)
			}
			items, err := e.Poisoned()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantPoisoned && (len(items) != 1 || items[0].Position != started || items[0].Projection != "fragile" ||
				items[0].EventType != "ActionPointStarted.v1"):
				t.Errorf("poison queue %+v, want the start at %d alone", items, started)
			case !tc.wantPoisoned && len(items) != 0:
				t.Errorf("poison queue %+v, want it empty", items)
			}
			if tries := m.tries[started]; tc.wantPoisoned && tries != 5 || !tc.wantPoisoned && tries != tc.fails+1 {
				t.Errorf("the start was tried %d times", tries)
			}
			st, _ := e.CompletionStats(projections.Filter{}, false)
			if st.Total != 2 || st.InProgress != 1 {
				t.Errorf("the healthy model: %+v", st.Counts)
			}
		})
	}
}

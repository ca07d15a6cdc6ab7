package projections_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/eventstore"
)

// TestRebuildListsEveryRefusalAcrossPages rebuilds a log of several replay
// pages with models applying side by side, two of which refuse the same
// events: each refusal is listed once per refusing model, the rebuild counts
// them, and the other models apply every event.
func TestRebuildListsEveryRefusalAcrossPages(t *testing.T) {
	const chunks, perChunk = 6, 4000 // 24,001 events: six pages of 4096
	w := newWorld(t)
	w.append(domain.ActionPointStream("AP0"), t0, &domain.ActionPointRaised{ID: "AP0", CommunityID: "C1", Place: kenema,
		Title: "t", Category: "hygiene", Kind: "one_off", DueDate: "2015-02-20"})
	for range chunks {
		events := make([]domain.Event, perChunk)
		for i := range events {
			events[i] = &domain.ActionPointStarted{}
		}
		w.append(domain.ActionPointStream("AP0"), t0, events...)
	}
	var fragile [2]*failingModel
	var counting *countingModel
	defs := []projections.Definition{{Name: projections.NameCompletion, New: func() projections.Model { return projections.NewCompletion() }}}
	for i, name := range []string{"fragile-a", "fragile-b"} {
		defs = append(defs, projections.Definition{Name: name, New: func() projections.Model {
			fragile[i] = &failingModel{refuse: "ActionPointStarted.v1"}
			return fragile[i]
		}})
	}
	defs = append(defs, projections.Definition{Name: "counting", New: func() projections.Model {
		counting = &countingModel{}
		return counting
	}})
	e := w.engine(projections.Config{Models: defs})
	defer e.Close()

	rep, err := e.Rebuild(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const events, refused = 1 + chunks*perChunk, chunks * perChunk
	if rep.Events != events || rep.Skipped != 2*refused {
		t.Errorf("rebuild report %+v, want %d events and %d skipped", rep, events, 2*refused)
	}
	if got := counting.n.Load(); got != events {
		t.Errorf("a healthy model applied %d events, want %d", got, events)
	}
	for i, m := range fragile {
		if got := m.n.Load(); got != 1 {
			t.Errorf("fragile model %d applied %d events, want 1 (the raise)", i, got)
		}
	}
	listed := poisonedByModel(t, e)
	for _, name := range []string{"fragile-a", "fragile-b"} {
		got := listed[name]
		if len(got) != refused {
			t.Errorf("%s: %d positions listed, want %d", name, len(got), refused)
		}
		for pos := uint64(2); pos <= events; pos++ {
			if got[pos] != 1 {
				t.Errorf("%s: position %d listed %d times, want once", name, pos, got[pos])
				break
			}
		}
	}
	if len(listed) != 2 {
		t.Errorf("poison queue names %d models, want the 2 fragile ones", len(listed))
	}
	st, _ := e.CompletionStats(projections.Filter{}, false)
	if st.Total != 1 || st.InProgress != 1 {
		t.Errorf("completion after the rebuild: %+v, want the one action point in progress", st.Counts)
	}
}

// positionModel refuses the events at positions that are multiples of
// every, and records the position of each event it applied.
type positionModel struct {
	countingModel
	every   uint64
	applied []uint64
}

func (m *positionModel) Apply(ev *projections.Event) error {
	if ev.Position%m.every == 0 {
		return errors.New("refused on purpose")
	}
	if _, ok := ev.Data.(*domain.ActionPointStarted); !ok && ev.Position > 1 {
		return fmt.Errorf("position %d decoded as %T", ev.Position, ev.Data)
	}
	m.applied = append(m.applied, ev.Position)
	return m.countingModel.Apply(ev)
}

// TestRebuildOfManyPagesListsEachPagesOwnRefusals rebuilds a log of far
// more replay pages than a rebuild has in flight, so that pages are read
// and decoded into room an earlier page used: every event is applied once,
// in order, as itself, and each refusal and undecodable event is listed
// once, at its own position, whatever page came before.
func TestRebuildOfManyPagesListsEachPagesOwnRefusals(t *testing.T) {
	const chunks, perChunk = 40, 4000 // 160,001 events and a few undecodable ones: 40 pages of 4096
	w := newWorld(t)
	w.append(domain.ActionPointStream("AP0"), t0, &domain.ActionPointRaised{ID: "AP0", CommunityID: "C1", Place: kenema,
		Title: "t", Category: "hygiene", Kind: "one_off", DueDate: "2015-02-20"})
	undecodable := map[uint64]bool{}
	for c := range chunks {
		events := make([]domain.Event, perChunk)
		for i := range events {
			events[i] = &domain.ActionPointStarted{}
		}
		w.append(domain.ActionPointStream("AP0"), t0, events...)
		if c%7 == 3 {
			res, err := w.store.Append(context.Background(), "mystery-1", eventstore.Any,
				eventstore.EventData{ID: uuid.New(), Type: "Mystery.v1", Data: []byte{1}, Meta: eventstore.Metadata{OccurredAt: t0}})
			if err != nil {
				t.Fatal(err)
			}
			undecodable[res.LastPosition] = true
		}
	}
	const every = 997
	var picky *positionModel
	defs := []projections.Definition{
		{Name: projections.NameCompletion, New: func() projections.Model { return projections.NewCompletion() }},
		{Name: "picky", New: func() projections.Model {
			picky = &positionModel{every: every}
			return picky
		}},
	}
	e := w.engine(projections.Config{Models: defs})
	defer e.Close()

	rep, err := e.Rebuild(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	head := uint64(1 + chunks*perChunk + len(undecodable))
	var wantApplied []uint64
	wantPicky := map[uint64]bool{}
	for pos := uint64(1); pos <= head; pos++ {
		switch {
		case undecodable[pos]:
		case pos%every == 0:
			wantPicky[pos] = true
		default:
			wantApplied = append(wantApplied, pos)
		}
	}
	if rep.Events != head || rep.Skipped != len(undecodable)+len(wantPicky) {
		t.Errorf("rebuild report %+v, want %d events and %d skipped", rep, head, len(undecodable)+len(wantPicky))
	}
	if !slices.Equal(picky.applied, wantApplied) {
		t.Errorf("the model applied %d events, want %d, each once and in order", len(picky.applied), len(wantApplied))
	}
	listed := poisonedByModel(t, e)
	want := map[string]map[uint64]int{projections.NameCompletion: {}, "picky": {}}
	for pos := range undecodable {
		want[projections.NameCompletion][pos], want["picky"][pos] = 1, 1
	}
	for pos := range wantPicky {
		want["picky"][pos] = 1
	}
	if !reflect.DeepEqual(listed, want) {
		for name := range want {
			for pos, n := range listed[name] {
				if want[name][pos] != n {
					t.Errorf("%s: position %d listed %d times, want %d", name, pos, n, want[name][pos])
				}
			}
			for pos := range want[name] {
				if listed[name][pos] == 0 {
					t.Errorf("%s: position %d not listed", name, pos)
				}
			}
		}
	}
}

// poisonedByModel counts the poison queue's entries by model and position.
func poisonedByModel(t *testing.T, e *projections.Engine) map[string]map[uint64]int {
	t.Helper()
	items, err := e.Poisoned()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]map[uint64]int{}
	for _, it := range items {
		if listed[it.Projection] == nil {
			listed[it.Projection] = map[uint64]int{}
		}
		listed[it.Projection][it.Position]++
	}
	return listed
}

package projections_test

import (
	"context"
	"testing"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
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

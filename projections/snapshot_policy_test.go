package projections_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// savedPositions reads each model's saved position from the engine's
// metrics (actionledger_projection_saved_position), as an operator does.
func savedPositions(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "actionledger_projection_saved_position" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "projection" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no saved_position series")
	}
	return out
}

// allSavedAt reports whether every model's saved position is pos.
func allSavedAt(t *testing.T, reg *prometheus.Registry, pos uint64) func() bool {
	return func() bool {
		for _, saved := range savedPositions(t, reg) {
			if saved != float64(pos) {
				return false
			}
		}
		return true
	}
}

// TestSnapshotPolicy: a changed model is saved once it has applied
// SnapshotEvents events, not before, or once SnapshotEvery has passed with
// fewer; a save encodes the whole model, so a few new events must not
// cost one every check.
func TestSnapshotPolicy(t *testing.T) {
	eventually := func(t *testing.T, what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Run("by events", func(t *testing.T) {
		w := newWorld(t)
		reg := prometheus.NewRegistry()
		e := w.engine(projections.Config{Registerer: reg, SnapshotEvery: time.Hour, SnapshotEvents: 5, SnapshotCheck: 5 * time.Millisecond})
		run(t, e)
		pos := w.actionPoint("AP1", t0, &domain.ActionPointStarted{}) // 2 events
		waitFor(t, e, pos)
		time.Sleep(100 * time.Millisecond) // twenty checks
		for m, saved := range savedPositions(t, reg) {
			if saved != 0 {
				t.Errorf("%s saved at %v after 2 events, want unsaved until 5", m, saved)
			}
		}
		pos = w.actionPoint("AP2", t0, &domain.ActionPointStarted{}, &domain.ActionPointAchieved{}) // 5 in all
		waitFor(t, e, pos)
		eventually(t, "every model saved at the head after 5 events", allSavedAt(t, reg, pos))
	})
	t.Run("by time", func(t *testing.T) {
		w := newWorld(t)
		reg := prometheus.NewRegistry()
		e := w.engine(projections.Config{Registerer: reg, SnapshotEvery: 300 * time.Millisecond, SnapshotEvents: 1000, SnapshotCheck: 5 * time.Millisecond})
		run(t, e)
		pos := w.actionPoint("AP1", t0)
		waitFor(t, e, pos)
		eventually(t, "every model saved after SnapshotEvery with one event", allSavedAt(t, reg, pos))
	})
}

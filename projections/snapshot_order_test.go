package projections_test

import (
	"context"
	"reflect"
	"runtime"
	"sync"
	"testing"

	"github.com/actionledger/actionledger/projections"
)

// savedModel is a model whose snapshot is size bytes; it notes in order
// when it is encoded.
type savedModel struct {
	name  string
	size  int
	order *saveOrder
}

type saveOrder struct {
	mu    sync.Mutex
	names []string
}

func (o *saveOrder) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	names := o.names
	o.names = nil
	return names
}

func (m *savedModel) Apply(*projections.Event) error { return nil }

func (m *savedModel) MarshalBinary() ([]byte, error) {
	m.order.mu.Lock()
	m.order.names = append(m.order.names, m.name)
	m.order.mu.Unlock()
	return make([]byte, m.size), nil
}

func (m *savedModel) UnmarshalBinary([]byte) error { return nil }

// TestSaveEncodesTheLargestModelFirst checks the order a save of every
// model takes once the sizes of their last snapshots are known, from a save
// in the same process or from the stored snapshots at open: largest first,
// so that the largest is not left to be encoded alone at the end (one
// worker here, so the order is the queue's).
func TestSaveEncodesTheLargestModelFirst(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	w := newWorld(t)
	w.actionPoint("AP1", t0)
	order := &saveOrder{}
	sizes := []struct {
		name string
		size int
	}{{"small", 10}, {"large", 3000}, {"medium", 200}}
	var defs []projections.Definition
	for _, s := range sizes {
		defs = append(defs, projections.Definition{Name: s.name, New: func() projections.Model {
			return &savedModel{name: s.name, size: s.size, order: order}
		}})
	}
	rebuild := func(e *projections.Engine) []string {
		t.Helper()
		rep, err := e.Rebuild(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Saved <= 0 || rep.Saved > rep.Took {
			t.Errorf("the rebuild says saving took %s of its %s", rep.Saved, rep.Took)
		}
		return order.take()
	}

	e := w.engine(projections.Config{Models: defs})
	// Nothing saved yet: the order they are defined in.
	if got, want := rebuild(e), []string{"small", "large", "medium"}; !reflect.DeepEqual(got, want) {
		t.Errorf("first save encoded %v, want %v", got, want)
	}
	largestFirst := []string{"large", "medium", "small"}
	if got := rebuild(e); !reflect.DeepEqual(got, largestFirst) {
		t.Errorf("second save encoded %v, want %v", got, largestFirst)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// A new process knows the sizes from the stored snapshots.
	e = w.engine(projections.Config{Models: defs})
	defer e.Close()
	if got := rebuild(e); !reflect.DeepEqual(got, largestFirst) {
		t.Errorf("after a reopen, the save encoded %v, want %v", got, largestFirst)
	}
}

package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/eventstore"
)

// gatedStore reads the log in small pages and, once armed, holds every
// read from position stopAt on until the gate opens: a rebuild caught
// half-way.
type gatedStore struct {
	eventstore.Store
	page   int
	stopAt uint64
	armed  atomic.Bool
	gate   chan struct{}
}

func (g *gatedStore) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if g.armed.Load() && after >= g.stopAt {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Store.ReadAll(ctx, after, min(limit, g.page))
}

// A rebuild reports how far it has replayed while it runs, against the head
// it will stop at, and when it is done.
func TestRebuildProgress(t *testing.T) {
	w := newWorld(t)
	for i := range 20 {
		w.actionPoint(fmt.Sprintf("AP%d", i), t0, &domain.ActionPointStarted{})
	}
	head, _ := w.store.Head(context.Background())
	g := &gatedStore{Store: w.store, page: 5, stopAt: 10, gate: make(chan struct{})}
	e, err := projections.Open(context.Background(), projections.Config{Store: g, Path: filepath.Join(w.dir, "projections.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if p := e.RebuildProgress(); p.Running || !p.Started.IsZero() {
		t.Fatalf("before any rebuild: %+v", p)
	}
	g.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := e.Rebuild(context.Background())
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	var p projections.RebuildProgress
	for {
		p = e.RebuildProgress()
		if p.Running && p.Replayed == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild held at position 10 reports %+v", p)
		}
		time.Sleep(time.Millisecond)
	}
	if p.Head != head || p.Started.IsZero() {
		t.Errorf("half-way: %+v; want head %d and a start time", p, head)
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p = e.RebuildProgress()
	if p.Running || p.Replayed != head || p.Head != head {
		t.Errorf("after the rebuild: %+v; want not running, replayed %d of %d", p, head, head)
	}
}

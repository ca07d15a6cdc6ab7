package projections_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// BenchmarkRebuild times a full rebuild of the four read models on the
// CLEA-national history of BenchmarkAsOf (same cache): the rate at which
// Apply folds the log, with reading and decoding overlapped.
//
//	go test ./projections -run '^$' -bench Rebuild -benchtime 3x
//
// ACTIONLEDGER_BENCH_STORE names an events.db to rebuild from instead (a
// copy: opening a store writes to it), e.g. an imported CLEA data dir's.
func BenchmarkRebuild(b *testing.B) {
	store, events := benchStore(b)
	eng, err := projections.Open(context.Background(), projections.Config{Store: store, Path: filepath.Join(b.TempDir(), "projections.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := eng.Rebuild(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkModelsHeap reports the live heap the four read models hold once
// they have folded the whole CLEA-national history (HeapAlloc after a GC,
// less the same before building them). It runs the build once whatever b.N.
//
//	go test ./projections -run '^$' -bench ModelsHeap -benchtime 1x
func BenchmarkModelsHeap(b *testing.B) {
	spec := cleaSpec(benchCommunities(b))
	store, _ := cachedHistory(b, spec)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		models, err := projections.BuildModels(context.Background(), store)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(models)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "live-MB")
	}
}

// benchStore is the store ACTIONLEDGER_BENCH_STORE names, or the cached
// CLEA-national history, and its head.
func benchStore(b *testing.B) (*boltstore.Store, uint64) {
	b.Helper()
	path := os.Getenv("ACTIONLEDGER_BENCH_STORE")
	if path == "" {
		return cachedHistory(b, cleaSpec(benchCommunities(b)))
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	head, err := s.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return s, head
}

package projections_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/actionledger/actionledger/projections"
)

// BenchmarkRebuild times a full rebuild of the four read models on the
// CLEA-national history of BenchmarkAsOf (same cache): the rate at which
// Apply folds the log, with reading and decoding overlapped.
//
//	go test ./projections -run '^$' -bench Rebuild -benchtime 3x
func BenchmarkRebuild(b *testing.B) {
	spec := cleaSpec(benchCommunities(b))
	store, events := cachedHistory(b, spec)
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

package projections_test

import (
	"context"
	"slices"
	"testing"

	"github.com/actionledger/actionledger/projections"
)

// BenchmarkSnapshotEncode times and weighs one save's encoding of each read
// model on the CLEA-national history (or ACTIONLEDGER_BENCH_STORE's): a save
// encodes the whole model, so this is what every snapshot costs. The
// restore sub-benchmarks decode it again, as a restart does (each model on
// its own goroutine: the slowest bounds the restart).
//
//	go test ./projections -run '^$' -bench SnapshotEncode -benchtime 3x
func BenchmarkSnapshotEncode(b *testing.B) {
	store, _ := benchStore(b)
	models, err := projections.BuildAllModels(context.Background(), store)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		m := models[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				data, err := m.MarshalBinary()
				if err != nil {
					b.Fatal(err)
				}
				size = len(data)
			}
			b.ReportMetric(float64(size)/(1<<20), "encoded-MB")
		})
	}
	for _, name := range names {
		data, err := models[name].MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		b.Run("restore/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fresh := projections.New(name)
				if err := fresh.UnmarshalBinary(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

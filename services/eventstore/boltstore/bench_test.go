package boltstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// benchEvent is a typical write: ~300 bytes of JSON data plus a full envelope.
func benchEvent() eventstore.EventData {
	data := []byte(`{"community_id":"KEN-SDA-0421","title":"Watch for visitors from affected areas and report them to the chief","category":"surveillance","kind":"continuous","due_date":"2015-03-14","note":"agreed at the triggering session with the youth leader and the mammy queen; the by-law committee will follow up weekly"}`)
	h := sha256.Sum256(data)
	return eventstore.EventData{
		ID:   uuid.New(),
		Type: "ActionPointRaised",
		Data: data[:300],
		Meta: eventstore.Metadata{
			OccurredAt:     time.Now(),
			ActorID:        "usr-mob-0042",
			ActorRole:      "mobilizer",
			CorrelationID:  "01HZX3K8W2M6Q9",
			CausationID:    "01HZX3K8W2M6Q9",
			IdempotencyKey: "a6f1e2c4-6d7b-4f3e-9a51-0c2b7d8e9f10",
			RequestHash:    h[:],
		},
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchmarkAppend(b, writers) })
	}
}

// benchmarkAppend appends one durable event per call, each writer to its own
// stream with an exact expected revision, as aggregates do.
func benchmarkAppend(b *testing.B, writers int) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	proto := benchEvent()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			stream := fmt.Sprintf("actionpoint-%02d", w)
			var rev uint64
			for next.Add(1) <= int64(b.N) {
				e := proto
				e.ID = uuid.New()
				res, err := s.Append(ctx, stream, eventstore.Exact(rev), e)
				if err != nil {
					b.Error(err)
					return
				}
				rev = res.LastRevision
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRawBoltGroupCommit is the engine's own ceiling on this machine:
// bbolt's Batch with 64 writers writing values of the size of a stored
// benchEvent, with no indexes, no checks and no hashing.
func BenchmarkRawBoltGroupCommit(b *testing.B) {
	b.Run("writers=64", func(b *testing.B) {
		const writers = 64
		db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{
			NoFreelistSync: true,
			FreelistType:   bolt.FreelistMapType,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.MaxBatchSize = 64
		name := []byte("events")
		if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(name); return err }); err != nil {
			b.Fatal(err)
		}
		value := make([]byte, boltstore.RecordSize("actionpoint-00", benchEvent()))
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for range writers {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					err := db.Batch(func(tx *bolt.Tx) error {
						bk := tx.Bucket(name)
						bk.FillPercent = 1.0
						seq, err := bk.NextSequence()
						if err != nil {
							return err
						}
						return bk.Put(binary.BigEndian.AppendUint64(nil, seq), value)
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(len(value)), "value-bytes")
	})
}

package kurrentstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore/kurrenttest"
)

// benchData is a payload the size of a typical command's event (an action
// point raised: ids, a title, a due date), and benchMeta the envelope the
// write path sets on every event.
var (
	benchData = []byte(`{"action_point_id":"8f14e45f-ceea-467f-a0e6-9d6b4a2c1b3e","community_id":"c-0042-kambia",` +
		`"title":"Repair the hand-washing station at the market","due":"2015-03-01","owner":"mob-0042","category":"wash"}`)
	benchMeta = eventstore.Metadata{
		OccurredAt: time.Date(2015, 2, 14, 9, 30, 15, 0, time.UTC), ActorID: "mob-0042", ActorRole: "mobilizer",
		CorrelationID: "3f2b9c1e-8a7d-4e6f-b5c4-2d1e0f9a8b7c", IdempotencyKey: "phone-7-2015-02-14-0931",
		RequestHash: []byte("0123456789abcdef0123456789abcdef"),
	}
)

// BenchmarkAppendVsRawClient measures appends through the adapter and
// through the bare client library, against the same in-process server, with
// the same writers, the same events and the same envelope bytes, in rounds
// that alternate between the two so that both see the same machine load.
// Each writer appends single-event appends to a stream of its own at exact
// expected revisions, as the command handlers do. It reports both rates and
// their ratio (adapter/raw); b.N is the number of appends of each kind.
func BenchmarkAppendVsRawClient(b *testing.B) {
	for _, c := range []struct{ writers, events int }{{16, 1}, {16, 3}} {
		b.Run(fmt.Sprintf("writers=%d/events=%d", c.writers, c.events), func(b *testing.B) {
			benchAppendVsRaw(b, c.writers, c.events)
		})
	}
}

func benchAppendVsRaw(b *testing.B, writers, perAppend int) {
	srv := kurrenttest.Start(b, kurrenttest.Options{})
	ctx := b.Context()
	store, err := kurrentstore.Open(ctx, srv.URL(), kurrentstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	cfg, err := esdb.ParseConnectionString(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	cfg.Logger = func(esdb.LogLevel, string, ...any) {} // as quiet as the adapter's
	raw, err := esdb.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = raw.Close() })
	// The raw client carries the same metadata bytes as the adapter writes.
	rawMeta, err := json.Marshal(map[string]any{
		"occurred_at": benchMeta.OccurredAt.Format(time.RFC3339Nano), "actor_id": benchMeta.ActorID,
		"actor_role": benchMeta.ActorRole, "$correlationId": benchMeta.CorrelationID,
		"idempotency_key": benchMeta.IdempotencyKey, "request_hash": benchMeta.RequestHash,
	})
	if err != nil {
		b.Fatal(err)
	}

	run := strings.ReplaceAll(uuid.NewString(), "-", "")[:8]
	adapterRev := make([]uint64, writers) // port revisions
	rawRev := make([]int64, writers)      // KurrentDB revisions, -1: no stream
	for w := range rawRev {
		rawRev[w] = -1
	}
	adapterAppend := func(w int) error {
		evs := make([]eventstore.EventData, perAppend)
		for i := range evs {
			evs[i] = eventstore.EventData{ID: uuid.New(), Type: "ActionPointRaised", Data: benchData, Meta: benchMeta}
		}
		res, err := store.Append(ctx, fmt.Sprintf("bench-%s-a%d", run, w), eventstore.Exact(adapterRev[w]), evs...)
		if err != nil {
			return err
		}
		adapterRev[w] = res.LastRevision
		return nil
	}
	rawAppend := func(w int) error {
		evs := make([]esdb.EventData, perAppend)
		for i := range evs {
			evs[i] = esdb.EventData{EventID: uuid.New(), EventType: "ActionPointRaised", ContentType: esdb.ContentTypeJson,
				Data: benchData, Metadata: rawMeta}
		}
		var exp esdb.ExpectedRevision = esdb.NoStream{}
		if rawRev[w] >= 0 {
			exp = esdb.Revision(uint64(rawRev[w]))
		}
		_, err := raw.AppendToStream(ctx, fmt.Sprintf("bench-%s-r%d", run, w), esdb.AppendToStreamOptions{ExpectedRevision: exp}, evs...)
		if err != nil {
			return err
		}
		rawRev[w] += int64(perAppend)
		return nil
	}
	// phase runs n appends spread over the writers and returns how long
	// they took.
	phase := func(n int, appendOne func(w int) error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		start := time.Now()
		for w := range writers {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if err := appendOne(w); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return took
	}
	// Warm both paths (connections, the server's maps) outside the timing.
	phase(writers, rawAppend)
	phase(writers, adapterAppend)

	const rounds = 10
	var rawTook, adapterTook time.Duration
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r == rounds-1 {
			n = b.N - n*(rounds-1)
		}
		if n == 0 {
			continue
		}
		if r%2 == 0 {
			rawTook += phase(n, rawAppend)
			adapterTook += phase(n, adapterAppend)
		} else {
			adapterTook += phase(n, adapterAppend)
			rawTook += phase(n, rawAppend)
		}
	}
	b.StopTimer()
	rawRate := float64(b.N) / rawTook.Seconds()
	adapterRate := float64(b.N) / adapterTook.Seconds()
	b.ReportMetric(adapterRate, "adapter-appends/s")
	b.ReportMetric(rawRate, "raw-appends/s")
	b.ReportMetric(adapterRate/rawRate, "ratio")
}

// BenchmarkAdapterAppend is the adapter's half alone, for profiling
// (-cpuprofile): 16 writers, single-event appends at exact revisions.
func BenchmarkAdapterAppend(b *testing.B) {
	srv := kurrenttest.Start(b, kurrenttest.Options{})
	store, err := kurrentstore.Open(b.Context(), srv.URL(), kurrentstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	var writer atomic.Int64
	b.SetParallelism(8) // 16 writers on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		stream := fmt.Sprintf("p-%d", writer.Add(1))
		var rev uint64
		for pb.Next() {
			res, err := store.Append(context.Background(), stream, eventstore.Exact(rev),
				eventstore.EventData{ID: uuid.New(), Type: "ActionPointRaised", Data: benchData, Meta: benchMeta})
			if err != nil {
				b.Error(err)
				return
			}
			rev = res.LastRevision
		}
	})
}

package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/google/uuid"
)

// logStore is a store whose global log is a slice the test may damage at
// will; only Head and ReadAll are used by VerifyChain.
type logStore struct {
	eventstore.Store
	log  []eventstore.RecordedEvent
	head uint64
	// unreadable positions make any ReadAll that reaches them fail.
	unreadable map[uint64]bool
}

func (s *logStore) Head(ctx context.Context) (uint64, error) { return s.head, ctx.Err() }

func (s *logStore) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []eventstore.RecordedEvent
	for _, ev := range s.log {
		if ev.Position <= after {
			continue
		}
		if len(out) == limit {
			break
		}
		if s.unreadable[ev.Position] {
			return nil, fmt.Errorf("record at position %d: truncated", ev.Position)
		}
		out = append(out, ev)
	}
	return out, nil
}

// chained builds a log of n events chained as an adapter would.
func chained(n int) *logStore {
	s := &logStore{head: uint64(n)}
	var prev [32]byte
	t := time.Date(2015, 2, 2, 9, 0, 0, 0, time.UTC)
	for i := range n {
		ev := eventstore.RecordedEvent{
			EventData: eventstore.EventData{ID: uuid.New(), Type: "ActionPointStarted.v1", Data: []byte{byte(i), 'n', 'o', 't', 'e'},
				Meta: eventstore.Metadata{OccurredAt: t, ActorID: "usr-1", ActorRole: "mobilizer"}},
			Stream: fmt.Sprintf("actionpoint-%d", i%7), Revision: uint64(i/7 + 1), Position: uint64(i + 1),
			RecordedAt: t.Add(time.Duration(i) * time.Second), PrevHash: prev,
		}
		ev.Hash = eventstore.ChainHash(prev, &ev)
		prev = ev.Hash
		s.log = append(s.log, ev)
	}
	return s
}

func TestVerifyChain(t *testing.T) {
	const n = 10_000 // more than two pages
	cases := []struct {
		name     string
		events   int
		damage   func(s *logStore)
		brokenAt uint64
		count    uint64
	}{
		{"empty", 0, nil, 0, 0},
		{"intact", n, nil, 0, n},
		{"data_changed", n, func(s *logStore) { s.log[4999].Data[1] ^= 1 }, 5000, 4999},
		{"first_event_changed", n, func(s *logStore) { s.log[0].Meta.ActorID = "usr-2" }, 1, 0},
		{"last_event_changed", n, func(s *logStore) { s.log[n-1].RecordedAt = s.log[n-1].RecordedAt.Add(time.Second) }, n, n - 1},
		{"hash_replaced", n, func(s *logStore) { s.log[10].Hash[0] ^= 1 }, 11, 10},
		{"event_rehashed_but_next_link_broken", n, func(s *logStore) {
			s.log[10].Data = []byte("forged")
			s.log[10].Hash = eventstore.ChainHash(s.log[10].PrevHash, &s.log[10])
		}, 12, 11},
		{"event_removed", n, func(s *logStore) { s.log = append(s.log[:99:99], s.log[100:]...) }, 101, 99},
		{"events_swapped", n, func(s *logStore) { s.log[20], s.log[21] = s.log[21], s.log[20] }, 22, 20},
		{"tail_cut_off", n, func(s *logStore) { s.log = s.log[:n-5] }, n - 4, n - 5},
		{"unreadable_event", n, func(s *logStore) { s.unreadable = map[uint64]bool{6000: true} }, 6000, 5999},
		{"no_hashes", 3, func(s *logStore) {
			for i := range s.log {
				s.log[i].PrevHash, s.log[i].Hash = [32]byte{}, [32]byte{}
			}
		}, 1, 0},
		{"hash_stripped_midway", n, func(s *logStore) { s.log[30].Hash = [32]byte{} }, 31, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := chained(tc.events)
			if tc.damage != nil {
				tc.damage(s)
			}
			// Only a log without any hash is a store that keeps no chain
			// (KurrentDB); a hash missing midway is damage.
			want := eventstore.ChainReport{Count: tc.count, BrokenAt: tc.brokenAt, Unchained: tc.name == "no_hashes"}
			if tc.count > 0 {
				want.HeadPosition, want.HeadHash = s.log[tc.count-1].Position, s.log[tc.count-1].Hash
			}
			got, err := eventstore.VerifyChain(t.Context(), s)
			if err != nil {
				t.Fatalf("VerifyChain: %v", err)
			}
			if got.Intact() != (tc.brokenAt == 0) || (got.Reason == "") != got.Intact() {
				t.Errorf("Intact() = %v with reason %q", got.Intact(), got.Reason)
			}
			got.Reason = ""
			if got != want {
				t.Errorf("report = %+v\nwant     %+v", got, want)
			}
		})
	}
}

func TestVerifyChainStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := eventstore.VerifyChain(ctx, chained(10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// The embedded store's own Verify walks the same chain (and its index): on
// an intact log both agree on the count and the head.
func TestVerifyChainAgreesWithTheEmbeddedStore(t *testing.T) {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 50 {
		ev := eventstore.EventData{ID: uuid.New(), Type: "T.v1", Data: []byte{byte(i)}, Meta: eventstore.Metadata{ActorID: "a"}}
		if _, err := s.Append(t.Context(), fmt.Sprintf("s-%d", i%3), eventstore.Any, ev, eventstore.EventData{ID: uuid.New(), Type: "T.v1"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := eventstore.VerifyChain(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Intact() || got.Count != want.Count || got.HeadHash != want.HeadHash || got.HeadPosition != 100 {
		t.Errorf("VerifyChain = %+v; boltstore Verify = %+v", got, want)
	}
}

// BenchmarkVerifyChain walks a large store's chain through the port. Point
// ACTIONLEDGER_BENCH_STORE at an events.db (BenchmarkAsOf in projections
// generates one of 1.65 million events):
//
//	ACTIONLEDGER_BENCH_STORE=/tmp/actionledger-history-v1-12000-40.db go test ./services/eventstore -run '^$' -bench VerifyChain
func BenchmarkVerifyChain(b *testing.B) {
	path := os.Getenv("ACTIONLEDGER_BENCH_STORE")
	if path == "" {
		b.Skip("set ACTIONLEDGER_BENCH_STORE to an events.db")
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var r eventstore.ChainReport
	for b.Loop() {
		if r, err = eventstore.VerifyChain(b.Context(), s); err != nil || !r.Intact() {
			b.Fatalf("%+v %v", r, err)
		}
	}
	b.ReportMetric(float64(r.Count)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

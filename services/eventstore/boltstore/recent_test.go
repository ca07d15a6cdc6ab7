package boltstore_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// TestSubscriptionsShareReads: subscriptions following the log side by side
// (as the read models do) and one far behind each receive every event once,
// in order and whole, each with bytes of its own: one that scribbles over
// the data it was given changes nothing the others receive.
func TestSubscriptionsShareReads(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	ctx := t.Context()
	const early, late = 3000, 600 // early: more than the window of shared reads
	want := make([]eventstore.EventData, early+late)
	for k := range want {
		want[k] = eventstore.EventData{ID: uuid.New(), Type: "T", Data: []byte(fmt.Sprintf("event %d", k+1)),
			Meta: eventstore.Metadata{ActorID: "a", RequestHash: []byte{byte(k), byte(k >> 8)}}}
	}
	add := func(evs []eventstore.EventData) {
		for i := 0; i < len(evs); i += 50 {
			if _, err := s.Append(ctx, fmt.Sprintf("s-%d", i%7), eventstore.Any, evs[i:min(i+50, len(evs))]...); err != nil {
				t.Error(err)
				return
			}
		}
	}
	add(want[:early])

	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		after := uint64(early - 10) // side by side, near the head
		if i == 0 {
			after = 0 // far behind: past the window
		}
		sub, err := s.Subscribe(ctx, after)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		wg.Go(func() {
			for pos := after + 1; pos <= uint64(len(want)); pos++ {
				ev, err := sub.Recv()
				if err != nil {
					errs[i] = err
					return
				}
				w := want[pos-1]
				if ev.Position != pos || ev.ID != w.ID || !bytes.Equal(ev.Data, w.Data) || !bytes.Equal(ev.Meta.RequestHash, w.Meta.RequestHash) {
					errs[i] = fmt.Errorf("at %d: got position %d, id %s, data %q, hash %x; want id %s, data %q, hash %x",
						pos, ev.Position, ev.ID, ev.Data, ev.Meta.RequestHash, w.ID, w.Data, w.Meta.RequestHash)
					return
				}
				for j := range ev.Data {
					ev.Data[j] = 'x'
				}
				for j := range ev.Meta.RequestHash {
					ev.Meta.RequestHash[j] = 0xff
				}
			}
		})
	}
	add(want[early:]) // while they read
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("subscription %d: %v", i, err)
		}
	}
}

// TestRecentWindow: the shared window holds one run of consecutive
// positions: reads that overlap its end extend it, newer ones replace it,
// older ones leave it, and it keeps the newest events when it grows past
// its bound.
func TestRecentWindow(t *testing.T) {
	run := func(first, last uint64) []eventstore.RecordedEvent {
		var evs []eventstore.RecordedEvent
		for p := first; p <= last; p++ {
			evs = append(evs, eventstore.RecordedEvent{Position: p, EventData: eventstore.EventData{Data: []byte(fmt.Sprint(p))}})
		}
		return evs
	}
	type get struct {
		after uint64
		limit int
		first uint64 // 0: a miss
		count int
	}
	tests := []struct {
		name string
		puts [][2]uint64
		gets []get
	}{
		{"empty", nil, []get{{0, 10, 0, 0}}},
		{"one run", [][2]uint64{{1, 10}}, []get{{0, 100, 1, 10}, {4, 3, 5, 3}, {9, 5, 10, 1}, {10, 5, 0, 0}}},
		{"overlap extends", [][2]uint64{{1, 10}, {5, 20}}, []get{{0, 100, 1, 20}, {12, 100, 13, 8}}},
		{"adjacent extends", [][2]uint64{{1, 10}, {11, 12}}, []get{{0, 100, 1, 12}}},
		{"newer replaces", [][2]uint64{{1, 10}, {30, 35}}, []get{{5, 10, 0, 0}, {29, 10, 30, 6}}},
		{"older ignored", [][2]uint64{{20, 30}, {1, 25}, {1, 5}}, []get{{0, 10, 0, 0}, {19, 100, 20, 11}}},
		{"bounded", [][2]uint64{{1, boltstore.RecentMax}, {boltstore.RecentMax + 1, boltstore.RecentMax + 10}}, []get{
			{boltstore.RecentMax / 2, 10, 0, 0}, {boltstore.RecentMax/2 + 10, 10000, boltstore.RecentMax/2 + 11, boltstore.RecentMax / 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w boltstore.RecentWindow
			for _, p := range tc.puts {
				w.Put(run(p[0], p[1]))
			}
			for _, g := range tc.gets {
				evs, ok := w.Get(g.after, g.limit)
				if ok != (g.first != 0) || len(evs) != g.count {
					t.Fatalf("get after %d: %d events, hit %v; want %d from %d", g.after, len(evs), ok, g.count, g.first)
				}
				for i, ev := range evs {
					if ev.Position != g.first+uint64(i) || string(ev.Data) != fmt.Sprint(ev.Position) {
						t.Fatalf("get after %d: event %d at position %d with data %q, want position %d", g.after, i, ev.Position, ev.Data, g.first+uint64(i))
					}
				}
			}
		})
	}
}

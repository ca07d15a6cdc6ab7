package kurrentstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore/kurrenttest"
)

func TestMaskURL(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"no credentials", "esdb://127.0.0.1:2113?tls=false", "esdb://127.0.0.1:2113?tls=false"},
		{"user and password", "esdb://admin:changeit@db:2113?tls=true", "esdb://admin:xxxxx@db:2113?tls=true"},
		{"seed list", "esdb+discover://ops:p4ss@n1:2113,n2:2113,n3:2113?tlsCAFile=/ca.crt",
			"esdb+discover://ops:xxxxx@n1:2113,n2:2113,n3:2113?tlsCAFile=/ca.crt"},
		{"percent-encoded password", "esdb://ops:a%40b%3Ac@db:2113", "esdb://ops:xxxxx@db:2113"},
		{"user only", "esdb://ops@db:2113", "esdb://ops@db:2113"},
		{"not a connection string", "admin:changeit@db", "(unparsable connection string)"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := kurrentstore.MaskURL(c.in); got != c.want {
				t.Fatalf("MaskURL(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// open connects a store to srv, closing it when the test ends.
func open(t *testing.T, url string, opts kurrentstore.Options) *kurrentstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := kurrentstore.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ev(typ string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(`{"k":1}`)}
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(t.Context(), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append to %q: %v", stream, err)
	}
	return res
}

func TestOpenFailsFastAndHidesThePassword(t *testing.T) {
	cases := []struct {
		name, url string
	}{
		{"nothing listening", "esdb://admin:s3cr3t-pw@127.0.0.1:1?tls=false"},
		{"malformed", "esdb://admin:s3cr3t-pw@127.0.0.1:notaport?tls=false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := kurrentstore.Open(t.Context(), c.url, kurrentstore.Options{ConnectTimeout: 5 * time.Second})
			if err == nil {
				t.Fatal("open succeeded")
			}
			if strings.Contains(err.Error(), "s3cr3t-pw") {
				t.Fatalf("the error shows the password: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("open took %s to fail", d)
			}
		})
	}
}

func TestOpenRefusesABadNamespace(t *testing.T) {
	srv := kurrenttest.Start(t, kurrenttest.Options{})
	for _, ns := range []string{"a:b", "a.id", "with space", strings.Repeat("x", 65)} {
		if _, err := kurrentstore.Open(t.Context(), srv.URL(), kurrentstore.Options{Namespace: ns}); err == nil {
			t.Errorf("namespace %q accepted", ns)
		}
	}
}

// Everything that is not the namespace's own stream — system events, other
// namespaces, another tool's streams, the claims — stays out of ReadAll,
// Head and subscriptions.
func TestOnlyTheNamespaceIsVisible(t *testing.T) {
	srv := kurrenttest.Start(t, kurrenttest.Options{SystemEventEvery: 1})
	s := open(t, srv.URL(), kurrentstore.Options{})
	other := open(t, srv.URL(), kurrentstore.Options{Namespace: "other"})

	sub, err := s.Subscribe(t.Context(), 0)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Close()

	var want []eventstore.AppendResult
	for i := range 3 {
		srv.AppendRaw("$stats-node", "$statsCollected", []byte(`{}`), 2)
		mustAppend(t, other, "community-X", eventstore.Any, ev("Other"))
		srv.AppendRaw("billing-7", "InvoiceSent", []byte(`{}`), 1)
		want = append(want, mustAppend(t, s, fmt.Sprintf("community-%d", i), eventstore.NoStream, ev("Mine")))
	}
	// More foreign records after the last own event than Head's first page.
	srv.AppendRaw("$stats-node", "$statsCollected", []byte(`{}`), 100)
	mustAppend(t, other, "community-Y", eventstore.Any, ev("Other"))

	all, err := s.ReadAll(t.Context(), 0, 100)
	if err != nil {
		t.Fatalf("read all: %v", err)
	}
	if len(all) != len(want) {
		t.Fatalf("read all: %d events, want %d", len(all), len(want))
	}
	for i, e := range all {
		if e.Type != "Mine" || e.Position != want[i].FirstPosition || e.Stream != fmt.Sprintf("community-%d", i) {
			t.Errorf("event %d: %s in %q at %d, want Mine in community-%d at %d", i, e.Type, e.Stream, e.Position, i, want[i].FirstPosition)
		}
	}
	head, err := s.Head(t.Context())
	if err != nil || head != want[len(want)-1].LastPosition {
		t.Fatalf("head = %d (%v), want %d", head, err, want[len(want)-1].LastPosition)
	}
	for i := range want {
		got, err := sub.Recv()
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		if got.Position != want[i].FirstPosition {
			t.Fatalf("subscription event %d at %d, want %d", i, got.Position, want[i].FirstPosition)
		}
	}
}

// A log longer than one read page, with claims and system events between the
// application's events, reads whole and in order.
func TestReadAllAcrossPages(t *testing.T) {
	srv := kurrenttest.Start(t, kurrenttest.Options{SystemEventEvery: 1})
	s := open(t, srv.URL(), kurrentstore.Options{})
	const n = 700
	var last uint64
	for i := range n {
		last = mustAppend(t, s, fmt.Sprintf("s-%d", i%7), eventstore.Any, ev("E")).LastPosition
	}
	all, err := s.ReadAll(t.Context(), 0, 2*n)
	if err != nil {
		t.Fatalf("read all: %v", err)
	}
	if len(all) != n || all[n-1].Position != last {
		t.Fatalf("read all: %d events ending at %d, want %d ending at %d", len(all), all[len(all)-1].Position, n, last)
	}
	page, err := s.ReadAll(t.Context(), all[99].Position, 300)
	if err != nil || len(page) != 300 || page[0].Position != all[100].Position {
		t.Fatalf("read all after the 100th event: %d events (%v), want 300 starting at %d", len(page), err, all[100].Position)
	}
}

// KurrentDB forgets its idempotency cache on restart, after which an Any
// append of stored ids would store them twice; the claims still make it a
// retry.
func TestRetryAfterKurrentDBForgotItsIdempotencyCache(t *testing.T) {
	cases := []struct {
		name string
		exp  eventstore.ExpectedRevision
	}{
		{"any", eventstore.Any},
		{"stream exists", eventstore.StreamExists},
		{"exact", eventstore.NoStream},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := kurrenttest.Start(t, kurrenttest.Options{})
			s := open(t, srv.URL(), kurrentstore.Options{})
			mustAppend(t, s, "st", eventstore.NoStream, ev("First"))
			evs := []eventstore.EventData{ev("A"), ev("B")}
			exp := c.exp
			if _, ok := exp.ExactRevision(); ok {
				exp = eventstore.Exact(1)
			}
			orig := mustAppend(t, s, "st", exp, evs...)
			srv.ForgetIdempotencyCache()
			before := srv.Events()
			res, err := s.Append(t.Context(), "st", exp, evs...)
			if err != nil || !res.Duplicate {
				t.Fatalf("retry: %+v, %v; want a duplicate", res, err)
			}
			res.Duplicate = false
			if res != orig {
				t.Fatalf("retry answered %+v, want %+v", res, orig)
			}
			if srv.Events() != before {
				t.Fatalf("retry wrote %d events", srv.Events()-before)
			}
		})
	}
}

// A fresh append costs one claim per event and the append itself, and a
// single-event one reads nothing back; a conflict costs its release, never a
// read of the stream.
func TestAppendRoundTrips(t *testing.T) {
	srv := kurrenttest.Start(t, kurrenttest.Options{})
	s := open(t, srv.URL(), kurrentstore.Options{})
	cases := []struct {
		name           string
		exp            eventstore.ExpectedRevision
		events         int
		appends, reads int
		conflict       bool
	}{
		{"one event", eventstore.NoStream, 1, 2, 0, false},
		{"two events", eventstore.Exact(1), 2, 3, 1, false},
		{"one event at Any", eventstore.Any, 1, 2, 0, false},
		{"conflict", eventstore.Exact(1), 1, 3, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs := make([]eventstore.EventData, c.events)
			for i := range evs {
				evs[i] = ev("E")
			}
			appends, reads := srv.AppendCalls(), srv.ReadCalls()
			_, err := s.Append(t.Context(), "rt", c.exp, evs...)
			if c.conflict != errors.Is(err, eventstore.ErrWrongRevision) || !c.conflict && err != nil {
				t.Fatalf("append: %v (conflict expected: %v)", err, c.conflict)
			}
			if got := srv.AppendCalls() - appends; got != c.appends {
				t.Errorf("%d append calls, want %d", got, c.appends)
			}
			if got := srv.ReadCalls() - reads; got != c.reads {
				t.Errorf("%d read calls, want %d", got, c.reads)
			}
		})
	}
}

// A retried append lands once even when KurrentDB restarted in between
// (its idempotency cache, which Any appends rely on, is then gone) and
// when the first attempt's outcome was unknown: cut before the write, or
// written with the answer lost.
func TestRetryAfterARestartLandsOnce(t *testing.T) {
	const (
		answered    = "answered"
		lostAfter   = "written, answer lost"
		lostBefore  = "lost before the write"
		stream      = "restart"
		kurrentName = "actionledger:" + stream
	)
	cases := []struct {
		name    string
		first   string
		exp     eventstore.ExpectedRevision
		events  int
		wantDup bool // the retry must say the events were there already
	}{
		{"any, answered", answered, eventstore.Any, 1, true},
		{"exact, answered, two events", answered, eventstore.Exact(1), 2, true},
		{"stream exists, answer lost", lostAfter, eventstore.StreamExists, 1, true},
		{"any, answer lost, two events", lostAfter, eventstore.Any, 2, true},
		{"exact, answer lost", lostAfter, eventstore.Exact(1), 1, true},
		{"exact, lost before the write", lostBefore, eventstore.Exact(1), 1, false},
		{"any, lost before the write", lostBefore, eventstore.Any, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := kurrenttest.Start(t, kurrenttest.Options{})
			s := open(t, srv.URL(), kurrentstore.Options{})
			mustAppend(t, s, stream, eventstore.NoStream, ev("First"))
			evs := make([]eventstore.EventData, c.events)
			for i := range evs {
				evs[i] = ev("Retried")
			}
			var orig eventstore.AppendResult
			if c.first == answered {
				orig = mustAppend(t, s, stream, c.exp, evs...)
			} else {
				srv.FailNextAppend(kurrentName, c.first == lostAfter)
				if _, err := s.Append(t.Context(), stream, c.exp, evs...); err == nil {
					t.Fatal("the first attempt succeeded; the server was to fail it")
				}
			}

			srv.Stop()
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			res, err := appendUntil(t, s, stream, c.exp, evs...)
			if err != nil {
				t.Fatalf("retry after the restart: %v", err)
			}
			if c.wantDup && !res.Duplicate {
				t.Errorf("retry after the restart answered %+v, want a duplicate", res)
			}
			if c.first == answered {
				res.Duplicate = false
				if res != orig {
					t.Errorf("retry answered %+v, want the first answer %+v", res, orig)
				}
			}
			got, err := s.ReadStream(t.Context(), stream, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1+len(evs) {
				t.Fatalf("the stream holds %d events, want %d", len(got), 1+len(evs))
			}
			for i, e := range evs {
				if r := got[1+i]; r.ID != e.ID || r.Revision != res.FirstRevision+uint64(i) {
					t.Errorf("revision %d holds %s; want %s at revision %d as the retry answered",
						r.Revision, r.ID, e.ID, res.FirstRevision+uint64(i))
				}
			}
			for _, e := range evs {
				if n := srv.Copies(e.ID); n != 1 {
					t.Errorf("the server holds %d copies of event %s, want 1", n, e.ID)
				}
			}
		})
	}
}

// appendUntil retries an append while the client reconnects to a restarted
// server.
func appendUntil(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) (eventstore.AppendResult, error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := s.Append(t.Context(), stream, exp, evs...)
		if err == nil || errors.Is(err, eventstore.ErrWrongRevision) || errors.Is(err, eventstore.ErrDuplicateEventID) ||
			time.Now().After(deadline) {
			return res, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The write path retries a command refused by a conflict with the same
// event ids at the new revision: that retry is the first write of those
// events, not a replay, and only a later retry is a duplicate.
func TestRetryAfterAConflictIsAFirstWrite(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d events", n), func(t *testing.T) {
			srv := kurrenttest.Start(t, kurrenttest.Options{})
			s := open(t, srv.URL(), kurrentstore.Options{})
			mustAppend(t, s, "cf", eventstore.NoStream, ev("Other"))
			evs := make([]eventstore.EventData, n)
			for i := range evs {
				evs[i] = ev("Mine")
			}
			_, err := s.Append(t.Context(), "cf", eventstore.NoStream, evs...)
			var wre *eventstore.WrongRevisionError
			if !errors.As(err, &wre) || wre.Actual != 1 {
				t.Fatalf("append at a stale revision: %v, want a conflict at revision 1", err)
			}
			res, err := s.Append(t.Context(), "cf", eventstore.Exact(1), evs...)
			if err != nil || res.Duplicate || res.FirstRevision != 2 {
				t.Fatalf("retry at the new revision: %+v, %v; want a first write at revision 2", res, err)
			}
			again, err := s.Append(t.Context(), "cf", eventstore.Exact(1), evs...)
			if err != nil || !again.Duplicate {
				t.Fatalf("a second retry: %+v, %v; want a duplicate", again, err)
			}
			again.Duplicate = false
			if again != res {
				t.Fatalf("a second retry answered %+v, want %+v", again, res)
			}
		})
	}
}

// A lost node ends subscriptions with an error (not ErrClosed, so consumers
// reopen them) and fails calls; once it is back, the same Store works again,
// even though the client library gives up its connection for good after a
// failed discovery.
func TestSurvivesTheServerGoingAway(t *testing.T) {
	srv := kurrenttest.Start(t, kurrenttest.Options{})
	s := open(t, srv.URL(), kurrentstore.Options{})
	first := mustAppend(t, s, "nl", eventstore.NoStream, ev("Before"))
	sub, err := s.Subscribe(t.Context(), 0)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Close()
	if got, err := sub.Recv(); err != nil || got.Position != first.FirstPosition {
		t.Fatalf("recv: %+v, %v", got, err)
	}

	srv.Stop()
	_, err = sub.Recv()
	if err == nil || errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("recv after the server went away: %v, want a failure other than ErrClosed", err)
	}
	if _, err := s.Append(t.Context(), "nl", eventstore.Exact(1), ev("During")); err == nil {
		t.Fatal("append succeeded with the server away")
	}
	// Let the library's discovery give up, as it does against a dead node.
	_, _ = s.Head(t.Context())

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	var res eventstore.AppendResult
	for {
		res, err = s.Append(t.Context(), "nl", eventstore.Exact(1), ev("After"))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("append after the server came back: %v", err)
	}
	if res.FirstRevision != 2 {
		t.Fatalf("append after the server came back landed at revision %d, want 2", res.FirstRevision)
	}
	sub2, err := s.Subscribe(t.Context(), first.LastPosition)
	if err != nil {
		t.Fatalf("subscribe again: %v", err)
	}
	defer sub2.Close()
	if got, err := sub2.Recv(); err != nil || got.Position != res.FirstPosition {
		t.Fatalf("recv after resubscribing: %+v, %v; want the event at %d", got, err, res.FirstPosition)
	}
}

// Concurrent calls with the same events (a client retrying while its first
// request is still in flight, on several replicas) store them once, agree
// on where, and exactly one answers them as its own write, whatever the
// expected revision and however many events.
func TestConcurrentDuplicatesLandOnce(t *testing.T) {
	cases := []struct {
		name   string
		exp    eventstore.ExpectedRevision
		events int
	}{
		{"exact, one event", eventstore.Exact(1), 1},
		{"exact, three events", eventstore.Exact(1), 3},
		{"any, one event", eventstore.Any, 1},
		{"any, two events", eventstore.Any, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := kurrenttest.Start(t, kurrenttest.Options{})
			s := open(t, srv.URL(), kurrentstore.Options{})
			mustAppend(t, s, "dup", eventstore.NoStream, ev("First"))
			evs := make([]eventstore.EventData, c.events)
			for i := range evs {
				evs[i] = ev("Same")
			}
			const callers = 8
			results := make([]eventstore.AppendResult, callers)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() { results[i], errs[i] = s.Append(t.Context(), "dup", c.exp, evs...) })
			}
			wg.Wait()
			written := 0
			for i := range callers {
				if errs[i] != nil {
					t.Fatalf("caller %d: %v", i, errs[i])
				}
				if !results[i].Duplicate {
					written++
				}
				r := results[i]
				r.Duplicate = results[0].Duplicate
				if r != results[0] {
					t.Errorf("caller %d answered %+v, caller 0 %+v", i, results[i], results[0])
				}
			}
			if written != 1 {
				t.Errorf("%d callers answered the events as their own write, want 1", written)
			}
			for _, e := range evs {
				if n := srv.Copies(e.ID); n != 1 {
					t.Errorf("event %s is stored %d times", e.ID, n)
				}
			}
		})
	}
}

package boltstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/actionledger/actionledger/services/eventstore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "events.db")
		return func() (eventstore.Store, error) {
			return boltstore.Open(path, boltstore.Options{})
		}
	})
}

func openStore(t *testing.T, path string, opts boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, opts)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ev(typ, data string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(data)}
}

func appendN(t *testing.T, s *boltstore.Store, stream string, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Append(t.Context(), stream, eventstore.Exact(uint64(i)), ev("T", "payload")); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path, boltstore.Options{})
	const timeout = 200 * time.Millisecond
	start := time.Now()
	second, err := boltstore.Open(path, boltstore.Options{OpenTimeout: timeout})
	took := time.Since(start)
	if err == nil {
		_ = second.Close()
		t.Fatal("second Open of a file in use succeeded")
	}
	if !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), path) {
		t.Errorf("error does not say the file is locked: %v", err)
	}
	if took > timeout+2*time.Second {
		t.Errorf("second Open took %s, want about %s", took, timeout)
	}
	// The first store is unaffected.
	appendN(t, s, "still-works", 1)
}

func TestRefusesUnknownFormat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.db")
	s := openStore(t, path, boltstore.Options{})
	appendN(t, s, "x", 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(boltstore.BucketMeta).Put(boltstore.KeyVersion, []byte{99})
	})
	if _, err := boltstore.Open(path, boltstore.Options{}); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("open of a version-99 file: %v, want an unsupported version error", err)
	}

	foreign := filepath.Join(dir, "foreign.db")
	rawUpdate(t, foreign, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("someone-else"))
		return err
	})
	if _, err := boltstore.Open(foreign, boltstore.Options{}); err == nil || !strings.Contains(err.Error(), "not an event store") {
		t.Fatalf("open of a foreign bbolt file: %v, want a refusal", err)
	}
}

func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatalf("raw update: %v", err)
	}
	// The damage these tests make is to the file; the index image the last
	// Close wrote would let the next open skip the index bucket they damage.
	if err := os.Remove(path + boltstore.ImageSuffix); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path, boltstore.Options{})
	empty, err := s.Verify(t.Context())
	if err != nil || !empty.Intact() || empty.Count != 0 {
		t.Fatalf("verify empty store: %+v, %v", empty, err)
	}
	appendN(t, s, "a", 7)
	if _, err := s.Append(t.Context(), "b", eventstore.NoStream, ev("T", "one"), ev("T", "two"), ev("T", "three")); err != nil {
		t.Fatal(err)
	}
	res, err := s.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	last, _ := s.ReadAll(t.Context(), 9, 1)
	if !res.Intact() || res.Count != 10 || res.HeadHash != last[0].Hash {
		t.Fatalf("verify intact store: %+v, want intact, 10 events, head hash %x", res, last[0].Hash)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Flip one byte of the data of position 5: its last data byte sits just
	// before the two hashes that end every record.
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(boltstore.BucketEvents)
		v := append([]byte(nil), b.Get(boltstore.PosKey(5))...)
		v[len(v)-65] ^= 0x01
		return b.Put(boltstore.PosKey(5), v)
	})
	s = openStore(t, path, boltstore.Options{})
	res, err = s.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.BrokenAt != 5 || res.Count != 4 || res.Reason == "" {
		t.Fatalf("verify after flipping a data byte at 5: %+v, want broken at 5 after 4 intact", res)
	}
	got, err := s.ReadAll(t.Context(), 4, 1)
	if err != nil || string(got[0].Data) != "payloae" {
		t.Fatalf("tampered event reads as %q (%v), want the altered data", got[0].Data, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// An undecodable record is a break too, and reading it is an error, not a panic.
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(boltstore.BucketEvents)
		return b.Put(boltstore.PosKey(3), []byte{1, 2, 3})
	})
	s = openStore(t, path, boltstore.Options{})
	res, err = s.Verify(t.Context())
	if err != nil || res.BrokenAt != 3 || res.Count != 2 {
		t.Fatalf("verify after truncating record 3: %+v, %v; want broken at 3", res, err)
	}
	if _, err := s.ReadAll(t.Context(), 0, 10); err == nil || !strings.Contains(err.Error(), "position 3") {
		t.Fatalf("read over a corrupt record: %v, want an error naming position 3", err)
	}
}

// TestIndexBucketDamage checks that the index bucket is only an accelerator:
// a missing entry makes open rebuild from the records, and a wrong entry,
// which open cannot see without reading the whole log, is caught by Verify.
func TestIndexBucketDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path, boltstore.Options{})
	appendN(t, s, "a", 3)
	appendN(t, s, "b", 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Since format 2 an index entry holds a run of events (here all five,
	// written at close): Verify names the first position the lost entry held.
	var lostFrom uint64
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		k := boltstore.IndexEntryKey(tx, 5)
		lostFrom = binary.BigEndian.Uint64(k[:8])
		return tx.Bucket(boltstore.BucketIndex).Delete(k)
	})
	s = openStore(t, path, boltstore.Options{})
	if evs, err := s.ReadStream(t.Context(), "b", 0, 10); err != nil || len(evs) != 2 {
		t.Fatalf("stream b after losing an index entry: %d events, %v; want 2", len(evs), err)
	}
	if _, err := s.Append(t.Context(), "b", eventstore.Exact(2), ev("T", "")); err != nil {
		t.Fatalf("append after rebuilding the index: %v", err)
	}
	res, err := s.Verify(t.Context())
	if err != nil || res.BrokenAt != lostFrom {
		t.Fatalf("verify with a missing index entry: %+v, %v; want broken at %d", res, err, lostFrom)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// On a fresh store, since this one still lacks positions 1 to 5 in its
	// index: the last byte of an entry is its last event's stream.
	path = filepath.Join(t.TempDir(), "wrong.db")
	s = openStore(t, path, boltstore.Options{})
	appendN(t, s, "a", 3)
	appendN(t, s, "b", 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(boltstore.BucketIndex)
		k := boltstore.IndexEntryKey(tx, 5)
		v := append([]byte(nil), b.Get(k)...)
		v[len(v)-1] = 'z' // stream "b" -> "z"
		return b.Put(k, v)
	})
	s = openStore(t, path, boltstore.Options{})
	res, err = s.Verify(t.Context())
	if err != nil || res.BrokenAt != 5 || !strings.Contains(res.Reason, "index") {
		t.Fatalf("verify with a rewritten index entry: %+v, %v; want broken at 5", res, err)
	}
}

func TestRecordedAtNeverDecreases(t *testing.T) {
	base := time.Date(2015, 3, 1, 8, 0, 0, 0, time.UTC)
	var calls atomic.Int64
	// The clock jumps back an hour on every other call.
	clock := func() time.Time {
		n := calls.Add(1)
		if n%2 == 0 {
			return base.Add(time.Duration(n)*time.Second - time.Hour)
		}
		return base.Add(time.Duration(n) * time.Second)
	}
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path, boltstore.Options{Clock: clock})
	appendN(t, s, "clock", 6)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A reopened store remembers the last recorded_at, too.
	s = openStore(t, path, boltstore.Options{Clock: func() time.Time { return base }})
	if _, err := s.Append(t.Context(), "clock", eventstore.Any, ev("T", "")); err != nil {
		t.Fatal(err)
	}
	all, err := s.ReadAll(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !all[0].RecordedAt.Equal(base.Add(time.Second)) {
		t.Errorf("first recorded_at = %v, want the clock's %v", all[0].RecordedAt, base.Add(time.Second))
	}
	for i := 1; i < len(all); i++ {
		if all[i].RecordedAt.Before(all[i-1].RecordedAt) {
			t.Fatalf("recorded_at went back at position %d: %v after %v", all[i].Position, all[i].RecordedAt, all[i-1].RecordedAt)
		}
	}
}

// TestGroupCommitIsolatesRequests holds the writer inside one commit (its
// clock blocks), queues requests with different fates behind it, and checks
// they are committed in one transaction yet judged one by one.
func TestGroupCommitIsolatesRequests(t *testing.T) {
	gate := make(chan struct{})
	var calls atomic.Int64
	base := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		n := calls.Add(1)
		if n == 1 {
			<-gate
		}
		return base.Add(time.Duration(n) * time.Minute)
	}
	s := openStore(t, filepath.Join(t.TempDir(), "events.db"), boltstore.Options{Clock: clock})
	ctx := t.Context()

	type outcome struct {
		res eventstore.AppendResult
		err error
	}
	var wg sync.WaitGroup
	launchCtx := func(ctx context.Context, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) *outcome {
		o := &outcome{}
		wg.Go(func() { o.res, o.err = s.Append(ctx, stream, exp, evs...) })
		return o
	}
	launch := func(stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) *outcome {
		return launchCtx(ctx, stream, exp, evs...)
	}
	waitQueued := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for boltstore.QueueLen(s) < n {
			if time.Now().After(deadline) {
				t.Fatalf("queue holds %d requests, want %d", boltstore.QueueLen(s), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	first := launch("first", eventstore.NoStream, ev("T", "blocks the writer"))
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("writer never reached its clock")
		}
		time.Sleep(time.Millisecond)
	}

	e1 := ev("T", "e1")
	ok1 := launch("s", eventstore.NoStream, e1)
	waitQueued(1)
	conflict := launch("s", eventstore.NoStream, ev("T", "late"))
	waitQueued(2)
	elsewhere := launch("other", eventstore.NoStream, e1)
	waitQueued(3)
	retry := launch("s", eventstore.NoStream, e1)
	waitQueued(4)
	ok2 := launch("s", eventstore.Exact(1), ev("T", "e2"))
	waitQueued(5)
	// Cancelled once queued: it may commit, so it must wait and tell the truth.
	cctx, cancel := context.WithCancel(ctx)
	abandoned := launchCtx(cctx, "abandoned", eventstore.NoStream, ev("T", "still lands"))
	waitQueued(6)
	cancel()
	close(gate)
	wg.Wait()

	if first.err != nil {
		t.Fatalf("first: %v", first.err)
	}
	if ok1.err != nil || ok1.res.FirstRevision != 1 {
		t.Fatalf("ok1: %+v, %v", ok1.res, ok1.err)
	}
	var wre *eventstore.WrongRevisionError
	if !errors.As(conflict.err, &wre) || wre.Actual != 1 {
		t.Fatalf("conflict: %v, want a wrong revision with actual 1 (it must see ok1's write)", conflict.err)
	}
	if !errors.Is(elsewhere.err, eventstore.ErrDuplicateEventID) {
		t.Fatalf("same id to another stream: %v, want ErrDuplicateEventID", elsewhere.err)
	}
	want := ok1.res
	want.Duplicate = true
	if retry.err != nil || retry.res != want {
		t.Fatalf("retry in the same batch: %+v, %v; want %+v", retry.res, retry.err, want)
	}
	if ok2.err != nil || ok2.res.FirstRevision != 2 || ok2.res.FirstPosition != ok1.res.FirstPosition+1 {
		t.Fatalf("ok2: %+v, %v; want revision 2 right after ok1", ok2.res, ok2.err)
	}
	if abandoned.err != nil || abandoned.res.FirstPosition != ok2.res.FirstPosition+1 {
		t.Fatalf("append whose ctx was cancelled while queued: %+v, %v; want it committed after ok2", abandoned.res, abandoned.err)
	}
	all, err := s.ReadAll(ctx, 0, 10)
	if err != nil || len(all) != 4 {
		t.Fatalf("log: %d events, %v; want 4", len(all), err)
	}
	if !all[1].RecordedAt.Equal(all[3].RecordedAt) || all[0].RecordedAt.Equal(all[1].RecordedAt) {
		t.Fatalf("recorded_at %v %v %v: the queued requests were not committed together",
			all[0].RecordedAt, all[1].RecordedAt, all[3].RecordedAt)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d commits, want 2", n)
	}
}

func TestCloseFinishesQueuedAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := openStore(t, path, boltstore.Options{})
	const writers = 32
	var wg sync.WaitGroup
	var acked atomic.Int64
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			_, err := s.Append(context.Background(), "w", eventstore.Any, ev("T", string(rune('a'+w%26))))
			switch {
			case err == nil:
				acked.Add(1)
			case errors.Is(err, eventstore.ErrClosed):
			default:
				t.Errorf("append during close: %v", err)
			}
		})
	}
	close(start)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := s.Head(t.Context()); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("head after close: %v", err)
	}
	if _, err := s.ReadAll(t.Context(), 0, 1); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	s = openStore(t, path, boltstore.Options{})
	if h, _ := s.Head(t.Context()); h != uint64(acked.Load()) {
		t.Fatalf("%d appends acknowledged, %d stored", acked.Load(), h)
	}
}

// TestNoGoroutineLeak: subscriptions own no goroutine and Close stops the
// writer, so a used and closed store leaves nothing running.
func TestNoGoroutineLeak(t *testing.T) {
	baseline := runtime.NumGoroutine()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "leak", 3)
	ctx, cancel := context.WithCancel(t.Context())
	for range 10 {
		sub, err := s.Subscribe(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sub.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	blocked, err := s.Subscribe(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := blocked.Recv(); done <- err }()
	cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("blocked recv ended with %v, want ErrClosed", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after close, %d before open:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInvalidLimitsAndTimes(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if _, err := s.ReadAll(t.Context(), 0, 0); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("read all with limit 0: %v, want ErrInvalid", err)
	}
	if _, err := s.ReadStream(t.Context(), "x", 0, -1); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("read stream with limit -1: %v, want ErrInvalid", err)
	}
	far := ev("T", "")
	far.Meta.OccurredAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Append(t.Context(), "x", eventstore.Any, far); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("append with occurred_at in 3000: %v, want ErrInvalid (it cannot be stored)", err)
	}
	// A stream name may hold any byte, NUL included, without mixing with
	// the stream whose name is its prefix.
	if _, err := s.Append(t.Context(), "a\x00b", eventstore.NoStream, ev("T", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), "a", eventstore.NoStream, ev("T", "")); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ReadStream(t.Context(), "a", 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Stream != "a" {
		t.Fatalf("stream a: %+v, %v", evs, err)
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
)

func testAppendAndRead(t *testing.T, opener Opener) {
	s := open(t, opener)
	ctx := testCtx(t)

	if h := mustHead(t, s); h != 0 {
		t.Fatalf("head of empty store = %d, want 0", h)
	}
	if evs := readAll(t, s, 0); len(evs) != 0 {
		t.Fatalf("empty store: read all returned %d events", len(evs))
	}
	if evs := readStream(t, s, "nobody"); len(evs) != 0 {
		t.Fatalf("missing stream read %d events, want none", len(evs))
	}

	// Interleave appends to three streams, one of them multi-event.
	type step struct {
		stream string
		evs    []eventstore.EventData
	}
	steps := []step{
		{"order-a", events(1, "A")},
		{"order-b", events(3, "B")},
		{"order-a", events(1, "A")},
		{"order-c", events(1, "C")},
		{"order-a", events(1, "A")},
		{"order-c", events(1, "C")},
	}
	var appended []eventstore.EventData
	streamOf := map[uuid.UUID]string{}
	revs := map[string]uint64{}
	var lastPos uint64
	for _, st := range steps {
		res := mustAppend(t, s, st.stream, eventstore.Exact(revs[st.stream]), st.evs...)
		if res.FirstRevision != revs[st.stream]+1 {
			t.Fatalf("append to %q: first revision %d, want %d", st.stream, res.FirstRevision, revs[st.stream]+1)
		}
		if res.FirstPosition <= lastPos {
			t.Fatalf("append to %q: first position %d not after previous last position %d", st.stream, res.FirstPosition, lastPos)
		}
		revs[st.stream] = res.LastRevision
		lastPos = res.LastPosition
		appended = append(appended, st.evs...)
		for _, ev := range st.evs {
			streamOf[ev.ID] = st.stream
		}
	}

	all := readAll(t, s, 0)
	if len(all) != len(appended) {
		t.Fatalf("read all: %d events, want %d", len(all), len(appended))
	}
	checkLog(t, all, true)
	nextRev := map[string]uint64{}
	for i, ev := range all {
		if d := diffData(ev, appended[i]); d != "" {
			t.Errorf("read all: event %d not in append order: %s", i, d)
		}
		nextRev[ev.Stream]++
		if ev.Stream != streamOf[ev.ID] || ev.Revision != nextRev[ev.Stream] {
			t.Errorf("read all: event %d at %q/%d, want %q/%d", i, ev.Stream, ev.Revision, streamOf[ev.ID], nextRev[ev.Stream])
		}
	}
	if h := mustHead(t, s); h != lastPos || h != all[len(all)-1].Position {
		t.Fatalf("head = %d, want last position %d", h, lastPos)
	}

	// Every stream reads as revisions 1..n, identical to the global log's copy.
	byPos := map[uint64]eventstore.RecordedEvent{}
	for _, ev := range all {
		byPos[ev.Position] = ev
	}
	for stream, rev := range revs {
		evs := readStream(t, s, stream)
		if uint64(len(evs)) != rev {
			t.Fatalf("stream %q: %d events, want %d", stream, len(evs), rev)
		}
		for i, ev := range evs {
			if ev.Revision != uint64(i+1) {
				t.Errorf("stream %q: event %d has revision %d", stream, i, ev.Revision)
			}
			if d := diffEvent(ev, byPos[ev.Position]); d != "" {
				t.Errorf("stream %q revision %d differs from read all: %s", stream, ev.Revision, d)
			}
		}
	}

	// after is exclusive and limit caps.
	page, err := s.ReadStream(ctx, "order-b", 1, 1)
	if err != nil || len(page) != 1 || page[0].Revision != 2 {
		t.Fatalf("read stream order-b after 1 limit 1 = %d events (%v), want revision 2", len(page), err)
	}
	page, err = s.ReadStream(ctx, "order-b", 1, 10)
	if err != nil || len(page) != 2 || page[0].Revision != 2 || page[1].Revision != 3 {
		t.Fatalf("read stream order-b after 1 = %d events (%v), want revisions 2,3", len(page), err)
	}
	if page, err = s.ReadStream(ctx, "order-b", 3, 10); err != nil || len(page) != 0 {
		t.Fatalf("read stream order-b after its last revision = %d events (%v), want none", len(page), err)
	}
	if page, err = s.ReadStream(ctx, "order", 0, 10); err != nil || len(page) != 0 {
		t.Fatalf("stream whose name is a prefix of others read %d events (%v), want none", len(page), err)
	}
	page, err = s.ReadAll(ctx, all[3].Position, 2)
	if err != nil || len(page) != 2 || page[0].Position != all[4].Position || page[1].Position != all[5].Position {
		t.Fatalf("read all after position %d limit 2 = %d events (%v), want positions %d,%d",
			all[3].Position, len(page), err, all[4].Position, all[5].Position)
	}
	if page, err = s.ReadAll(ctx, lastPos, 10); err != nil || len(page) != 0 {
		t.Fatalf("read all after head = %d events (%v), want none", len(page), err)
	}
}

func testExpectedRevision(t *testing.T, opener Opener) {
	s := open(t, opener)
	ctx := testCtx(t)
	const st = "exp"

	mustAppend(t, s, st, eventstore.NoStream, event("E", "1"))
	_, err := s.Append(ctx, st, eventstore.NoStream, event("E", "x"))
	wantWrongRevision(t, err, 1)

	mustAppend(t, s, st, eventstore.Exact(1), event("E", "2"))
	_, err = s.Append(ctx, st, eventstore.Exact(1), event("E", "x"))
	wantWrongRevision(t, err, 2)
	_, err = s.Append(ctx, st, eventstore.Exact(5), event("E", "x"))
	wantWrongRevision(t, err, 2)
	_, err = s.Append(ctx, st, eventstore.Exact(0), event("E", "x"))
	wantWrongRevision(t, err, 2)

	_, err = s.Append(ctx, "exp-missing", eventstore.StreamExists, event("E", "x"))
	wantWrongRevision(t, err, 0)
	_, err = s.Append(ctx, "exp-missing", eventstore.Exact(3), event("E", "x"))
	wantWrongRevision(t, err, 0)
	res := mustAppend(t, s, st, eventstore.StreamExists, event("E", "3"))
	if res.FirstRevision != 3 {
		t.Fatalf("StreamExists append landed at revision %d, want 3", res.FirstRevision)
	}

	res = mustAppend(t, s, st, eventstore.Any, event("E", "4"))
	if res.FirstRevision != 4 {
		t.Fatalf("Any append landed at revision %d, want 4", res.FirstRevision)
	}
	res = mustAppend(t, s, "exp-any", eventstore.Any, event("E", "1"))
	if res.FirstRevision != 1 {
		t.Fatalf("Any append to a new stream landed at revision %d, want 1", res.FirstRevision)
	}
	res = mustAppend(t, s, "exp-zero", eventstore.Exact(0), event("E", "1"))
	if res.FirstRevision != 1 {
		t.Fatalf("Exact(0) append to a new stream landed at revision %d, want 1", res.FirstRevision)
	}

	// Refused appends wrote nothing.
	if n := len(readStream(t, s, st)); n != 4 {
		t.Fatalf("stream %q has %d events, want 4", st, n)
	}
	if n := len(readStream(t, s, "exp-missing")); n != 0 {
		t.Fatalf("refused appends created stream exp-missing with %d events", n)
	}
	if n := len(readAll(t, s, 0)); n != 6 {
		t.Fatalf("log has %d events, want 6", n)
	}
}

func testEnvelope(t *testing.T, opener Opener) {
	s := open(t, opener)
	zone := time.FixedZone("WAT", 3600)
	full := eventstore.EventData{
		ID:   uuid.New(),
		Type: "ActionPointRaised",
		Data: []byte{0, 1, 2, 0xff, 0xfe, '{', '}', 0},
		Meta: eventstore.Metadata{
			OccurredAt:     time.Date(2015, 2, 14, 9, 30, 15, 123456789, zone),
			ActorID:        "mob-0042",
			ActorRole:      "mobilizer",
			CorrelationID:  "corr-7",
			CausationID:    "cause-9",
			IdempotencyKey: "idem-Ξ-\x00-key",
			RequestHash:    []byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 1},
		},
	}
	bare := eventstore.EventData{ID: uuid.New(), Type: "Bare"}
	unicode := eventstore.EventData{
		ID:   uuid.New(),
		Type: "Feedback·Received",
		Data: []byte(`{"text":"Kɔmɔti — trust 🌍"}`),
		Meta: eventstore.Metadata{OccurredAt: time.Date(2016, 1, 1, 0, 0, 0, 1, time.UTC), ActorID: "ɔ"},
	}
	mustAppend(t, s, "env-1", eventstore.NoStream, full, bare)
	mustAppend(t, s, "env-2", eventstore.NoStream, unicode)
	want := []eventstore.EventData{full, bare, unicode}

	all := readAll(t, s, 0)
	if len(all) != len(want) {
		t.Fatalf("read all: %d events, want %d", len(all), len(want))
	}
	checkLog(t, all, true)
	for i := range want {
		if d := diffData(all[i], want[i]); d != "" {
			t.Errorf("event %d (%s) did not round-trip: %s", i, want[i].Type, d)
		}
	}
	if !all[1].Meta.OccurredAt.IsZero() {
		t.Errorf("zero occurred_at came back as %v", all[1].Meta.OccurredAt)
	}
	env1 := readStream(t, s, "env-1")
	sameEvents(t, "stream env-1 vs read all", env1, all[:2])

	// Returned events are the caller's: mutating them must not change the store.
	all[0].Data[0] = 0x55
	all[0].Meta.RequestHash[0] = 0x55
	again := readAll(t, s, 0)
	if d := diffData(again[0], full); d != "" {
		t.Errorf("mutating a returned event changed the stored one: %s", d)
	}
}

func testConcurrentSameStream(t *testing.T, opener Opener) {
	s := open(t, opener)
	const (
		writers   = 16
		target    = 120 // successful appends wanted in total
		maxPerGor = 400 // attempts per goroutine before giving up
		st        = "contended"
	)
	var (
		mu        sync.Mutex
		byRev     = map[uint64]uuid.UUID{}
		successes atomic.Int64
		failures  = make(chan error, writers)
		wg        sync.WaitGroup
	)
	ctx := testCtx(t)
	for w := range writers {
		wg.Go(func() {
			var rev uint64 // what this writer believes the stream's revision is
			for attempt := 0; attempt < maxPerGor && successes.Load() < target; attempt++ {
				ev := event("Bump", fmt.Sprintf("w%d-a%d", w, attempt))
				res, err := s.Append(ctx, st, eventstore.Exact(rev), ev)
				var wre *eventstore.WrongRevisionError
				switch {
				case err == nil:
					if res.FirstRevision != rev+1 || res.LastRevision != rev+1 {
						failures <- fmt.Errorf("writer %d: Exact(%d) landed at %+v", w, rev, res)
						return
					}
					mu.Lock()
					prev, dup := byRev[res.FirstRevision]
					byRev[res.FirstRevision] = ev.ID
					mu.Unlock()
					if dup {
						failures <- fmt.Errorf("revision %d granted twice (events %s and %s)", res.FirstRevision, prev, ev.ID)
						return
					}
					successes.Add(1)
					rev = res.LastRevision
				case errors.As(err, &wre) && errors.Is(err, eventstore.ErrWrongRevision):
					if wre.Actual <= rev {
						failures <- fmt.Errorf("writer %d: conflict at Exact(%d) reports actual %d, which is not ahead", w, rev, wre.Actual)
						return
					}
					rev = wre.Actual
				default:
					failures <- fmt.Errorf("writer %d: unexpected error: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	evs := readStream(t, s, st)
	if got := int64(len(evs)); got != successes.Load() {
		t.Fatalf("stream has %d events, but %d appends succeeded", got, successes.Load())
	}
	if successes.Load() < target {
		t.Fatalf("only %d of %d appends succeeded: writers starved", successes.Load(), target)
	}
	for i, ev := range evs {
		if ev.Revision != uint64(i+1) {
			t.Fatalf("event %d has revision %d", i, ev.Revision)
		}
		if byRev[ev.Revision] != ev.ID {
			t.Fatalf("revision %d holds %s, but the append that got it wrote %s", ev.Revision, ev.ID, byRev[ev.Revision])
		}
	}
}

func testConcurrentDistinctStreams(t *testing.T, opener Opener) {
	s := open(t, opener)
	const (
		writers = 64
		each    = 6
	)
	ctx := testCtx(t)
	type landed struct {
		stream string
		res    eventstore.AppendResult
		id     uuid.UUID
	}
	results := make([][]landed, writers)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			stream := fmt.Sprintf("writer-%02d", w)
			for i := range each {
				ev := event("Tick", fmt.Sprintf("%s/%d", stream, i))
				res, err := s.Append(ctx, stream, eventstore.Exact(uint64(i)), ev)
				if err != nil {
					errs <- fmt.Errorf("%s append %d: %w", stream, i, err)
					return
				}
				results[w] = append(results[w], landed{stream, res, ev.ID})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	all := readAll(t, s, 0)
	if len(all) != writers*each {
		t.Fatalf("log has %d events, want %d", len(all), writers*each)
	}
	checkLog(t, all, true)
	byPos := map[uint64]eventstore.RecordedEvent{}
	for _, ev := range all {
		byPos[ev.Position] = ev
	}
	for w := range writers {
		var prevPos uint64
		for i, l := range results[w] {
			if l.res.FirstRevision != uint64(i+1) {
				t.Errorf("%s append %d landed at revision %d", l.stream, i, l.res.FirstRevision)
			}
			if l.res.FirstPosition <= prevPos {
				t.Errorf("%s append %d at position %d, not after its previous append at %d", l.stream, i, l.res.FirstPosition, prevPos)
			}
			prevPos = l.res.FirstPosition
			ev, ok := byPos[l.res.FirstPosition]
			if !ok || ev.ID != l.id || ev.Stream != l.stream || ev.Revision != uint64(i+1) {
				t.Errorf("%s append %d: position %d holds %s %q/%d", l.stream, i, l.res.FirstPosition, ev.ID, ev.Stream, ev.Revision)
			}
		}
	}
}

func testIdempotentRetry(t *testing.T, opener Opener) {
	s := open(t, opener)
	ctx := testCtx(t)
	const st = "retry"

	mustAppend(t, s, "retry-other", eventstore.NoStream, event("X", "before"))
	evs := events(3, "R")
	orig := mustAppend(t, s, st, eventstore.NoStream, evs...)
	head := mustHead(t, s)
	logLen := len(readAll(t, s, 0))

	wantDup := func(what string, res eventstore.AppendResult, err error, want eventstore.AppendResult) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v, want a duplicate", what, err)
		}
		want.Duplicate = true
		if res != want {
			t.Fatalf("%s: result %+v, want %+v", what, res, want)
		}
	}
	wroteNothing := func(what string) {
		t.Helper()
		if h := mustHead(t, s); h != head {
			t.Fatalf("%s: head moved from %d to %d", what, head, h)
		}
		if n := len(readAll(t, s, 0)); n != logLen {
			t.Fatalf("%s: log grew from %d to %d events", what, logLen, n)
		}
	}

	res, err := s.Append(ctx, st, eventstore.NoStream, evs...)
	wantDup("retry with the same expected revision", res, err, orig)
	res, err = s.Append(ctx, st, eventstore.Any, evs...)
	wantDup("retry with Any", res, err, orig)
	res, err = s.Append(ctx, st, eventstore.NoStream, evs[:2]...)
	wantDup("retry of a prefix", res, err, eventstore.AppendResult{
		FirstRevision: 1, LastRevision: 2, FirstPosition: orig.FirstPosition, LastPosition: readStream(t, s, st)[1].Position})
	res, err = s.Append(ctx, st, eventstore.Exact(1), evs[1:]...)
	wantDup("retry of a suffix", res, err, eventstore.AppendResult{
		FirstRevision: 2, LastRevision: 3, FirstPosition: readStream(t, s, st)[1].Position, LastPosition: orig.LastPosition})
	wroteNothing("retries")

	_, err = s.Append(ctx, st, eventstore.Exact(7), evs...)
	wantWrongRevision(t, err, 3)
	_, err = s.Append(ctx, "retry-elsewhere", eventstore.NoStream, evs...)
	wantErr(t, err, eventstore.ErrDuplicateEventID, "same ids to another stream")
	_, err = s.Append(ctx, "retry-other", eventstore.Any, evs[0])
	wantErr(t, err, eventstore.ErrDuplicateEventID, "stored id to an existing other stream")
	_, err = s.Append(ctx, st, eventstore.Exact(2), evs[2], event("R", "new"))
	wantErr(t, err, eventstore.ErrDuplicateEventID, "stored id followed by a new one")
	_, err = s.Append(ctx, st, eventstore.Exact(3), event("R", "new"), evs[2])
	wantErr(t, err, eventstore.ErrDuplicateEventID, "new id followed by a stored one")
	_, err = s.Append(ctx, st, eventstore.NoStream, evs[1], evs[0], evs[2])
	wantErr(t, err, eventstore.ErrDuplicateEventID, "stored ids out of order")
	_, err = s.Append(ctx, st, eventstore.NoStream, evs[0], evs[2])
	wantErr(t, err, eventstore.ErrDuplicateEventID, "stored ids with a gap")
	wroteNothing("refused retries")

	// A retry stays a retry after the stream has moved on.
	mustAppend(t, s, st, eventstore.Exact(3), event("R", "4"))
	res, err = s.Append(ctx, st, eventstore.NoStream, evs...)
	wantDup("retry after the stream moved on", res, err, orig)

	// Concurrent retries of one new append: exactly one writes.
	fresh := events(2, "C")
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		writes int
		seen   []eventstore.AppendResult
	)
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			res, err := s.Append(ctx, "retry-race", eventstore.NoStream, fresh...)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !res.Duplicate {
				writes++
			}
			res.Duplicate = false
			seen = append(seen, res)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent retry: %v", err)
	}
	if writes != 1 {
		t.Fatalf("concurrent retries: %d wrote, want exactly 1", writes)
	}
	for _, r := range seen[1:] {
		if r != seen[0] {
			t.Fatalf("concurrent retries disagree on the result: %+v vs %+v", r, seen[0])
		}
	}
	if n := len(readStream(t, s, "retry-race")); n != 2 {
		t.Fatalf("concurrent retries left %d events, want 2", n)
	}
}

func testInvalid(t *testing.T, opener Opener) {
	s := open(t, opener)
	ctx := testCtx(t)
	dup := event("D", "")
	cases := []struct {
		name   string
		stream string
		evs    []eventstore.EventData
	}{
		{"empty stream name", "", events(1, "T")},
		{"no events", "inv", nil},
		{"nil id", "inv", []eventstore.EventData{{Type: "T"}}},
		{"empty type", "inv", []eventstore.EventData{{ID: uuid.New()}}},
		{"one id twice", "inv", []eventstore.EventData{dup, dup}},
		{"bad event after a good one", "inv", []eventstore.EventData{event("T", ""), {ID: uuid.New()}}},
	}
	for _, c := range cases {
		_, err := s.Append(ctx, c.stream, eventstore.Any, c.evs...)
		wantErr(t, err, eventstore.ErrInvalid, c.name)
	}
	if h := mustHead(t, s); h != 0 {
		t.Fatalf("invalid appends moved the head to %d", h)
	}
}

func testContext(t *testing.T, opener Opener) {
	s := open(t, opener)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Append(ctx, "ctx", eventstore.Any, event("T", ""))
	wantErr(t, err, context.Canceled, "append with a cancelled context")
	if h := mustHead(t, s); h != 0 {
		t.Fatalf("append with a cancelled context moved the head to %d", h)
	}
	_, err = s.ReadAll(ctx, 0, 10)
	wantErr(t, err, context.Canceled, "read all with a cancelled context")
	_, err = s.ReadStream(ctx, "ctx", 0, 10)
	wantErr(t, err, context.Canceled, "read stream with a cancelled context")
}

// subscriber drains a subscription on its own goroutine, so the test can
// append while it reads.
type subscriber struct {
	got  chan eventstore.RecordedEvent
	done chan error
}

func startSubscriber(t *testing.T, s eventstore.Store, after uint64, want int) *subscriber {
	t.Helper()
	sub, err := s.Subscribe(testCtx(t), after)
	if err != nil {
		t.Fatalf("subscribe after %d: %v", after, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	r := &subscriber{got: make(chan eventstore.RecordedEvent, want), done: make(chan error, 1)}
	go func() {
		for range want {
			ev, err := sub.Recv()
			if err != nil {
				r.done <- err
				return
			}
			r.got <- ev
		}
		r.done <- nil
	}()
	return r
}

// wait returns the events received, failing if fewer than wanted arrived.
func (r *subscriber) wait(t *testing.T, what string) []eventstore.RecordedEvent {
	t.Helper()
	var err error
	select {
	case err = <-r.done:
	case <-time.After(waitLimit):
		err = fmt.Errorf("still waiting after %s", waitLimit)
	}
	var out []eventstore.RecordedEvent
	for len(r.got) > 0 {
		out = append(out, <-r.got)
	}
	if err != nil {
		t.Fatalf("%s: after %d events: %v", what, len(out), err)
	}
	return out
}

func testSubscribeCatchUpThenLive(t *testing.T, opener Opener) {
	s := open(t, opener)
	const (
		before  = 30
		writers = 4
		each    = 15 // appends per writer, alternating one and two events
	)
	for i := range before {
		mustAppend(t, s, fmt.Sprintf("sub-%d", i%3), eventstore.Any, event("Pre", fmt.Sprint(i)))
	}
	live := 0
	for i := range each {
		live += writers * (1 + i%2)
	}
	fromStart := startSubscriber(t, s, 0, before+live)
	fromHead := startSubscriber(t, s, mustHead(t, s), live)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	ctx := testCtx(t)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				evs := events(1+i%2, "Live")
				if _, err := s.Append(ctx, fmt.Sprintf("live-%d", w), eventstore.Any, evs...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("live append: %v", err)
	}

	all := readAll(t, s, 0)
	if len(all) != before+live {
		t.Fatalf("log has %d events, want %d", len(all), before+live)
	}
	sameEvents(t, "subscription from 0 vs read all", fromStart.wait(t, "subscription from 0"), all)
	sameEvents(t, "subscription from head vs read all", fromHead.wait(t, "subscription from head"), all[before:])
}

func testSubscribeFromMiddle(t *testing.T, opener Opener) {
	s := open(t, opener)
	for i := range 10 {
		mustAppend(t, s, "mid", eventstore.Exact(uint64(i)), event("M", fmt.Sprint(i)))
	}
	all := readAll(t, s, 0)
	r := startSubscriber(t, s, all[4].Position, 6)
	mustAppend(t, s, "mid", eventstore.Exact(10), event("M", "10"))
	all = readAll(t, s, 0)
	sameEvents(t, "subscription from the middle", r.wait(t, "subscription from the middle"), all[5:])
}

func testSubscribeEnds(t *testing.T, opener Opener) {
	t.Run("ContextCancel", func(t *testing.T) {
		s := open(t, opener)
		mustAppend(t, s, "end", eventstore.NoStream, event("E", ""))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		sub, err := s.Subscribe(ctx, 0)
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		defer sub.Close()
		err = recvErr(t, sub, cancel)
		wantErr(t, err, context.Canceled, "recv after the subscription's context was cancelled")
	})
	t.Run("SubscriptionClose", func(t *testing.T) {
		s := open(t, opener)
		sub, err := s.Subscribe(testCtx(t), 0)
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		err = recvErr(t, sub, func() { _ = sub.Close() })
		wantErr(t, err, eventstore.ErrClosed, "recv after the subscription was closed")
	})
	t.Run("StoreClose", func(t *testing.T) {
		s := open(t, opener)
		sub, err := s.Subscribe(testCtx(t), 0)
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		defer sub.Close()
		err = recvErr(t, sub, func() {
			if err := s.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
		wantErr(t, err, eventstore.ErrClosed, "recv after the store was closed")
	})
}

func testReopen(t *testing.T, opener Opener) {
	s := open(t, opener)
	full := event("Full", `{"k":"v"}`)
	full.Meta = eventstore.Metadata{
		OccurredAt: time.Date(2015, 6, 1, 12, 0, 0, 5, time.UTC), ActorID: "a", ActorRole: "coordinator",
		CorrelationID: "c", CausationID: "d", IdempotencyKey: "k", RequestHash: []byte{1, 2, 3},
	}
	retried := events(2, "Retried")
	mustAppend(t, s, "keep-1", eventstore.NoStream, full)
	orig := mustAppend(t, s, "keep-2", eventstore.NoStream, retried...)
	mustAppend(t, s, "keep-1", eventstore.Exact(1), events(2, "More")...)
	before := readAll(t, s, 0)
	head := mustHead(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := s.Append(t.Context(), "keep-1", eventstore.Any, event("Late", "")); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	_ = s.Close() // a second Close must not panic

	s = open(t, opener)
	after := readAll(t, s, 0)
	sameEvents(t, "log after reopen", after, before)
	if h := mustHead(t, s); h != head {
		t.Fatalf("head after reopen = %d, want %d", h, head)
	}
	sameEvents(t, "stream keep-1 after reopen", readStream(t, s, "keep-1"), []eventstore.RecordedEvent{before[0], before[3], before[4]})

	res, err := s.Append(testCtx(t), "keep-2", eventstore.NoStream, retried...)
	if err != nil || !res.Duplicate {
		t.Fatalf("retry after reopen: %+v, %v; want a duplicate", res, err)
	}
	res.Duplicate = false
	if res != orig {
		t.Fatalf("retry after reopen: result %+v, want %+v", res, orig)
	}

	res = mustAppend(t, s, "keep-1", eventstore.Exact(3), event("After", ""))
	if res.FirstRevision != 4 || res.FirstPosition <= head {
		t.Fatalf("append after reopen landed at revision %d position %d, want revision 4 after position %d",
			res.FirstRevision, res.FirstPosition, head)
	}
	// The chain, positions and recorded_at continue across the reopen.
	checkLog(t, readAll(t, s, 0), true)
}

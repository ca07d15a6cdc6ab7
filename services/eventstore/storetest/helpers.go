package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
)

// waitLimit bounds every blocking wait in the suite, so that a hung adapter
// fails with a message instead of stalling until the test binary's timeout.
const waitLimit = 20 * time.Second

// pageSize is the limit used to read whole logs and streams in pages.
const pageSize = 1000

// open opens the storage and closes it when the test ends. Closing twice is
// harmless (tests that close explicitly leave the cleanup to do nothing).
func open(t *testing.T, opener Opener) eventstore.Store {
	t.Helper()
	s, err := opener()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testCtx is cancelled when the test ends or after waitLimit.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// event builds an event whose payload names it, so failures are readable.
func event(typ, data string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(data)}
}

func events(n int, typ string) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = event(typ, fmt.Sprintf(`{"n":%d}`, i))
	}
	return out
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(testCtx(t), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append %d event(s) to %q expecting %s: %v", len(evs), stream, exp, err)
	}
	if res.Duplicate {
		t.Fatalf("append to %q expecting %s: fresh events reported as duplicate: %+v", stream, exp, res)
	}
	if got, want := res.LastRevision-res.FirstRevision+1, uint64(len(evs)); got != want {
		t.Fatalf("append to %q: result %+v spans %d revisions, want %d", stream, res, got, want)
	}
	if res.FirstPosition == 0 || res.LastPosition < res.FirstPosition {
		t.Fatalf("append to %q: result %+v has impossible positions", stream, res)
	}
	return res
}

func mustHead(t *testing.T, s eventstore.Store) uint64 {
	t.Helper()
	h, err := s.Head(testCtx(t))
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	return h
}

// readAll reads the whole log after `after`, page by page.
func readAll(t *testing.T, s eventstore.Store, after uint64) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	for {
		page, err := s.ReadAll(testCtx(t), after, pageSize)
		if err != nil {
			t.Fatalf("read all after %d: %v", after, err)
		}
		if len(page) > pageSize {
			t.Fatalf("read all after %d: %d events for limit %d", after, len(page), pageSize)
		}
		out = append(out, page...)
		if len(page) < pageSize {
			return out
		}
		after = page[len(page)-1].Position
	}
}

func readStream(t *testing.T, s eventstore.Store, stream string) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	var after uint64
	for {
		page, err := s.ReadStream(testCtx(t), stream, after, pageSize)
		if err != nil {
			t.Fatalf("read stream %q after %d: %v", stream, after, err)
		}
		out = append(out, page...)
		if len(page) < pageSize {
			return out
		}
		after = page[len(page)-1].Revision
	}
}

// checkLog checks what every read of the global log must satisfy: positions
// strictly increasing, recorded_at never decreasing, and, for adapters that
// chain, an unbroken chain. fromStart says evs begins at the start of the log.
func checkLog(t *testing.T, evs []eventstore.RecordedEvent, fromStart bool) {
	t.Helper()
	chained := false
	for _, ev := range evs {
		if ev.Hash != ([32]byte{}) {
			chained = true
			break
		}
	}
	for i, ev := range evs {
		if ev.RecordedAt.IsZero() {
			t.Errorf("position %d: recorded_at is zero", ev.Position)
		}
		if i == 0 {
			if chained && fromStart && ev.PrevHash != ([32]byte{}) {
				t.Errorf("position %d: first event of the log has prev hash %x, want zero", ev.Position, ev.PrevHash)
			}
		} else {
			prev := evs[i-1]
			if ev.Position <= prev.Position {
				t.Errorf("position %d follows %d: positions must strictly increase", ev.Position, prev.Position)
			}
			if ev.RecordedAt.Before(prev.RecordedAt) {
				t.Errorf("position %d: recorded_at %v is before the previous event's %v", ev.Position, ev.RecordedAt, prev.RecordedAt)
			}
			if chained && ev.PrevHash != prev.Hash {
				t.Errorf("position %d: prev hash %x is not the previous event's hash %x", ev.Position, ev.PrevHash, prev.Hash)
			}
		}
		if chained {
			if want := eventstore.ChainHash(ev.PrevHash, &ev); ev.Hash != want {
				t.Errorf("position %d: hash %x, want ChainHash %x", ev.Position, ev.Hash, want)
			}
		}
	}
}

// diffData lists how a recorded event differs from the data that was
// appended. Times are compared as instants: adapters may change the location.
func diffData(got eventstore.RecordedEvent, want eventstore.EventData) string {
	var d []string
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s: got %v, want %v", field, g, w)) }
	if got.ID != want.ID {
		add("id", got.ID, want.ID)
	}
	if got.Type != want.Type {
		add("type", got.Type, want.Type)
	}
	if !bytes.Equal(got.Data, want.Data) {
		add("data", got.Data, want.Data)
	}
	gm, wm := got.Meta, want.Meta
	if !gm.OccurredAt.Equal(wm.OccurredAt) {
		add("occurred_at", gm.OccurredAt, wm.OccurredAt)
	}
	if gm.ActorID != wm.ActorID {
		add("actor_id", gm.ActorID, wm.ActorID)
	}
	if gm.ActorRole != wm.ActorRole {
		add("actor_role", gm.ActorRole, wm.ActorRole)
	}
	if gm.CorrelationID != wm.CorrelationID {
		add("correlation_id", gm.CorrelationID, wm.CorrelationID)
	}
	if gm.CausationID != wm.CausationID {
		add("causation_id", gm.CausationID, wm.CausationID)
	}
	if gm.IdempotencyKey != wm.IdempotencyKey {
		add("idempotency_key", gm.IdempotencyKey, wm.IdempotencyKey)
	}
	if !bytes.Equal(gm.RequestHash, wm.RequestHash) {
		add("request_hash", gm.RequestHash, wm.RequestHash)
	}
	return strings.Join(d, "; ")
}

// diffEvent lists how two reads of a recorded event differ.
func diffEvent(got, want eventstore.RecordedEvent) string {
	d := []string{}
	if s := diffData(got, want.EventData); s != "" {
		d = append(d, s)
	}
	add := func(field string, g, w any) { d = append(d, fmt.Sprintf("%s: got %v, want %v", field, g, w)) }
	if got.Stream != want.Stream {
		add("stream", got.Stream, want.Stream)
	}
	if got.Revision != want.Revision {
		add("revision", got.Revision, want.Revision)
	}
	if got.Position != want.Position {
		add("position", got.Position, want.Position)
	}
	if !got.RecordedAt.Equal(want.RecordedAt) {
		add("recorded_at", got.RecordedAt, want.RecordedAt)
	}
	if got.PrevHash != want.PrevHash {
		add("prev_hash", got.PrevHash, want.PrevHash)
	}
	if got.Hash != want.Hash {
		add("hash", got.Hash, want.Hash)
	}
	return strings.Join(d, "; ")
}

func sameEvents(t *testing.T, what string, got, want []eventstore.RecordedEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := diffEvent(got[i], want[i]); d != "" {
			t.Errorf("%s: event %d: %s", what, i, d)
		}
	}
}

// wantWrongRevision checks err is a wrong-revision error reporting actual.
func wantWrongRevision(t *testing.T, err error, actual uint64) {
	t.Helper()
	if !errors.Is(err, eventstore.ErrWrongRevision) {
		t.Fatalf("got error %v, want ErrWrongRevision", err)
	}
	var wre *eventstore.WrongRevisionError
	if !errors.As(err, &wre) {
		t.Fatalf("error %v is ErrWrongRevision but not a *WrongRevisionError", err)
	}
	if wre.Actual != actual {
		t.Fatalf("WrongRevisionError.Actual = %d, want %d (%v)", wre.Actual, actual, err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// recv receives one event or fails; the subscription's context bounds it.
func recv(t *testing.T, sub eventstore.Subscription, what string) eventstore.RecordedEvent {
	t.Helper()
	ev, err := sub.Recv()
	if err != nil {
		t.Fatalf("%s: recv: %v", what, err)
	}
	return ev
}

// recvErr runs a Recv that is expected to block until trigger is called, and
// returns its error.
func recvErr(t *testing.T, sub eventstore.Subscription, trigger func()) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		for {
			_, err := sub.Recv()
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	trigger()
	select {
	case err := <-errc:
		return err
	case <-time.After(waitLimit):
		t.Fatalf("Recv did not return within %s", waitLimit)
		return nil
	}
}

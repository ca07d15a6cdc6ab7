package pubsub_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
)

const waitFor = 5 * time.Second

// openStore opens a fresh embedded store that is closed when the test ends.
func openStore(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newSubscriber(t *testing.T, store eventstore.Store, cfg pubsub.SubscriberConfig, logger watermill.LoggerAdapter) *pubsub.Subscriber {
	t.Helper()
	sub, err := pubsub.NewSubscriber(store, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func newPublisher(t *testing.T, store eventstore.Store) *pubsub.Publisher {
	t.Helper()
	pub, err := pubsub.NewPublisher(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	return pub
}

// domainEvent is an event as the application would append it.
func domainEvent(typ string, data string) eventstore.EventData {
	return eventstore.EventData{
		ID:   uuid.New(),
		Type: typ,
		Data: []byte(data),
		Meta: eventstore.Metadata{
			OccurredAt:     time.Date(2015, 2, 14, 9, 30, 15, 123456789, time.UTC),
			ActorID:        "u-mob-7",
			ActorRole:      "mobilizer",
			CorrelationID:  "corr-" + data,
			CausationID:    "cause-" + data,
			IdempotencyKey: "idem-" + data,
			RequestHash:    []byte{1, 2, 3},
		},
	}
}

// appendTo appends one event to stream and returns it as recorded.
func appendTo(t *testing.T, s eventstore.Store, stream string, ev eventstore.EventData) eventstore.RecordedEvent {
	t.Helper()
	res, err := s.Append(context.Background(), stream, eventstore.Any, ev)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	got, err := s.ReadAll(context.Background(), res.FirstPosition-1, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("read back position %d: %v (%d events)", res.FirstPosition, err, len(got))
	}
	return got[0]
}

// recv returns the next message or fails the test.
func recv(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if !ok {
			t.Fatal("messages channel closed")
		}
		return msg
	case <-time.After(waitFor):
		t.Fatal("no message within", waitFor)
	}
	return nil
}

// expectNone fails if a message arrives within d.
func expectNone(t *testing.T, ch <-chan *message.Message, d time.Duration) {
	t.Helper()
	select {
	case msg, ok := <-ch:
		if ok {
			t.Fatalf("unexpected message %s (%v)", msg.UUID, msg.Metadata)
		}
		t.Fatal("channel closed unexpectedly")
	case <-time.After(d):
	}
}

// expectClosed fails unless ch is closed within waitFor. Messages still in
// flight are drained (and nacked) on the way.
func expectClosed(t *testing.T, ch <-chan *message.Message) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case msg, ok := <-ch:
			if !ok {
				return
			}
			msg.Nack()
		case <-deadline:
			t.Fatal("messages channel not closed within", waitFor)
		}
	}
}

// recvAll receives n messages, acking each, and returns them.
func recvAll(t *testing.T, ch <-chan *message.Message, n int) []*message.Message {
	t.Helper()
	out := make([]*message.Message, 0, n)
	for range n {
		msg := recv(t, ch)
		msg.Ack()
		out = append(out, msg)
	}
	return out
}

func metaValues(msgs []*message.Message, key string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Metadata.Get(key)
	}
	return out
}

// checkNoLeaks fails if a goroutine of package pubsub outlives the test; it
// runs as a cleanup registered first, so after every other cleanup (the
// subscribers' and the stores' Close).
func checkNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitFor)
		for {
			leaked := pubsubGoroutines()
			if leaked == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines of package pubsub still running:\n%s", leaked)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// waitGoroutines waits until at least n goroutines of package pubsub have
// frame (e.g. "pubsub.(*run).deliver") on their stack.
func waitGoroutines(t *testing.T, frame string, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := 0
		for g := range strings.SplitSeq(pubsubGoroutines(), "\n\n") {
			if strings.Contains(g, frame) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines in %s after %s, want %d:\n%s", got, frame, waitFor, n, pubsubGoroutines())
		}
		time.Sleep(time.Millisecond)
	}
}

// pubsubGoroutines returns the stacks of running goroutines that have a
// frame in package pubsub (not pubsub_test).
func pubsubGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaked []string
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("services/eventstore/pubsub.")) {
			leaked = append(leaked, string(g))
		}
	}
	return strings.Join(leaked, "\n\n")
}

// logEntry is one line a captureLogger received.
type logEntry struct {
	level string
	msg   string
	err   error
}

// captureLogger records what is logged, for assertions.
type captureLogger struct {
	mu      *sync.Mutex
	entries *[]logEntry
}

func newCaptureLogger() captureLogger {
	return captureLogger{mu: new(sync.Mutex), entries: new([]logEntry)}
}

func (l captureLogger) add(level, msg string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.entries = append(*l.entries, logEntry{level, msg, err})
}

func (l captureLogger) Error(msg string, err error, _ watermill.LogFields) { l.add("error", msg, err) }
func (l captureLogger) Info(msg string, _ watermill.LogFields)             { l.add("info", msg, nil) }
func (l captureLogger) Debug(msg string, _ watermill.LogFields)            { l.add("debug", msg, nil) }
func (l captureLogger) Trace(msg string, _ watermill.LogFields)            { l.add("trace", msg, nil) }
func (l captureLogger) With(watermill.LogFields) watermill.LoggerAdapter   { return l }

func (l captureLogger) find(level string) []logEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logEntry
	for _, e := range *l.entries {
		if e.level == level {
			out = append(out, e)
		}
	}
	return out
}

func (l captureLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range *l.entries {
		fmt.Fprintf(&b, "%s: %s %v\n", e.level, e.msg, e.err)
	}
	return b.String()
}

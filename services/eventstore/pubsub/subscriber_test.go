package pubsub_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
)

type ctxKey string

func TestDomainEventMessageCarriesEnvelopeAndExactPayload(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	ev := domainEvent("ActionPointRaised.v1", "\x00\x01binary\xffpayload")
	ev.Data = append(ev.Data, 0, 0, 7) // trailing zero bytes must survive too
	rec := appendTo(t, store, "actionpoint-AP1", ev)

	sub := newSubscriber(t, store, pubsub.SubscriberConfig{}, nil)
	ctx := context.WithValue(context.Background(), ctxKey("k"), "v")
	msgs, err := sub.Subscribe(ctx, "$all")
	if err != nil {
		t.Fatal(err)
	}
	msg := recv(t, msgs)
	defer msg.Ack()

	if msg.UUID != rec.ID.String() {
		t.Errorf("UUID = %q, want event id %s", msg.UUID, rec.ID)
	}
	if !bytes.Equal(msg.Payload, rec.Data) {
		t.Errorf("payload = %q, want the stored data %q", msg.Payload, rec.Data)
	}
	want := map[string]string{
		pubsub.MetaEventType:      "ActionPointRaised.v1",
		pubsub.MetaStream:         "actionpoint-AP1",
		pubsub.MetaRevision:       "1",
		pubsub.MetaPosition:       strconv.FormatUint(rec.Position, 10),
		pubsub.MetaOccurredAt:     "2015-02-14T09:30:15.123456789Z",
		pubsub.MetaRecordedAt:     rec.RecordedAt.UTC().Format(time.RFC3339Nano),
		pubsub.MetaActorID:        "u-mob-7",
		pubsub.MetaActorRole:      "mobilizer",
		pubsub.MetaCorrelationID:  rec.Meta.CorrelationID,
		pubsub.MetaCausationID:    rec.Meta.CausationID,
		pubsub.MetaIdempotencyKey: rec.Meta.IdempotencyKey,
	}
	for k, v := range want {
		got, ok := msg.Metadata[k]
		if !ok || got != v {
			t.Errorf("metadata %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if len(msg.Metadata) != len(want) {
		t.Errorf("metadata has %d keys, want %d: %v", len(msg.Metadata), len(want), msg.Metadata)
	}
	if key := pubsub.MetaCorrelationID; key != "correlation_id" {
		t.Errorf("MetaCorrelationID = %q, want \"correlation_id\" (Watermill's middleware.CorrelationIDMetadataKey)", key)
	}
	if middleware.MessageCorrelationID(msg) != rec.Meta.CorrelationID {
		t.Errorf("Watermill sees correlation id %q", middleware.MessageCorrelationID(msg))
	}
	if got := msg.Context().Value(ctxKey("k")); got != "v" {
		t.Errorf("message context lost the subscription context's values: %v", got)
	}

	got, err := pubsub.EventFromMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	wantEv := rec
	wantEv.PrevHash, wantEv.Hash = [32]byte{}, [32]byte{}
	wantEv.Meta.RequestHash = nil
	assertSameEvent(t, got, wantEv)
}

func assertSameEvent(t *testing.T, got, want eventstore.RecordedEvent) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.Stream != want.Stream ||
		got.Revision != want.Revision || got.Position != want.Position ||
		!got.RecordedAt.Equal(want.RecordedAt) || !got.Meta.OccurredAt.Equal(want.Meta.OccurredAt) ||
		got.Meta.ActorID != want.Meta.ActorID || got.Meta.ActorRole != want.Meta.ActorRole ||
		got.Meta.CorrelationID != want.Meta.CorrelationID || got.Meta.CausationID != want.Meta.CausationID ||
		got.Meta.IdempotencyKey != want.Meta.IdempotencyKey || !bytes.Equal(got.Data, want.Data) ||
		!bytes.Equal(got.Meta.RequestHash, want.Meta.RequestHash) || got.Hash != want.Hash || got.PrevHash != want.PrevHash {
		t.Errorf("event differs:\n got %+v\nwant %+v", got, want)
	}
}

func TestEventFromMessageRoundTripAndErrors(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	// A bare event: no writer metadata, no data, zero occurred_at.
	bare := appendTo(t, store, "users", eventstore.EventData{ID: domainEvent("x", "").ID, Type: "UserCreated.v1"})
	full := appendTo(t, store, "referral-R9", domainEvent("ReferralRaised.v1", "r"))

	sub := newSubscriber(t, store, pubsub.SubscriberConfig{}, nil)
	msgs, err := sub.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	got := recvAll(t, msgs, 2)
	if v, ok := got[0].Metadata[pubsub.MetaOccurredAt]; !ok || v != "" {
		t.Errorf("zero occurred_at: metadata %q (present %v), want present and empty", v, ok)
	}
	for i, rec := range []eventstore.RecordedEvent{bare, full} {
		ev, err := pubsub.EventFromMessage(got[i])
		if err != nil {
			t.Fatal(err)
		}
		rec.PrevHash, rec.Hash, rec.Meta.RequestHash = [32]byte{}, [32]byte{}, nil
		assertSameEvent(t, ev, rec)
	}

	if _, err := pubsub.EventFromMessage(message.NewMessage("plain", []byte("x"))); !errors.Is(err, pubsub.ErrNotEvent) {
		t.Errorf("plain message: err = %v, want ErrNotEvent", err)
	}
	for key, bad := range map[string]string{
		pubsub.MetaPosition:   "12x",
		pubsub.MetaRevision:   "",
		pubsub.MetaRecordedAt: "yesterday",
		pubsub.MetaStream:     "",
	} {
		m := got[1].Copy()
		m.Metadata.Set(key, bad)
		if _, err := pubsub.EventFromMessage(m); err == nil || errors.Is(err, pubsub.ErrNotEvent) {
			t.Errorf("%s=%q: err = %v, want a malformed-envelope error", key, bad, err)
		}
	}
	m := got[1].Copy()
	m.UUID = "not-a-uuid"
	if _, err := pubsub.EventFromMessage(m); err == nil {
		t.Error("non-UUID message UUID accepted as an event id")
	}
}

func TestTopicIsStreamPrefix(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	streams := []string{"actionpoint-AP1", "actionpointx-1", "community-1", "actionpoint", "actionpoint-AP2", "actionpoint-AP1"}
	for i, s := range streams {
		appendTo(t, store, s, domainEvent("E.v1", strconv.Itoa(i)))
	}
	sub := newSubscriber(t, store, pubsub.SubscriberConfig{}, nil)

	cases := []struct {
		topic string
		want  []string
	}{
		{"actionpoint", []string{"actionpoint-AP1", "actionpoint", "actionpoint-AP2", "actionpoint-AP1"}},
		{"actionpoint-AP1", []string{"actionpoint-AP1", "actionpoint-AP1"}},
		{"community", []string{"community-1"}},
		{"", streams},
		{"$all", streams},
	}
	for _, c := range cases {
		t.Run("topic="+c.topic, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			msgs, err := sub.Subscribe(ctx, c.topic)
			if err != nil {
				t.Fatal(err)
			}
			got := metaValues(recvAll(t, msgs, len(c.want)), pubsub.MetaStream)
			if !slices.Equal(got, c.want) {
				t.Errorf("streams = %v, want %v", got, c.want)
			}
			expectNone(t, msgs, 50*time.Millisecond)
			cancel()
			expectClosed(t, msgs)
		})
	}
	for _, bad := range []string{"action point", "-x", "a/b", "ap\n"} {
		if _, err := sub.Subscribe(context.Background(), bad); err == nil {
			t.Errorf("topic %q accepted", bad)
		}
	}
}

func TestNackRedeliversSameMessageAndOrderHolds(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	for i := range 3 {
		appendTo(t, store, "feedback-F1", domainEvent("E.v1", strconv.Itoa(i)))
	}
	const resend = 30 * time.Millisecond
	sub := newSubscriber(t, store, pubsub.SubscriberConfig{NackResendSleep: resend}, nil)
	msgs, err := sub.Subscribe(context.Background(), "feedback")
	if err != nil {
		t.Fatal(err)
	}

	first := recv(t, msgs)
	wantUUID, wantPayload, wantMeta := first.UUID, bytes.Clone(first.Payload), maps.Clone(first.Metadata)
	// The next message waits for the ack.
	expectNone(t, msgs, 100*time.Millisecond)

	for range 2 {
		// A handler that scribbles on what it was given must not change
		// what is redelivered.
		first.Payload[0] = 'X'
		first.Metadata.Set(pubsub.MetaStream, "scribbled")
		first.Metadata.Set("extra", "1")
		nackedAt := time.Now()
		first.Nack()
		again := recv(t, msgs)
		if waited := time.Since(nackedAt); waited < resend {
			t.Errorf("resent after %v, want at least NackResendSleep %v", waited, resend)
		}
		if again == first {
			t.Fatal("the same *Message was sent again; it can be acked only once")
		}
		if again.UUID != wantUUID || !bytes.Equal(again.Payload, wantPayload) || !maps.Equal(again.Metadata, wantMeta) {
			t.Fatalf("redelivered %s %q %v, want %s %q %v", again.UUID, again.Payload, again.Metadata, wantUUID, wantPayload, wantMeta)
		}
		if first.Context().Err() == nil {
			t.Error("nacked message's context not cancelled")
		}
		first = again
	}
	first.Ack()
	select {
	case <-first.Context().Done():
	case <-time.After(waitFor):
		t.Error("acked message's context not cancelled")
	}
	rest := recvAll(t, msgs, 2)
	if got := string(rest[0].Payload) + string(rest[1].Payload); got != "12" {
		t.Errorf("after the ack got payloads %q, want \"12\"", got)
	}
	expectNone(t, msgs, 50*time.Millisecond)
}

func TestStartAfterResumesAfterCheckpoint(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	var recs []eventstore.RecordedEvent
	for i := range 5 {
		recs = append(recs, appendTo(t, store, "community-C1", domainEvent("E.v1", strconv.Itoa(i))))
	}
	appendTo(t, store, "referral-R1", domainEvent("E.v1", "other"))

	var askedTopic string
	sub := newSubscriber(t, store, pubsub.SubscriberConfig{
		StartAfter: func(ctx context.Context, topic string) (uint64, error) {
			askedTopic = topic
			return recs[2].Position, nil
		},
	}, nil)
	msgs, err := sub.Subscribe(context.Background(), "community")
	if err != nil {
		t.Fatal(err)
	}
	if askedTopic != "community" {
		t.Errorf("StartAfter asked for topic %q", askedTopic)
	}
	got := recvAll(t, msgs, 2)
	for i, m := range got {
		if m.UUID != recs[3+i].ID.String() {
			t.Errorf("message %d = %s (position %s), want event at position %d", i, m.UUID, m.Metadata.Get(pubsub.MetaPosition), recs[3+i].Position)
		}
	}
	// Live: appended after the subscription caught up.
	live := appendTo(t, store, "community-C2", domainEvent("E.v1", "live"))
	if m := recvAll(t, msgs, 1)[0]; m.UUID != live.ID.String() {
		t.Errorf("live message %s, want %s", m.UUID, live.ID)
	}

	failing := newSubscriber(t, store, pubsub.SubscriberConfig{
		StartAfter: func(context.Context, string) (uint64, error) { return 0, errors.New("checkpoint store down") },
	}, nil)
	if _, err := failing.Subscribe(context.Background(), "community"); err == nil {
		t.Error("Subscribe succeeded although the checkpoint could not be read")
	}
}

func TestContextCancelEndsDelivery(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	appendTo(t, store, "actionpoint-AP1", domainEvent("E.v1", "0"))
	appendTo(t, store, "actionpoint-AP1", domainEvent("E.v1", "1"))
	sub := newSubscriber(t, store, pubsub.SubscriberConfig{}, nil)

	t.Run("while a message awaits its ack", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		msgs, err := sub.Subscribe(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		msg := recv(t, msgs)
		cancel()
		expectClosed(t, msgs)
		if msg.Context().Err() == nil {
			t.Error("unacked message's context not cancelled with the subscription")
		}
	})
	t.Run("while the channel is not read", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		msgs, err := sub.Subscribe(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		waitGoroutines(t, "pubsub.(*run).deliver", 1) // blocked on the send
		cancel()
		expectClosed(t, msgs)
	})
	t.Run("while caught up and waiting live", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		msgs, err := sub.Subscribe(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		recvAll(t, msgs, 2)
		expectNone(t, msgs, 20*time.Millisecond)
		cancel()
		expectClosed(t, msgs)
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if msgs, err := sub.Subscribe(ctx, ""); err == nil {
			expectClosed(t, msgs)
		}
	})
	// After all that, the subscriber still works.
	msgs, err := sub.Subscribe(context.Background(), "actionpoint")
	if err != nil {
		t.Fatal(err)
	}
	recvAll(t, msgs, 2)
}

func TestCloseEndsEverySubscription(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	appendTo(t, store, "actionpoint-AP1", domainEvent("E.v1", "0"))
	sub, err := pubsub.NewSubscriber(store, pubsub.SubscriberConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}

	awaitingAck, err := sub.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	msg := recv(t, awaitingAck)
	blockedOnSend, err := sub.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	waitingLive, err := sub.Subscribe(context.Background(), "community")
	if err != nil {
		t.Fatal(err)
	}
	// Each where its name says: two delivering (one awaiting the ack, one
	// blocked on the send), all three consuming the store's log.
	waitGoroutines(t, "pubsub.(*run).deliver", 2)
	waitGoroutines(t, "pubsub.(*run).consume", 3)

	done := make(chan error)
	go func() { done <- sub.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Close did not return")
	}
	// Close waited for the goroutines, so every channel is closed already.
	for name, ch := range map[string]<-chan *message.Message{
		"awaiting ack": awaitingAck, "blocked on send": blockedOnSend, "waiting live": waitingLive,
	} {
		select {
		case _, ok := <-ch:
			if ok {
				t.Errorf("%s: got a message after Close", name)
			}
		default:
			t.Errorf("%s: channel still open after Close returned", name)
		}
	}
	if msg.Context().Err() == nil {
		t.Error("in-flight message's context not cancelled by Close")
	}
	if _, err := sub.Subscribe(context.Background(), ""); !errors.Is(err, pubsub.ErrSubscriberClosed) {
		t.Errorf("Subscribe after Close: err = %v, want ErrSubscriberClosed", err)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The store is not the subscriber's: it stays open.
	appendTo(t, store, "actionpoint-AP1", domainEvent("E.v1", "1"))
}

func TestStoreCloseEndsSubscriptionCleanly(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	appendTo(t, store, "actionpoint-AP1", domainEvent("E.v1", "0"))
	logger := newCaptureLogger()
	sub := newSubscriber(t, store, pubsub.SubscriberConfig{}, logger)
	msgs, err := sub.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	recvAll(t, msgs, 1)
	expectNone(t, msgs, 20*time.Millisecond)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, msgs)
	if len(logger.find("info")) == 0 || len(logger.find("error")) != 0 {
		t.Errorf("want an info line and no error for a closed store; log:\n%s", logger)
	}
	if _, err := sub.Subscribe(context.Background(), ""); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Subscribe on a closed store: err = %v, want ErrClosed", err)
	}
}

func TestCorruptPublishedEnvelopeIsDeliveredRaw(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	bad := appendTo(t, store, "topic-x", eventstore.EventData{ID: domainEvent("x", "").ID, Type: pubsub.MessageEventType, Data: []byte{1, 200}})
	next := appendTo(t, store, "topic-x", domainEvent("E.v1", "after"))
	logger := newCaptureLogger()
	sub := newSubscriber(t, store, pubsub.SubscriberConfig{}, logger)
	msgs, err := sub.Subscribe(context.Background(), "topic-x")
	if err != nil {
		t.Fatal(err)
	}
	got := recvAll(t, msgs, 2)
	if got[0].UUID != bad.ID.String() || got[0].Metadata.Get(pubsub.MetaEventType) != pubsub.MessageEventType ||
		!bytes.Equal(got[0].Payload, bad.Data) {
		t.Errorf("damaged envelope delivered as %s %v %q", got[0].UUID, got[0].Metadata, got[0].Payload)
	}
	if got[1].UUID != next.ID.String() {
		t.Errorf("the log did not go on after the damaged event")
	}
	if len(logger.find("error")) != 1 {
		t.Errorf("want one error logged; log:\n%s", logger)
	}
}

// flakyStore fails the first subscription after failAfter events, and
// reopens every later one a position early, as a remote store might after a
// dropped connection.
type flakyStore struct {
	eventstore.Store
	failAfter int
	mu        sync.Mutex
	opened    []uint64
}

func (s *flakyStore) Subscribe(ctx context.Context, after uint64) (eventstore.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = append(s.opened, after)
	if len(s.opened) == 1 {
		inner, err := s.Store.Subscribe(ctx, after)
		return &flakySub{Subscription: inner, left: s.failAfter}, err
	}
	return s.Store.Subscribe(ctx, after-min(after, 1))
}

type flakySub struct {
	eventstore.Subscription
	left int
}

func (s *flakySub) Recv() (eventstore.RecordedEvent, error) {
	if s.left == 0 {
		return eventstore.RecordedEvent{}, errors.New("connection reset by peer")
	}
	s.left--
	return s.Subscription.Recv()
}

func TestStoreErrorReopensSubscriptionWithoutGapOrDuplicate(t *testing.T) {
	checkNoLeaks(t)
	bolt := openStore(t)
	var want []string
	for i := range 6 {
		want = append(want, appendTo(t, bolt, "community-C1", domainEvent("E.v1", strconv.Itoa(i))).ID.String())
	}
	store := &flakyStore{Store: bolt, failAfter: 3}
	logger := newCaptureLogger()
	sub := newSubscriber(t, store, pubsub.SubscriberConfig{ReconnectBackoff: 10 * time.Millisecond}, logger)
	msgs, err := sub.Subscribe(context.Background(), "community")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, len(want))
	for _, m := range recvAll(t, msgs, len(want)) {
		got = append(got, m.UUID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	expectNone(t, msgs, 50*time.Millisecond)
	store.mu.Lock()
	opened := slices.Clone(store.opened)
	store.mu.Unlock()
	if !slices.Equal(opened, []uint64{0, 3}) {
		t.Errorf("store subscriptions opened after %v, want [0 3]", opened)
	}
	if errs := logger.find("error"); len(errs) != 1 {
		t.Errorf("want the failure logged once as an error; log:\n%s", logger)
	}
}

// TestEventInContextGivesWhatMetadataGives: the read models' subscriber
// (EventInContext) hands over every event as a subscriber with metadata
// does, down to the time zone, without the metadata; a resend after a nack
// carries the event as first stored, whatever the handler did to the
// payload; a message published through Publisher comes as the raw event.
func TestEventInContextGivesWhatMetadataGives(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	appendTo(t, store, "users", eventstore.EventData{ID: domainEvent("x", "").ID, Type: "UserCreated.v1"})
	appendTo(t, store, "referral-R9", domainEvent("ReferralRaised.v1", "r"))
	if err := newPublisher(t, store).Publish("integration-1", message.NewMessage("plain-1", []byte("plain"))); err != nil {
		t.Fatal(err)
	}
	withMeta, err := newSubscriber(t, store, pubsub.SubscriberConfig{}, nil).Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]eventstore.RecordedEvent, 2)
	for i, m := range recvAll(t, withMeta, 2) {
		if want[i], err = pubsub.EventFromMessage(m); err != nil {
			t.Fatal(err)
		}
	}

	// A store may give its times in any zone (this one in West Africa
	// Time, UTC+1); the metadata round trip gives them in UTC.
	zoned := zonedStore{Store: store, zone: time.FixedZone("WAT", 3600)}
	lean := newSubscriber(t, zoned, pubsub.SubscriberConfig{EventInContext: true, NackResendSleep: 5 * time.Millisecond}, nil)
	msgs, err := lean.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	sameAs := func(m *message.Message, want eventstore.RecordedEvent) {
		t.Helper()
		if len(m.Metadata) != 0 {
			t.Errorf("message %s has metadata %v, want none", m.UUID, m.Metadata)
		}
		got, err := pubsub.EventFromMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("event differs from the metadata subscriber's:\n got %+v\nwant %+v", got, want)
		}
	}
	for i, w := range want {
		m := recv(t, msgs)
		sameAs(m, w)
		if i == 1 {
			m.Payload[0] = 'X'
			m.Nack()
			again := recv(t, msgs)
			if again == m {
				t.Fatal("the same *Message was sent again; it can be acked only once")
			}
			sameAs(again, w)
			m = again
		}
		m.Ack()
	}
	raw, err := pubsub.EventFromMessage(recv(t, msgs))
	if err != nil || raw.Type != pubsub.MessageEventType || raw.Position != 3 {
		t.Errorf("published message: %s at %d (%v), want the raw %s event at 3", raw.Type, raw.Position, err, pubsub.MessageEventType)
	}
}

// zonedStore gives the times of the events it delivers in zone.
type zonedStore struct {
	eventstore.Store
	zone *time.Location
}

func (z zonedStore) Subscribe(ctx context.Context, after uint64) (eventstore.Subscription, error) {
	sub, err := z.Store.Subscribe(ctx, after)
	return zonedSub{sub, z.zone}, err
}

type zonedSub struct {
	eventstore.Subscription
	zone *time.Location
}

func (z zonedSub) Recv() (eventstore.RecordedEvent, error) {
	ev, err := z.Subscription.Recv()
	ev.RecordedAt = ev.RecordedAt.In(z.zone)
	if !ev.Meta.OccurredAt.IsZero() {
		ev.Meta.OccurredAt = ev.Meta.OccurredAt.In(z.zone)
	}
	return ev, err
}

// With MaxBatch, the events the store read together come in one message,
// each as EventFromMessage gives it alone, only those the topic selects and
// in log order. A nacked batch comes again one message per event, made from
// the events as first read (a handler's scribbles on the batch do not
// reach them), and batching goes on after it.
func TestBatchCarriesWhatSinglesCarryAndANackSplitsIt(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	for i, stream := range []string{"community-C1", "community-C1", "referral-R1", "community-C2", "users"} {
		appendTo(t, store, stream, domainEvent("Event.v1", strconv.Itoa(i)))
	}
	singles, err := newSubscriber(t, store, pubsub.SubscriberConfig{EventInContext: true}, nil).Subscribe(context.Background(), "community")
	if err != nil {
		t.Fatal(err)
	}
	var want []eventstore.RecordedEvent
	for _, m := range recvAll(t, singles, 3) {
		ev, err := pubsub.EventFromMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		ev.Data = bytes.Clone(ev.Data)
		want = append(want, ev)
	}

	sub := newSubscriber(t, store, pubsub.SubscriberConfig{EventInContext: true, MaxBatch: 10, NackResendSleep: 5 * time.Millisecond}, nil)
	msgs, err := sub.Subscribe(context.Background(), "community")
	if err != nil {
		t.Fatal(err)
	}
	batch := recv(t, msgs)
	got, ok := pubsub.EventsFromMessage(batch)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("first message: batch %v with %+v, want the three community events %+v", ok, got, want)
	}
	if _, err := pubsub.EventFromMessage(batch); !errors.Is(err, pubsub.ErrBatch) {
		t.Errorf("EventFromMessage on a batch: %v, want ErrBatch", err)
	}
	got[1].Data[0] = 'X'
	batch.Nack()
	for i, w := range want {
		m := recv(t, msgs)
		if _, ok := pubsub.EventsFromMessage(m); ok {
			t.Fatalf("resend %d is a batch, want one event", i)
		}
		ev, err := pubsub.EventFromMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ev, w) {
			t.Errorf("resend %d: %+v, want %+v", i, ev, w)
		}
		m.Ack()
	}
	expectNone(t, msgs, 50*time.Millisecond)

	data := []eventstore.EventData{domainEvent("Event.v1", "5"), domainEvent("Event.v1", "6")}
	res, err := store.Append(context.Background(), "community-C3", eventstore.Any, data...)
	if err != nil {
		t.Fatal(err)
	}
	m := recv(t, msgs)
	got, ok = pubsub.EventsFromMessage(m)
	if !ok || len(got) != 2 || got[0].Position != res.FirstPosition || got[1].Position != res.LastPosition || got[1].ID != data[1].ID {
		t.Fatalf("after the resends: batch %v with %+v, want positions %d-%d", ok, got, res.FirstPosition, res.LastPosition)
	}
	m.Ack()
	expectNone(t, msgs, 50*time.Millisecond)
}

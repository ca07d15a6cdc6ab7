package pubsub_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
)

func TestPublishedMessageComesBackExactly(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	pub := newPublisher(t, store)

	canonical := message.NewMessage(watermill.NewUUID(), []byte("\x00payload\xff"))
	canonical.Metadata.Set("z", "last")
	canonical.Metadata.Set("a", "first")
	canonical.Metadata.Set(pubsub.MetaCorrelationID, "corr-1")
	canonical.Metadata.Set("empty", "")
	plainID := message.NewMessage("order-42", nil) // not a UUID, no payload, no metadata
	upper := message.NewMessage(strings.ToUpper(watermill.NewUUID()), []byte("u"))
	if err := pub.Publish("integration-1", canonical, plainID, upper); err != nil {
		t.Fatal(err)
	}

	stored, err := store.ReadStream(context.Background(), "integration-1", 0, 10)
	if err != nil || len(stored) != 3 {
		t.Fatalf("stream holds %d events (%v), want 3", len(stored), err)
	}
	for _, ev := range stored {
		if ev.Type != pubsub.MessageEventType {
			t.Errorf("event type %q, want %q", ev.Type, pubsub.MessageEventType)
		}
	}
	if stored[0].ID.String() != canonical.UUID {
		t.Errorf("canonical UUID stored as event id %s, want %s", stored[0].ID, canonical.UUID)
	}
	if want := uuid.NewSHA1(pubsub.MessageIDNamespace, []byte("order-42")); stored[1].ID != want {
		t.Errorf("non-UUID message stored as %s, want name-based %s", stored[1].ID, want)
	}
	if stored[2].ID.String() == strings.ToLower(upper.UUID) {
		t.Error("a non-canonical UUID spelling shares the id of its canonical spelling")
	}

	sub := newSubscriber(t, store, pubsub.SubscriberConfig{}, nil)
	msgs, err := sub.Subscribe(context.Background(), "integration-1")
	if err != nil {
		t.Fatal(err)
	}
	got := recvAll(t, msgs, 3)
	for i, want := range []*message.Message{canonical, plainID, upper} {
		if got[i].UUID != want.UUID || string(got[i].Payload) != string(want.Payload) || !maps.Equal(got[i].Metadata, want.Metadata) {
			t.Errorf("message %d came back as %q %q %v, want %q %q %v",
				i, got[i].UUID, got[i].Payload, got[i].Metadata, want.UUID, want.Payload, want.Metadata)
		}
	}
	if _, err := pubsub.EventFromMessage(got[0]); !errors.Is(err, pubsub.ErrNotEvent) {
		t.Errorf("EventFromMessage of a published plain message: %v, want ErrNotEvent", err)
	}
}

// TestRepublishingStoresNothingNew checks the guarantee documented on
// Publish: per topic, a message (UUID) is stored once, however it is
// republished.
func TestRepublishingStoresNothingNew(t *testing.T) {
	checkNoLeaks(t)
	store := openStore(t)
	pub := newPublisher(t, store)
	m := make([]*message.Message, 6)
	for i := range m {
		m[i] = message.NewMessage(watermill.NewUUID(), []byte{byte('0' + i)})
	}
	custom := message.NewMessage("not-a-uuid", []byte("c"))

	steps := []struct {
		topic string
		msgs  []*message.Message
	}{
		{"topic-a", []*message.Message{m[0], m[1]}},
		{"topic-a", []*message.Message{m[2]}},
		{"topic-a", []*message.Message{m[0]}},             // alone, not at the stream's end
		{"topic-a", []*message.Message{m[0], m[1]}},       // the whole first batch again
		{"topic-a", []*message.Message{m[1], m[3]}},       // partly new: m3 is stored
		{"topic-a", []*message.Message{m[4], m[4], m[0]}}, // twice in one call
		{"topic-b", []*message.Message{m[0], m[5]}},       // m0 in a second topic
		{"topic-b", []*message.Message{m[0]}},             // ... again
		{"topic-a", []*message.Message{m[0], custom}},
		{"topic-b", []*message.Message{m[5], custom, m[0]}},
		{"topic-b", []*message.Message{custom}},
	}
	for i, s := range steps {
		if err := pub.Publish(s.topic, s.msgs...); err != nil {
			t.Fatalf("step %d: publish to %s: %v", i, s.topic, err)
		}
	}
	// The same again, concurrently: still nothing new.
	done := make(chan error, len(steps))
	for _, s := range steps {
		go func() { done <- pub.Publish(s.topic, s.msgs...) }()
	}
	for range steps {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	want := map[string][]string{
		"topic-a": {m[0].UUID, m[1].UUID, m[2].UUID, m[3].UUID, m[4].UUID, custom.UUID},
		"topic-b": {m[0].UUID, m[5].UUID, custom.UUID},
	}
	sub := newSubscriber(t, store, pubsub.SubscriberConfig{}, nil)
	for topic, ids := range want {
		ctx, cancel := context.WithCancel(context.Background())
		msgs, err := sub.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, 0, len(ids))
		for _, msg := range recvAll(t, msgs, len(ids)) {
			got = append(got, msg.UUID)
		}
		if !slices.Equal(got, ids) {
			t.Errorf("%s delivered %v, want %v", topic, got, ids)
		}
		expectNone(t, msgs, 50*time.Millisecond)
		cancel()
		expectClosed(t, msgs)
	}
	head, _ := store.Head(context.Background())
	if head != 9 {
		t.Errorf("log head %d, want 9 events in all", head)
	}
}

func TestPublishRefusesBadTopicsAndAfterClose(t *testing.T) {
	store := openStore(t)
	pub, err := pubsub.NewPublisher(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage(watermill.NewUUID(), []byte("x"))
	for _, topic := range []string{"", "$all", "$ce-x", "a b", "-a", "a/b", "a?b", "é", "a\x00b", strings.Repeat("a", 256)} {
		if err := pub.Publish(topic, msg); err == nil {
			t.Errorf("topic %q accepted", topic)
		}
	}
	if head, _ := store.Head(context.Background()); head != 0 {
		t.Errorf("refused publishes stored %d events", head)
	}
	for _, topic := range []string{"a", "actionpoint-AP1", "Topic_1.x:y-Z", strings.Repeat("a", 255)} {
		if err := pub.Publish(topic, msg.Copy()); err != nil {
			t.Errorf("topic %q refused: %v", topic, err)
		}
	}
	if err := pub.Publish("empty-call"); err != nil {
		t.Errorf("publishing no message: %v", err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("a", msg); !errors.Is(err, pubsub.ErrPublisherClosed) {
		t.Errorf("Publish after Close: %v, want ErrPublisherClosed", err)
	}
	if err := pub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The store is not the publisher's.
	if _, err := store.Append(context.Background(), "s", eventstore.Any, domainEvent("E.v1", "x")); err != nil {
		t.Errorf("store unusable after publisher Close: %v", err)
	}
}

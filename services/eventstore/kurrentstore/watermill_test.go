package kurrentstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/actionledger/actionledger/services/eventstore/kurrentstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore/kurrenttest"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
)

// TestWatermillUniversalSuite runs Watermill's Pub/Sub suite on the pubsub
// Subscriber and Publisher over this adapter, the path the read models take
// in production. Every instance a suite test builds shares one store over
// one in-process server, as replicas share one KurrentDB.
func TestWatermillUniversalSuite(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*kurrentstore.Store{}
	storeFor := func(t *testing.T) *kurrentstore.Store {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := stores[t.Name()]; ok {
			return s
		}
		srv := kurrenttest.Start(t, kurrenttest.Options{SystemEventEvery: 7})
		s := open(t, srv.URL(), kurrentstore.Options{})
		stores[t.Name()] = s
		return s
	}
	constructor := func(t *testing.T) (message.Publisher, message.Subscriber) {
		s := storeFor(t)
		pub, err := pubsub.NewPublisher(s, watermill.NopLogger{})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := pubsub.NewSubscriber(s, pubsub.SubscriberConfig{NackResendSleep: 5 * time.Millisecond}, watermill.NopLogger{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = sub.Close()
			_ = pub.Close()
		})
		return pub, sub
	}
	// The same features the embedded store claims (see the pubsub package's
	// suite): ordered, persistent, old messages for new subscribers; no
	// consumer groups, at-least-once delivery. ForceShort: the suite's short
	// message counts (hundreds, not thousands, per test) keep every test's
	// path while a race-detector build of gRPC stays within a CI budget.
	features := tests.Features{GuaranteedOrder: true, Persistent: true, NewSubscriberReceivesOldMessages: true, ForceShort: true}
	tests.TestPubSub(t, features, constructor, func(t *testing.T, _ string) (message.Publisher, message.Subscriber) {
		t.Fatal("consumer groups are not supported")
		return nil, nil
	})
}

package pubsub_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
)

// suiteStores gives every test of the suite its own store, shared by all the
// Pub/Sub instances that test constructs: the suite's "instances" of a
// persistent Pub/Sub (Persistent, NewSubscriberReceivesOldMessages, the
// multiplied subscribers of TestConcurrentSubscribe, ...) must see one log,
// and a bbolt file can be opened by only one Store at a time.
type suiteStores struct {
	mu sync.Mutex
	m  map[string]*boltstore.Store
}

func (s *suiteStores) get(t *testing.T) *boltstore.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m[t.Name()]; ok {
		return st
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.m[t.Name()] = st
	// Registered before any instance's Close, so it runs after them.
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st
}

func TestWatermillUniversalSuite(t *testing.T) {
	checkNoLeaks(t)
	stores := &suiteStores{m: map[string]*boltstore.Store{}}
	logger := newCaptureLogger()
	constructor := func(t *testing.T) (message.Publisher, message.Subscriber) {
		store := stores.get(t)
		pub, err := pubsub.NewPublisher(store, logger)
		if err != nil {
			t.Fatal(err)
		}
		// A short resend delay: TestContinueAfterErrors nacks the same
		// message up to 300 times; 100ms each would take half a minute.
		sub, err := pubsub.NewSubscriber(store, pubsub.SubscriberConfig{NackResendSleep: 5 * time.Millisecond}, logger)
		if err != nil {
			t.Fatal(err)
		}
		// Some suite tests never close what they construct; close it at
		// the end so that no goroutine outlives the suite.
		t.Cleanup(func() {
			_ = sub.Close()
			_ = pub.Close()
		})
		return pub, sub
	}

	features := tests.Features{
		// Each subscription delivers one message at a time in log order and
		// moves on only after the ack; even the suite's 10 multiplied
		// subscribers each see the whole topic in that order.
		GuaranteedOrder: true,
		// Messages are durable events in the store; every Pub/Sub instance
		// built over the same store (as separate services over one log
		// would be) reads everything published through any other.
		Persistent: true,
		// A new subscription reads the log from its StartAfter checkpoint,
		// 0 by default: consumed messages are never removed.
		NewSubscriberReceivesOldMessages: true,
		// Not claimed: there are no consumer groups; every subscription
		// gets every message of its topic (the read side's projections
		// each keep their own checkpoint instead).
		ConsumerGroups: false,
		// Not claimed: delivery is at least once. A nacked message comes
		// again, a new subscription without a checkpoint starts from the
		// beginning, and a consumer's checkpoint write is not atomic with
		// its ack.
		ExactlyOnceDelivery: false,
		// Not claimed: a message's context is not stored; a delivered
		// message's context derives from the Subscribe context.
		ContextPreserved: false,
		// Not needed: many instances over one store work together.
		RequireSingleInstance: false,
		// RestartServiceCommand: none, the store is embedded (the
		// reconnect test is skipped).
	}
	tests.TestPubSub(t, features, constructor, func(t *testing.T, _ string) (message.Publisher, message.Subscriber) {
		t.Fatal("consumer groups are not supported")
		return nil, nil
	})
	if errs := logger.find("error"); len(errs) > 0 {
		t.Errorf("the suite made the Pub/Sub log errors:\n%s", logger)
	}
}

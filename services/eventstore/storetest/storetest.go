// Package storetest is the conformance suite for eventstore.Store adapters.
//
// The application and the projections are tested against one adapter and run
// against another (the embedded store on a laptop, KurrentDB in production),
// so the port's contract has to be pinned down once, in code, and every
// adapter has to pass the same checks: ordering, optimistic concurrency,
// idempotent retries, the envelope, catch-up subscriptions and durability
// across a reopen.
//
// Wire it from an adapter's tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Opener {
//			path := filepath.Join(t.TempDir(), "events.db")
//			return func() (eventstore.Store, error) { return myadapter.Open(path) }
//		})
//	}
//
// The suite assumes each call of newStore yields empty storage that nothing
// else writes to while the sub-test runs, and only relies on what the port
// promises: positions strictly increase (not that they are contiguous), and
// hashes are checked only when the adapter fills them in.
package storetest

import (
	"testing"

	"github.com/actionledger/actionledger/services/eventstore"
)

// Opener opens a store over the same underlying storage every time it is
// called, so that the suite can close a store and reopen it.
type Opener func() (eventstore.Store, error)

// Run runs the whole suite. newStore is called once per sub-test and must
// return an Opener over fresh, empty storage.
func Run(t *testing.T, newStore func(t *testing.T) Opener) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, opener Opener)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"ExpectedRevision", testExpectedRevision},
		{"Envelope", testEnvelope},
		{"ConcurrentSameStream", testConcurrentSameStream},
		{"ConcurrentDistinctStreams", testConcurrentDistinctStreams},
		{"IdempotentRetry", testIdempotentRetry},
		{"Invalid", testInvalid},
		{"Context", testContext},
		{"SubscribeCatchUpThenLive", testSubscribeCatchUpThenLive},
		{"SubscribeFromMiddle", testSubscribeFromMiddle},
		{"SubscribeEnds", testSubscribeEnds},
		{"Reopen", testReopen},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newStore(t)) })
	}
}

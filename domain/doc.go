// Package domain holds actionledger's aggregates — Community, ActionPoint,
// Referral, FeedbackItem — and the user directory, with their lifecycles,
// invariants and events.
//
// It is pure: standard library only, no IO, no clock, no logging. Time comes
// in with each command. Commands are methods that check invariants and record
// events; apply is the only place an aggregate's state changes, used both when
// recording a new event and when loading history. An aggregate loaded from its
// stream exposes its revision (the number of events in the stream) so the
// application layer can append with optimistic concurrency.
//
// Events are named and versioned ("ActionPointRaised.v1") and travel in the
// compact binary encoding of package wire; Unmarshal is the one registry that
// turns stored bytes back into events and refuses unknown types.
package domain

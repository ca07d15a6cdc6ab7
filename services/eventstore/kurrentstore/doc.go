// Package kurrentstore is the production event store: the eventstore.Store
// port over KurrentDB (EventStoreDB) through its gRPC client,
// github.com/EventStore/EventStore-Client-Go/v4. Any number of actionledger
// replicas can share one KurrentDB cluster; the database, not a process,
// orders the writes.
//
// # Mapping
//
//   - The application's stream S is the KurrentDB stream "<ns>:S" (ns is
//     Options.Namespace, "actionledger" by default). Port revision r is
//     KurrentDB revision r-1; port "no stream" (revision 0) is KurrentDB's
//     NoStream; Any and StreamExists are KurrentDB's own.
//   - Positions are KurrentDB commit positions. For ordinary appends each
//     event's commit position is its own log position, so positions are
//     unique and strictly increasing along $all (but not contiguous).
//   - Event ids are the application's (deterministic ids derived from the
//     Idempotency-Key); the client never invents one.
//   - The envelope (eventstore.Metadata) is the event's JSON metadata;
//     correlation and causation use KurrentDB's "$correlationId" and
//     "$causationId" keys. RecordedAt is the server's "created" stamp (the
//     leader's clock): it does not go backwards while one leader's clock
//     does not.
//   - ReadAll, Head and Subscribe see only the namespace's streams: system
//     streams ("$...") and the claim streams are skipped (on the server, by a
//     stream-prefix filter, for subscriptions).
//
// # Appends and what is guaranteed
//
// KurrentDB's own idempotency keys on event id and stream, and is only as
// durable as the expected revision it runs under: with an exact revision a
// retry of ids stored right after it is recognised from the stream itself
// (durably, at any later time); with Any or StreamExists only from an
// in-memory cache of recent writes, lost on restart and evicted under load;
// and nothing stops one id from being stored in two streams. So:
//
//  1. Claim every event id (claim.go): append to "<ns>.id:<event id>" with
//     expected revision "no stream". The first claim of an id decides the
//     stream that owns it; an id owned by another stream fails the append
//     with ErrDuplicateEventID before anything is written. The claim of the
//     first id is also the append's lock: a call that claims it clean
//     (nobody held it, or its last holder released it after a refused
//     append) knows nobody else may be writing these events.
//  2. Append to "<ns>:S" with the application's event ids as KurrentDB's
//     and the caller's expected revision. For a clean holder that is all: the
//     server's answer gives the revision and, for a single event, its log
//     position, which is its commit position in $all (an answer without
//     a position, or a multi-event append, is read back for positions). A
//     wrong-expected-version answer is then a plain conflict, and the
//     holder releases the claim so that the caller's retry with the same
//     ids is again a first write.
//  3. A call that finds the lead claimed by an earlier call (a retry, or a
//     concurrent duplicate) reads the stream first: events already there
//     are answered Duplicate with their original result. Otherwise it takes
//     the claim over before writing them; its write is the earlier call's
//     write completed, and is answered Duplicate too. Its conflicts read
//     the stream to tell a retry, a misused id and a real conflict apart.
//
// A clean single-event append thus costs two round trips (the claim and the
// append); each further event one more claim and, once, a read. The claim
// is the round trip that cannot go: it is the only index by event id that
// KurrentDB can check before a write, and this client appends to one stream
// per request (KurrentDB 25.1's multi-stream append, which newer clients
// offer, could carry the claim and the events in one atomic request).
//
// Guaranteed, as long as every writer of the namespace goes through this
// adapter: an event id is stored in at most one stream, at most once;
// appends with exact expected revisions are optimistic-concurrency safe
// (exactly one of two concurrent writers at one revision wins); a retried
// append of the same ids is answered Duplicate with the first result, also
// after a server restart (the claims are durable, unlike KurrentDB's
// in-memory idempotency cache), and also for Any appends; of concurrent
// calls with the same ids at most one answers them as written by it.
//
// Not guaranteed: claims are not transactional with the append, so a claim
// may exist for an append that then failed (a conflict, a crash): that id
// stays bound to its stream, which is what a retry needs, but the claim
// stream stays too (one small stream per attempted event id; KurrentDB
// scavenging does not remove it). After an append whose outcome was unknown
// (a timeout, a lost node), the retry that completes it answers Duplicate
// even when the first attempt had written nothing. Writers that bypass the
// adapter (another tool, the KurrentDB UI) are not checked. Once the append was sent, the
// caller's context no longer cancels it (Options.WriteTimeout bounds it).
//
// # Hash chain
//
// None: PrevHash and Hash are zero, as the port allows. The port's chain
// covers each event's global position and recorded_at, which KurrentDB's
// leader assigns at commit; a client could chain the global log only by
// serialising every writer of every replica through one lock, which is what
// a server store is for not doing. A per-stream chain computed by the writer
// under the exact expected revision would be possible (it would cover the
// writer's fields, not positions), but it would not be the chain the port
// and the auditor's verify describe, so it was left out rather than
// presented as one. Tamper evidence on this store rests on KurrentDB's ACLs
// (events are immutable; deletes leave tombstones), on its backups, and on
// exports made by auditors.
package kurrentstore

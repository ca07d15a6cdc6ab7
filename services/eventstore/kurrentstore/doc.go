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
// An append takes three round trips:
//
//  1. Claim every event id: append to "<ns>.id:<event id>" with expected
//     revision "no stream" and a random claim-event id. The first claim of
//     an id wins; a later one fails and reads which stream owns the id. An id
//     owned by another stream fails the append with ErrDuplicateEventID
//     before anything is written. If some id was claimed by this stream
//     before, the stream is read to see whether the events are already in
//     it (a retry answers Duplicate with the original result).
//  2. Append to "<ns>:S" with the exact expected revision. KurrentDB itself
//     treats a retry of ids stored right after an exact expected revision as
//     idempotent. A wrong-expected-version answer reads the stream to tell a
//     retry of a write that did land (Duplicate), a misused id
//     (ErrDuplicateEventID) and a real conflict (*WrongRevisionError with the
//     stream's revision) apart.
//  3. Read the appended events back: KurrentDB answers an idempotent retry
//     exactly like the original write and reports one position per append,
//     so the read gives each event's position, and the "writer" token in the
//     metadata tells whether this call wrote them or found them (Duplicate).
//
// Guaranteed, as long as every writer of the namespace goes through this
// adapter: an event id is stored in at most one stream, at most once;
// appends with exact expected revisions are optimistic-concurrency safe
// (exactly one of two concurrent writers at one revision wins); a retried
// append of the same ids is answered Duplicate with the first result, also
// after a server restart (the claims are durable, unlike KurrentDB's
// in-memory idempotency cache), and also for Any appends.
//
// Not guaranteed: claims are not transactional with the append, so a claim
// may exist for an append that then failed (a conflict, a crash): that id
// stays bound to its stream, which is what a retry needs, but the claim
// stream stays too (one small stream per attempted event id; KurrentDB
// scavenging does not remove it). Writers that bypass the adapter (another
// tool, the KurrentDB UI) are not checked. Once the append was sent, the
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

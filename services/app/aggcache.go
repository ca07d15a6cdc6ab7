package app

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/google/uuid"
)

// DefaultKeptAggregates is how many aggregates the write path keeps between
// commands by default: every community of ten times CLEA (120,000) and the
// records busy at the time. A kept community takes 418 bytes of heap
// (BenchmarkKeptCommunities: its fields, strings and the cache's entry), so
// the bound is about 84 MB.
const DefaultKeptAggregates = 200_000

// aggregateCache keeps the aggregates the write path wrote recently, each as
// it stood after its last append (domain's Stored), so that the next command
// on one folds in only what was appended since (by another replica or
// process) instead of reading and folding its whole stream.
//
// It replaced a cache of each stream's decoded events, bounded at 200,000
// events. A community gets a visit a week and is read by every record
// raised in it, so its stream grows to dozens of events: at ten times CLEA
// the communities alone hold five million. That cache thrashed, and each
// visit read its community's whole stream back from the store; an import
// there spent most of its time faulting the store's pages back in to do so
// (perf on the importer at 6.7 million events: 38% in bbolt's first touch
// of a page, a quarter more in the kernel mapping pages). An aggregate is a
// few hundred bytes whatever its stream's length. Importing clea, the two
// builds alternated twice: 20,775-22,553 -> 25,586-27,922 events/s, peak RSS
// 1,100 -> 952-957 MB, system CPU 16-18 -> 6-7 s.
//
// It is correct without invalidation because a stream is append-only: a
// kept aggregate is the fold of a prefix of its stream, and the tail read
// from the store brings in whatever anyone else appended. The store stays
// the only source of truth.
//
// A command takes its aggregate out and puts it back only after its append
// succeeded: one that a refused or failed command may have changed is
// dropped, and the next command folds the stream afresh. Within a process
// the per-stream lock queues commands on a stream anyway.
type aggregateCache struct {
	max int // aggregates kept at most; 0 keeps none
	// Streams are spread over shards, each with its own lock and its share
	// of the bound: hundreds of concurrent commands (an import, a busy
	// server) would otherwise queue on one mutex.
	shards [cacheShards]aggShard
}

const cacheShards = 32

// Each shard is a segmented LRU: an aggregate kept for the first time goes
// on probation, one taken and kept again (used twice) whose stream is long
// (protectFrom events or more) is protected, and the probation is evicted
// first. With one LRU, an import's stream of new records (2.6 million
// action points, referrals and feedback items at ten times CLEA, each kept
// when created, most touched again within days) pushed out the communities
// that every visit and every new record needs, and each of those commands
// read its community's whole stream again: dozens of events, where a record
// takes a handful.
type aggShard struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element // of *kept, in one of the lists
	// front: most recently kept; protected holds at most maxProtected.
	probation, protected list.List
	maxProtected         int
	// recs counts the records the kept entries hold (stores without
	// EventLocator only), bounded by maxRecs: a kept community's records
	// grow by one a visit, where the aggregate does not.
	recs, maxRecs int
}

// maxKeptRecords bounds the stream records kept for stores that cannot find
// an event by id: at 80-odd bytes each, about what the decoded-events cache
// this replaced held.
const maxKeptRecords = 200_000

// protectFrom is the stream length from which an aggregate used twice is
// protected: a shorter one is cheap to fold again.
const protectFrom = 8

// kept is an aggregate between commands, with what the write path needs of
// its stream besides the fold.
type kept struct {
	stream string
	agg    any // the aggregate, at its Revision(), no changes pending
	// first is the field time of the stream's first event: nothing may be
	// dated before it (domain.CheckOccurredAt).
	first time.Time
	// recs are the stream's records, kept only for stores that cannot find
	// an event by its id (no eventstore.EventLocator): a repeated
	// idempotency key is looked for in them.
	recs []recordRef
	// used is set when it is taken from the cache: kept again, it is
	// protected.
	used bool
}

// recordRef is what the write path needs of a stored event besides its
// decoded data: its identity and where it landed, for idempotent replay.
type recordRef struct {
	ID          uuid.UUID
	Revision    uint64
	Position    uint64
	RequestHash []byte
}

func newAggregateCache(maxAggregates int) *aggregateCache {
	c := &aggregateCache{max: maxAggregates}
	for i := range c.shards {
		c.shards[i].entries = map[string]*list.Element{}
		c.shards[i].max = max(maxAggregates/cacheShards, 1)
		c.shards[i].maxProtected = c.shards[i].max * 4 / 5
		c.shards[i].maxRecs = maxKeptRecords / cacheShards
	}
	return c
}

// shard returns the shard of stream (FNV-1a of its name).
func (c *aggregateCache) shard(stream string) *aggShard {
	h := uint32(2166136261)
	for i := 0; i < len(stream); i++ {
		h = (h ^ uint32(stream[i])) * 16777619
	}
	return &c.shards[h%cacheShards]
}

// take removes and returns the aggregate kept for stream.
func (c *aggregateCache) take(stream string) (*kept, bool) {
	if c.max <= 0 {
		return nil, false
	}
	sh := c.shard(stream)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	el, ok := sh.entries[stream]
	if !ok {
		return nil, false
	}
	k := sh.remove(el)
	k.used = true
	return k, true
}

// keep puts k back (or in) as the most recently used of its segment, and
// drops the least recently used beyond the bound, probation first.
func (c *aggregateCache) keep(k *kept) {
	if c.max <= 0 {
		return
	}
	sh := c.shard(k.stream)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if el, ok := sh.entries[k.stream]; ok {
		// Kept meanwhile by a command that loaded the stream afresh while
		// this one held it out: the later keep wins.
		sh.remove(el)
	}
	if r, ok := k.agg.(interface{ Revision() uint64 }); ok && k.used && r.Revision() >= protectFrom {
		sh.entries[k.stream] = sh.protected.PushFront(k)
	} else {
		sh.entries[k.stream] = sh.probation.PushFront(k)
	}
	sh.recs += len(k.recs)
	for sh.protected.Len() > sh.maxProtected {
		old := sh.remove(sh.protected.Back())
		sh.entries[old.stream] = sh.probation.PushFront(old)
		sh.recs += len(old.recs)
	}
	for n := sh.probation.Len() + sh.protected.Len(); n > 1 && (n > sh.max || sh.recs > sh.maxRecs); n-- {
		victim := sh.probation.Back()
		if victim == nil {
			victim = sh.protected.Back()
		}
		sh.remove(victim)
	}
}

// remove takes el out of its segment and the index.
func (sh *aggShard) remove(el *list.Element) *kept {
	// An element is in one list; Remove leaves another list's alone.
	sh.probation.Remove(el)
	sh.protected.Remove(el)
	k := el.Value.(*kept)
	delete(sh.entries, k.stream)
	sh.recs -= len(k.recs)
	return k
}

// current returns the aggregate of stream as the store holds it now: the
// kept one with what was appended since folded in, or the whole stream
// folded by load. The caller owns it until it keeps it again.
func current[A aggregate](ctx context.Context, w *Writer, stream string, load func([]domain.Event) (A, error)) (A, *kept, error) {
	var zero A
	if k, ok := w.aggs.take(stream); ok {
		if a, ok := k.agg.(A); ok && len(a.Changes()) == 0 {
			recorded, tail, err := readTail(ctx, w.store, stream, a.Revision())
			if err != nil {
				return zero, nil, err
			}
			if err := a.Apply(tail); err == nil {
				if w.locator == nil {
					k.recs = appendRefs(k.recs, recorded)
				}
				return a, k, nil
			}
			// A kept aggregate that cannot take its own stream's tail is
			// not trusted further: the stream is folded afresh, which
			// reports what is wrong with it.
		}
	}
	recorded, events, err := readTail(ctx, w.store, stream, 0)
	if err != nil {
		return zero, nil, err
	}
	a, err := load(events)
	if err != nil {
		return zero, nil, fmt.Errorf("loading %s: %w", stream, err)
	}
	k := &kept{stream: stream, agg: a}
	if len(recorded) > 0 {
		k.first = recorded[0].Meta.OccurredAt
	}
	if w.locator == nil {
		k.recs = appendRefs(nil, recorded)
	}
	return a, k, nil
}

// readTail reads and decodes the events of stream after revision after. It
// checks that they continue it, so that a store that does not keep streams
// append-only is reported rather than silently mixed.
func readTail(ctx context.Context, s eventstore.Store, stream string, after uint64) ([]eventstore.RecordedEvent, []domain.Event, error) {
	recorded, err := readStreamAfter(ctx, s, stream, after)
	if err != nil {
		return nil, nil, err
	}
	for i := range recorded {
		if want := after + uint64(i) + 1; recorded[i].Revision != want {
			return nil, nil, fmt.Errorf("reading %s: revision %d where %d belongs", stream, recorded[i].Revision, want)
		}
	}
	events, err := decodeAll(recorded)
	return recorded, events, err
}

// appendRefs appends to refs what replay needs of each recorded event.
func appendRefs(refs []recordRef, recorded []eventstore.RecordedEvent) []recordRef {
	for i := range recorded {
		ev := &recorded[i]
		refs = append(refs, recordRef{ID: ev.ID, Revision: ev.Revision, Position: ev.Position, RequestHash: ev.Meta.RequestHash})
	}
	return refs
}

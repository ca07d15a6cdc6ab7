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

// DefaultStreamCacheEvents is how many events the write path keeps decoded
// by default: about 50 MB, a few thousand busy aggregates.
const DefaultStreamCacheEvents = 200_000

// streamCache keeps the streams the write path loaded recently, decoded, so
// that the next command on one reads only what was appended since (its
// tail) instead of the whole stream. A community gets a visit a week for 40
// weeks and every action point, referral and feedback item raised there
// loads it too; without the cache each of those commands re-reads and
// re-decodes the whole community stream.
//
// It is correct without any invalidation because a stream is append-only:
// the first n events of a stream never change, so a cached prefix is always
// a prefix, and the tail read from the store brings in whatever anyone else
// (another replica, another process) appended. The store stays the only
// source of truth; the cache only saves decoding.
//
// Decoded events are shared between loads. That is safe because nothing
// mutates an event after decoding: aggregates copy what they keep in apply,
// and commands record new events rather than change old ones.
type streamCache struct {
	store eventstore.Store
	max   int // events kept at most; 0 disables the cache
	// Streams are spread over shards, each with its own lock and its share
	// of the bound: hundreds of concurrent commands (an import, a busy
	// server) would otherwise queue on one mutex.
	shards [cacheShards]cacheShard
}

const cacheShards = 32

type cacheShard struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element // of *cachedStream
	lru     list.List                // front: most recently used
	held    int                      // events held
}

// cachedStream is a decoded prefix of one stream. Its slices only grow (at
// indexes beyond what any caller was handed), under mu.
type cachedStream struct {
	stream  string
	counted int // events of this entry in cacheShard.held; under cacheShard.mu
	mu      sync.Mutex
	recs    []recordRef
	events  []domain.Event
}

// recordRef is what the write path needs of a stored event besides its
// decoded data: its identity and where it landed, for idempotent replay.
type recordRef struct {
	ID          uuid.UUID
	Revision    uint64
	Position    uint64
	RequestHash []byte
	// OccurredAt is the event's field time: a new event may not be dated
	// before the stream's first (domain.CheckOccurredAt).
	OccurredAt time.Time
}

func newStreamCache(store eventstore.Store, maxEvents int) *streamCache {
	c := &streamCache{store: store, max: maxEvents}
	for i := range c.shards {
		c.shards[i].entries = map[string]*list.Element{}
		c.shards[i].max = max(maxEvents/cacheShards, 1)
	}
	return c
}

// shard returns the shard of stream (FNV-1a of its name).
func (c *streamCache) shard(stream string) *cacheShard {
	h := uint32(2166136261)
	for i := 0; i < len(stream); i++ {
		h = (h ^ uint32(stream[i])) * 16777619
	}
	return &c.shards[h%cacheShards]
}

// load returns the whole of stream, decoded: the cached prefix and its tail,
// freshly read. The slices returned are the caller's to read, never to
// append to.
func (c *streamCache) load(ctx context.Context, stream string) ([]recordRef, []domain.Event, error) {
	if c.max <= 0 {
		return loadUncached(ctx, c.store, stream, nil, nil)
	}
	sh := c.shard(stream)
	e := sh.entry(stream)
	e.mu.Lock()
	recs, events, err := loadUncached(ctx, c.store, stream, e.recs, e.events)
	if err == nil {
		e.recs, e.events = recs, events
	}
	n := len(e.recs)
	recs, events = e.recs[:n:n], e.events[:n:n]
	e.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	sh.grew(e, n)
	return recs, events, nil
}

// appended adds events this process has just appended to stream, so the
// next command on it need not read them back. They are exactly what the
// store now holds at res's revisions (the append was exact, and a decoded
// event equals the one marshalled, see domain's round-trip tests). They are
// added only where they continue the cached prefix: another command may
// have read them back already, or the stream may have left the cache. A
// store whose positions within one append are not consecutive (the port
// allows gaps) does not say where the inner events landed, so those appends
// are left for the next read.
func (c *streamCache) appended(stream string, res eventstore.AppendResult, data []eventstore.EventData, events []domain.Event) {
	n := uint64(len(data))
	if c.max <= 0 || n == 0 || len(events) != len(data) || res.LastRevision-res.FirstRevision+1 != n || res.LastPosition-res.FirstPosition+1 != n {
		return
	}
	sh := c.shard(stream)
	sh.mu.Lock()
	el, ok := sh.entries[stream]
	sh.mu.Unlock()
	if !ok {
		return
	}
	e := el.Value.(*cachedStream)
	e.mu.Lock()
	if uint64(len(e.recs)) != res.FirstRevision-1 {
		e.mu.Unlock()
		return
	}
	for i := range data {
		e.recs = append(e.recs, recordRef{ID: data[i].ID, Revision: res.FirstRevision + uint64(i),
			Position: res.FirstPosition + uint64(i), RequestHash: data[i].Meta.RequestHash, OccurredAt: data[i].Meta.OccurredAt})
		e.events = append(e.events, events[i])
	}
	size := len(e.recs)
	e.mu.Unlock()
	sh.grew(e, size)
}

// entry returns the entry of stream, creating it, and marks it used.
func (c *cacheShard) entry(stream string) *cachedStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[stream]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*cachedStream)
	}
	e := &cachedStream{stream: stream}
	c.entries[stream] = c.lru.PushFront(e)
	return e
}

// grew accounts for e now holding n events and evicts the least recently
// used streams beyond the bound. An evicted entry may still be in use by a
// command; it simply is not found by the next one.
func (c *cacheShard) grew(e *cachedStream, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.stream]; ok && el.Value == e && n > e.counted {
		c.held += n - e.counted
		e.counted = n
	}
	for c.held > c.max && c.lru.Len() > 1 {
		el := c.lru.Back()
		old := el.Value.(*cachedStream)
		c.lru.Remove(el)
		delete(c.entries, old.stream)
		c.held -= old.counted
	}
}

// loadUncached appends to recs and events the events of stream after
// len(recs), read from the store. It checks that the tail continues the
// prefix, so a store that does not keep streams append-only is reported
// rather than silently mixed.
func loadUncached(ctx context.Context, s eventstore.Store, stream string, recs []recordRef, events []domain.Event) ([]recordRef, []domain.Event, error) {
	after := uint64(len(recs))
	for {
		page, err := s.ReadStream(ctx, stream, after, readPage)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", stream, err)
		}
		for i := range page {
			ev := &page[i]
			if ev.Revision != after+1 {
				return nil, nil, fmt.Errorf("reading %s: revision %d follows revision %d", stream, ev.Revision, after)
			}
			d, err := domain.Unmarshal(ev.Type, ev.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("stream %s revision %d: %w", ev.Stream, ev.Revision, err)
			}
			recs = append(recs, recordRef{ID: ev.ID, Revision: ev.Revision, Position: ev.Position, RequestHash: ev.Meta.RequestHash,
				OccurredAt: ev.Meta.OccurredAt})
			events = append(events, d)
			after = ev.Revision
		}
		if len(page) < readPage {
			return recs, events, nil
		}
	}
}

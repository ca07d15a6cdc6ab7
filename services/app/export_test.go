package app

// EventID exposes how event ids are derived from an idempotency key, for
// the test that pins them to uuid.NewSHA1 (stored ids must never change).
var EventID = eventID

// IDNamespace is the namespace event ids are derived in.
var IDNamespace = idNamespace

// DerivedID exposes how a create's aggregate id is derived from its key.
var DerivedID = derivedID

// KeptCache is the write path's aggregate cache, for its bound's test.
type KeptCache struct{ c *aggregateCache }

func NewKeptCache(aggregates int) *KeptCache { return &KeptCache{newAggregateCache(aggregates)} }

// Keep keeps agg, as it stands, for stream, with recs stream records.
func (k *KeptCache) Keep(stream string, agg any, recs int) {
	k.c.keep(&kept{stream: stream, agg: agg, recs: make([]recordRef, recs)})
}

// StandIn is an aggregate at revision rev, for the cache alone.
func StandIn(rev uint64) any { return standIn(rev) }

type standIn uint64

func (s standIn) Revision() uint64 { return uint64(s) }

// ProtectFrom is the stream length from which an aggregate used twice is
// protected.
const ProtectFrom = protectFrom

// Reuse takes stream's aggregate and keeps it again, as a command does.
func (k *KeptCache) Reuse(stream string) {
	if got, ok := k.c.take(stream); ok {
		k.c.keep(got)
	}
}

// Take reports whether stream was kept, and takes it out.
func (k *KeptCache) Take(stream string) bool { _, ok := k.c.take(stream); return ok }

// Shard returns the shard of stream, for picking names that share one.
func (k *KeptCache) Shard(stream string) int {
	sh := k.c.shard(stream)
	for i := range k.c.shards {
		if &k.c.shards[i] == sh {
			return i
		}
	}
	return -1
}

// MaxKeptRecords is the bound on records kept for stores without EventLocator.
const MaxKeptRecords = maxKeptRecords

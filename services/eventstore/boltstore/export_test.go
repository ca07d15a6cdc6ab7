package boltstore

import "github.com/actionledger/actionledger/services/eventstore"

// Test-only access to the layout, so that tests can damage a closed file
// with bbolt directly and the production API stays free of test hooks.
var (
	BucketEvents = bucketEvents
	BucketIndex  = bucketIndex
	BucketMeta   = bucketMeta
	KeyVersion   = keyVersion
)

// PosKey is the events-bucket key of pos.
func PosKey(pos uint64) []byte { return posKey(nil, pos) }

// QueueLen reports how many appends wait for the writer.
func QueueLen(s *Store) int { return len(s.reqs) }

// RecordSize is the stored size of ev, for benchmark baselines that write
// values of the same size.
func RecordSize(stream string, ev eventstore.EventData) int {
	rec := eventstore.RecordedEvent{EventData: ev, Stream: stream, Revision: 1, Position: 1}
	return len(appendRecord(nil, &rec))
}

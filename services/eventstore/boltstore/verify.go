package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
)

// VerifyResult is the outcome of walking the hash chain.
type VerifyResult struct {
	// Count is how many events, from position 1, have an intact chain. When
	// the log disagrees with the recorded head, BrokenAt can be <= Count.
	Count uint64
	// HeadHash is the hash of the last intact event (zero when none).
	HeadHash [32]byte
	// BrokenAt is the first position that fails verification; 0 when the
	// whole log is intact.
	BrokenAt uint64
	// Reason says why BrokenAt failed.
	Reason string
}

// Intact reports whether the whole log verified.
func (r VerifyResult) Intact() bool { return r.BrokenAt == 0 }

// verifyChunk is how many events Verify checks per read transaction. A long
// read transaction would stop the writer from growing the mmap, so the walk
// is split; appends that land meanwhile are verified too.
const verifyChunk = 4096

// Verify recomputes the hash chain over the whole log, checks the index
// entry beside each event, and reports the first break. Damage is a result, not an error: the error is only for a done ctx
// or a closed store.
func (s *Store) Verify(ctx context.Context) (VerifyResult, error) {
	var res VerifyResult
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		done := false
		err := s.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketEvents).Cursor()
			idx := tx.Bucket(bucketIndex)
			n := 0
			k, v := c.Seek(posKey(nil, res.Count+1))
			for ; k != nil && n < verifyChunk; k, v = c.Next() {
				n++
				if broken := verifyOne(&res, k, v, idx.Get(k)); broken {
					done = true
					return nil
				}
			}
			if k != nil {
				return nil
			}
			// End of the log: the meta head, written in the same commits,
			// must agree, or events were cut off the end.
			done = true
			head, err := decodeHead(tx.Bucket(bucketMeta).Get(keyHead))
			switch {
			case err != nil:
				res.BrokenAt, res.Reason = res.Count+1, err.Error()
			case head.pos != res.Count:
				res.BrokenAt = min(head.pos, res.Count) + 1
				res.Reason = fmt.Sprintf("log ends at position %d but the recorded head is %d", res.Count, head.pos)
			case head.hash != res.HeadHash:
				res.BrokenAt = res.Count
				res.Reason = "hash of the last event differs from the recorded head hash"
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		if done {
			return res, nil
		}
	}
}

// verifyOne checks the event stored under k and extends res, or records the
// break and reports true.
func verifyOne(res *VerifyResult, k, v, entry []byte) (broken bool) {
	want := res.Count + 1
	if len(k) != 8 {
		res.BrokenAt, res.Reason = want, fmt.Sprintf("malformed key %x", k)
		return true
	}
	if pos := binary.BigEndian.Uint64(k); pos != want {
		res.BrokenAt, res.Reason = want, fmt.Sprintf("position %d missing (next stored is %d)", want, pos)
		return true
	}
	ev, err := decodeRecord(want, v)
	if err != nil {
		res.BrokenAt, res.Reason = want, err.Error()
		return true
	}
	if ev.PrevHash != res.HeadHash {
		res.BrokenAt, res.Reason = want, "previous hash does not match the hash of the event before"
		return true
	}
	if eventstore.ChainHash(ev.PrevHash, &ev) != ev.Hash {
		res.BrokenAt, res.Reason = want, "hash does not match the event's content"
		return true
	}
	// The index is not covered by the chain, but appends and stream reads
	// trust it, so it must describe the very event it sits beside.
	id, stream, err := decodeIndexEntry(want, entry)
	if err != nil || id != ev.ID || string(stream) != ev.Stream {
		res.BrokenAt, res.Reason = want, "index entry does not match the event"
		return true
	}
	res.Count, res.HeadHash = want, ev.Hash
	return false
}

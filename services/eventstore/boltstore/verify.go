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
			idx := indexCursor{c: tx.Bucket(bucketIndex).Cursor()}
			// A damaged head is reported at the end of the log, below;
			// meanwhile every event must have its index entry.
			idx.upTo = ^uint64(0)
			if head, err := decodeHead(tx.Bucket(bucketMeta).Get(keyHead)); err == nil {
				if idx.upTo, err = indexedUpTo(tx, head.pos); err != nil {
					res.BrokenAt, res.Reason = res.Count+1, err.Error()
					done = true
					return nil
				}
			}
			n := 0
			k, v := c.Seek(posKey(nil, res.Count+1))
			for ; k != nil && n < verifyChunk; k, v = c.Next() {
				n++
				if broken := verifyOne(&res, k, v, &idx); broken {
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
func verifyOne(res *VerifyResult, k, v []byte, idx *indexCursor) (broken bool) {
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
	// trust it, so it must describe the very event it sits beside. Events
	// after the position it covers are indexed from their records at open.
	if want <= idx.upTo {
		id, stream, err := idx.at(want)
		if err != nil || id != ev.ID || string(stream) != ev.Stream {
			res.BrokenAt, res.Reason = want, "index entry does not match the event"
			return true
		}
	}
	res.Count, res.HeadHash = want, ev.Hash
	return false
}

// indexCursor finds the index entry of each position in turn, whichever kind
// of entry (see indexEntries) holds it.
type indexCursor struct {
	c       *bolt.Cursor
	upTo    uint64 // the position the bucket covers the log up to
	entries indexEntries
	valid   bool // entries was read from the bucket and not failed since
}

// at returns the id and stream the index holds for pos. Called for
// consecutive positions it walks the bucket once; otherwise it seeks.
func (x *indexCursor) at(pos uint64) (id [16]byte, stream []byte, err error) {
	if !x.valid || pos != x.entries.next || !x.entries.more() {
		var k, v []byte
		if x.valid && pos == x.entries.last+1 {
			k, v = x.c.Next()
		} else {
			k, v = x.seek(pos)
		}
		x.valid = false
		if k == nil {
			return id, nil, fmt.Errorf("no index entry for position %d", pos)
		}
		e, err := parseIndexEntry(k, v)
		if err != nil {
			return id, nil, err
		}
		if e.next > pos || e.last < pos {
			return id, nil, fmt.Errorf("no index entry for position %d", pos)
		}
		x.entries, x.valid = e, true
		for x.entries.next < pos {
			if _, _, _, err := x.entries.take(); err != nil {
				x.valid = false
				return id, nil, err
			}
		}
	}
	_, id, stream, err = x.entries.take()
	if err != nil {
		x.valid = false
	}
	return id, stream, err
}

// seek returns the entry that starts at pos or, failing that, the one before
// it, which is the only other that can hold pos.
func (x *indexCursor) seek(pos uint64) (k, v []byte) {
	key := posKey(nil, pos)
	k, v = x.c.Seek(key)
	if k != nil && len(k) >= indexKeyLen && string(k[:indexKeyLen]) == string(key) {
		return k, v
	}
	if k == nil {
		return x.c.Last()
	}
	return x.c.Prev()
}

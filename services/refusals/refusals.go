// Package refusals keeps the writes each user had refused, beside the event
// log and never in it (a refused write changed nothing in the field): the
// app.RefusalLog port, in a bbolt file of its own in the server's data
// directory. Every server has one, whatever its event store, so with
// replicas on a shared store each counts the refusals it answered.
package refusals

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/actionledger/actionledger/services/app"
	bolt "go.etcd.io/bbolt"
)

// Bolt is the refusal log in a bbolt file: one bucket per user, keyed by the
// refusal's time (UnixNano, big-endian, so a range scan counts a week) and a
// sequence number that keeps two refusals of one instant apart.
type Bolt struct {
	db *bolt.DB
}

var _ app.RefusalLog = (*Bolt)(nil)

// Open opens (creating it if need be) the refusal log at path.
func Open(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening the refusal log %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// Close closes the file.
func (b *Bolt) Close() error { return b.db.Close() }

// Record implements app.RefusalLog: one fsynced transaction for the lot.
func (b *Bolt) Record(_ context.Context, rs []app.Refusal) error {
	if len(rs) == 0 {
		return nil
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		for _, r := range rs {
			bk, err := tx.CreateBucketIfNotExists([]byte(r.UserID))
			if err != nil {
				return err
			}
			seq, err := bk.NextSequence()
			if err != nil {
				return err
			}
			key := binary.BigEndian.AppendUint64(nil, nanos(r.At))
			key = binary.BigEndian.AppendUint64(key, seq)
			if err := bk.Put(key, binary.BigEndian.AppendUint16(nil, uint16(r.Status))); err != nil {
				return err
			}
		}
		return nil
	})
}

// nanos is t as an unsigned key: times before 1970 (the zero time: "from
// the start") sort first rather than wrapping round to the end.
func nanos(t time.Time) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return uint64(t.UnixNano())
}

// CountsSince implements app.RefusalLog.
func (b *Bolt) CountsSince(ids []string, since time.Time) (map[string]int, error) {
	out := make(map[string]int, len(ids))
	from := binary.BigEndian.AppendUint64(nil, nanos(since))
	err := b.db.View(func(tx *bolt.Tx) error {
		for _, id := range ids {
			bk := tx.Bucket([]byte(id))
			if bk == nil {
				continue
			}
			n := 0
			c := bk.Cursor()
			for k, _ := c.Seek(from); k != nil; k, _ = c.Next() {
				n++
			}
			if n > 0 {
				out[id] = n
			}
		}
		return nil
	})
	return out, err
}

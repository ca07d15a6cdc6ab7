package boltstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/mapped"
)

// Backup writes a consistent copy of the whole file while the store keeps
// taking appends: bbolt's Tx.WriteTo inside one read transaction copies the
// file as of that transaction, and a read transaction never blocks the
// writer (it only keeps the pages it sees from being reused until it ends).
// Every append acknowledged before Backup began is in the copy. One
// exception to "never blocks": a commit that must grow the memory map (it
// doubles, then grows by 1 GiB) waits for read transactions to end, so a
// copy streamed to a slow reader can hold such a commit back.
//
// start is called once the copy's head is known, before any byte is
// written, with what the copy will hold; it returns where to write (an
// HTTP handler sets its headers there).
func (s *Store) Backup(ctx context.Context, start func(eventstore.BackupInfo) (io.Writer, error)) (eventstore.BackupInfo, error) {
	var info eventstore.BackupInfo
	err := s.view(func(tx *bolt.Tx) error {
		defer mapped.Release(s.db.Info().Data, int(tx.Size()))
		head, err := decodeHead(tx.Bucket(bucketMeta).Get(keyHead))
		if err != nil {
			return err
		}
		info = eventstore.BackupInfo{
			Position: head.pos, Events: head.pos, HeadHash: hex.EncodeToString(head.hash[:]),
			Bytes: tx.Size(), TakenAt: s.clock().UTC().Truncate(time.Millisecond),
		}
		w, err := start(info)
		if err != nil {
			return err
		}
		if _, err := tx.WriteTo(ctxWriter{ctx: ctx, w: w}); err != nil {
			return fmt.Errorf("boltstore: backup of %s: %w", s.path, err)
		}
		return nil
	})
	return info, err
}

// ctxWriter stops a copy when its context ends (a client that hung up).
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

package eventstore

import (
	"context"
	"io"
	"time"
)

// Backupper is implemented by a store that can copy itself while it serves
// (the embedded one; KurrentDB has its own backups).
type Backupper interface {
	// Backup writes a consistent copy holding every append acknowledged
	// before it began. start learns what the copy holds before any byte
	// is written and returns where to write it.
	Backup(ctx context.Context, start func(BackupInfo) (io.Writer, error)) (BackupInfo, error)
}

// BackupInfo is what a backup holds: the head of its log.
type BackupInfo struct {
	// Position is the last event's position in the copy, and Events how
	// many events it holds.
	Position uint64 `json:"position"`
	Events   uint64 `json:"events"`
	// HeadHash is the hash chain's head (hex), the value `audit verify`
	// reports for the copy.
	HeadHash string    `json:"head_hash"`
	Bytes    int64     `json:"bytes"`
	TakenAt  time.Time `json:"taken_at"`
}

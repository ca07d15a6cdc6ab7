// Package boltstore is the embedded event store: the eventstore.Store port on
// a single bbolt file, for single-node deployments and for tests.
//
// Durability costs one fsync per bbolt commit, and on this class of machine an
// fsync takes about 0.3 ms, so one commit per append would cap the store near
// 2,000 appends a second. All writes therefore go through one writer goroutine
// that commits whatever appends are queued in a single transaction (group
// commit), while each append still gets its own verdict.
//
// Layout (format version 2). Only the log and its compact index are stored,
// both keyed by position so that every commit appends at the right edge of
// two B+trees; the lookups by event id and by stream are rebuilt in memory at
// open (see index):
//
//	events  position (8 bytes BE) -> record (domain/wire)
//	index   first | last position of a run of events (8+8 bytes BE) ->
//	        for each of its events: event id (16 bytes) | uvarint len | stream
//	        (format 1, still read: position (8 bytes BE) -> event id | stream)
//	meta    "version" -> uvarint; "head" -> position, hash, recorded_at;
//	        "indexed" -> position (8 bytes BE) up to which the index bucket
//	        covers the log (format 2; absent: up to the head)
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/mapped"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// Clock stamps RecordedAt at commit; tests inject it. Default time.Now.
	Clock func() time.Time
	// MaxBatchEvents caps the events committed in one transaction, which
	// bounds the latency one commit adds to the appends queued behind it.
	// Default 1000. A single append larger than the cap is committed alone.
	MaxBatchEvents int
	// OpenTimeout is how long Open waits for the file lock that another
	// process (or another Store in this one) holds. Default 1s; bbolt's own
	// default of waiting forever would hang a second instance silently.
	OpenTimeout time.Duration
}

const (
	defaultMaxBatchEvents = 1000
	defaultOpenTimeout    = time.Second
)

// Store is the bbolt adapter. It is safe for concurrent use.
type Store struct {
	db       *bolt.DB
	path     string
	clock    func() time.Time
	maxBatch int

	// mu guards closed and sends on reqs, so that Close can close reqs
	// without racing an Append that is about to send.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request

	closing    chan struct{} // closed when Close begins; ends subscriptions
	isClosed   atomic.Bool
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
	// writerErr is set by the writer before it ends, read by Close after.
	writerErr error

	// failure is set by the first failed commit. bbolt may have written
	// part of that commit (a meta page before a failed fsync), so neither
	// the file nor the in-memory index can be trusted to continue: the store
	// stops (fail-stop) and a restart rebuilds the index from the file.
	failure atomic.Pointer[error]

	head atomic.Uint64 // last committed position
	// fromImage: the open read the index from its image (image.go).
	fromImage bool
	// scanned counts roughly how many events reads went through since the
	// memory map's pages were last released (see mapped.Release).
	scanned atomic.Uint64
	index   *index
	// recent is the window of events subscriptions last read.
	recent recentReads
	// pending is the writer's overlay for the batch being committed.
	pending *overlay
	// requests recycles answered requests and their encoding buffers:
	// allocating them for every append showed up as garbage collection in
	// the commit path's profile.
	requests sync.Pool
	// headMu guards headCh, the broadcast channel that is closed and replaced
	// after every commit that adds events.
	headMu sync.Mutex
	headCh chan struct{}
}

var _ eventstore.Store = (*Store)(nil)

// Open opens or creates the store file at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.MaxBatchEvents <= 0 {
		opts.MaxBatchEvents = defaultMaxBatchEvents
	}
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = defaultOpenTimeout
	}
	if err := preflight(path); err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	var db *bolt.DB
	err := guard(path, func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout: opts.OpenTimeout,
			// Every commit writes the freelist, so that open need not scan
			// the whole file to rebuild it.
			NoFreelistSync: false,
			FreelistType:   bolt.FreelistMapType,
		})
		return err
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: open %s: file is locked by another process or store (waited %s): %w", path, opts.OpenTimeout, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	var (
		head      headState
		idx       *index
		fromImage bool
	)
	err = guard(path, func() error {
		var fresh bool
		if err := db.View(func(tx *bolt.Tx) error { fresh = tx.Bucket(bucketMeta) == nil; return nil }); err != nil {
			return err
		}
		if fresh {
			// A new file gets its layout: nothing to check or index.
			return db.Update(func(tx *bolt.Tx) error {
				var err error
				if head, err = initLayout(tx); err != nil {
					return err
				}
				idx, _, err = loadIndex(tx, head, func() {}, "")
				return err
			})
		}
		// Every page once (walkPages): a damaged page stops the open here
		// instead of a reader (or the writer) later; open writes nothing.
		// The walk goes side by side with loading the index, which reads
		// in its own transaction: one waits on page faults, the other on
		// the CPU, and one after the other they were most of a restart.
		walked := make(chan error, 1)
		go func() {
			walked <- guard(path, func() error {
				return db.View(func(tx *bolt.Tx) error {
					defer mapped.ReadAhead(path, db.Info().Data, int(tx.Size()))()
					return walkPages(tx, path)
				})
			})
		}()
		loaded := db.View(func(tx *bolt.Tx) error {
			var err error
			if head, err = initLayout(tx); err != nil {
				return err
			}
			release := func() { mapped.Release(db.Info().Data, int(tx.Size())) }
			idx, fromImage, err = loadIndex(tx, head, release, path)
			release()
			return err
		})
		if err := <-walked; err != nil {
			return err
		}
		return loaded
	})
	if err != nil {
		_ = guard(path, db.Close)
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{
		db:         db,
		path:       path,
		clock:      opts.Clock,
		maxBatch:   opts.MaxBatchEvents,
		reqs:       make(chan *request, opts.MaxBatchEvents),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		headCh:     make(chan struct{}),
		index:      idx,
		fromImage:  fromImage,
		pending:    newOverlay(),
	}
	s.head.Store(head.pos)
	go s.writer()
	return s, nil
}

// initLayout creates the buckets of a new file or checks the format of an
// existing one, and returns the head of the log.
func initLayout(tx *bolt.Tx) (headState, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return headState{}, errors.New("file is a bbolt database but not an event store (no meta bucket)")
		}
		for _, name := range [][]byte{bucketEvents, bucketIndex, bucketMeta} {
			if _, err := tx.CreateBucket(name); err != nil {
				return headState{}, fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta = tx.Bucket(bucketMeta)
		if err := meta.Put(keyVersion, binary.AppendUvarint(nil, formatVersion)); err != nil {
			return headState{}, fmt.Errorf("write format version: %w", err)
		}
		return headState{}, nil
	}
	v := meta.Get(keyVersion)
	version, n := binary.Uvarint(v)
	if n <= 0 || n != len(v) {
		return headState{}, errors.New("unreadable format version")
	}
	if version < oldestFormatVersion || version > formatVersion {
		return headState{}, fmt.Errorf("unsupported format version %d (this build reads %d to %d)", version, oldestFormatVersion, formatVersion)
	}
	for _, name := range [][]byte{bucketEvents, bucketIndex} {
		if tx.Bucket(name) == nil {
			return headState{}, fmt.Errorf("bucket %s missing", name)
		}
	}
	return decodeHead(meta.Get(keyHead))
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// Head returns the position of the last committed event.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	if s.isClosed.Load() {
		return 0, eventstore.ErrClosed
	}
	if err := s.failed(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return s.head.Load(), nil
}

// failed returns the error that stopped the store, or nil.
func (s *Store) failed() error {
	if p := s.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops accepting appends, lets the queued ones commit, ends every
// subscription and closes the file. Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.reqs)
		s.mu.Unlock()
		s.isClosed.Store(true)
		close(s.closing)
		<-s.writerDone
		// A store that failed a commit keeps no image: its index is not
		// to be trusted (see failure).
		if s.writerErr == nil && s.failure.Load() == nil {
			s.saveImage()
		}
		s.index.release()
		s.recent.reset()
		s.closeErr = s.writerErr
		// bbolt's Close waits for read transactions in flight.
		if err := s.db.Close(); err != nil {
			s.closeErr = errors.Join(s.closeErr, fmt.Errorf("boltstore: close %s: %w", s.path, err))
		}
	})
	return s.closeErr
}

// headChanged returns the channel that will be closed by the next commit
// that adds events.
func (s *Store) headChanged() <-chan struct{} {
	s.headMu.Lock()
	defer s.headMu.Unlock()
	return s.headCh
}

// publish makes pos the new head and wakes every waiting subscriber. The head
// is stored before the channel is closed so that a subscriber that fetched
// the channel and then saw an old head is sure to be woken.
func (s *Store) publish(pos uint64) {
	s.head.Store(pos)
	s.headMu.Lock()
	close(s.headCh)
	s.headCh = make(chan struct{})
	s.headMu.Unlock()
}

// view runs a read transaction, reporting a closed store as ErrClosed.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if s.isClosed.Load() {
		return eventstore.ErrClosed
	}
	err := guard(s.path, func() error { return s.db.View(fn) })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return eventstore.ErrClosed
	}
	return err
}

package app

import (
	"context"
	"sync"
)

// streamLocks serialises commands on one stream within this process.
// Optimistic concurrency alone stays correct under contention, but every
// loser re-reads and re-decides; a burst of writes to one aggregate (a phone
// syncing a backlog while another is online) would then spend most of its
// time on retries and could exhaust them. Holding a per-stream lock around
// load→decide→append leaves conflicts only between replicas, where the
// bounded retry handles them.
type streamLocks struct {
	mu    sync.Mutex
	locks map[string]*streamLock
}

// streamLock is a one-slot semaphore, so that waiting for it can end with
// the request's context.
type streamLock struct {
	slot  chan struct{}
	users int
}

func newStreamLocks() *streamLocks { return &streamLocks{locks: map[string]*streamLock{}} }

// lock takes the lock of stream and returns its release, or ctx's error if
// ctx ends first.
func (s *streamLocks) lock(ctx context.Context, stream string) (func(), error) {
	s.mu.Lock()
	l := s.locks[stream]
	if l == nil {
		l = &streamLock{slot: make(chan struct{}, 1)}
		s.locks[stream] = l
	}
	l.users++
	s.mu.Unlock()

	select {
	case l.slot <- struct{}{}:
	case <-ctx.Done():
		s.done(stream, l)
		return nil, ctx.Err()
	}
	return func() {
		<-l.slot
		s.done(stream, l)
	}, nil
}

func (s *streamLocks) done(stream string, l *streamLock) {
	s.mu.Lock()
	l.users--
	if l.users == 0 {
		delete(s.locks, stream)
	}
	s.mu.Unlock()
}

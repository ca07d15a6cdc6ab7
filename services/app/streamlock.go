package app

import "sync"

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

type streamLock struct {
	sync.Mutex
	users int
}

func newStreamLocks() *streamLocks { return &streamLocks{locks: map[string]*streamLock{}} }

// lock takes the lock of stream and returns its release.
func (s *streamLocks) lock(stream string) func() {
	s.mu.Lock()
	l := s.locks[stream]
	if l == nil {
		l = &streamLock{}
		s.locks[stream] = l
	}
	l.users++
	s.mu.Unlock()

	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		l.users--
		if l.users == 0 {
			delete(s.locks, stream)
		}
		s.mu.Unlock()
	}
}

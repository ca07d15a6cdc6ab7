package boltstore

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// releaseTick is how often releaseWhile drops the pages a pass touched.
const releaseTick = 10 * time.Millisecond

// releaseWhile releases the store's mapped pages (see releasePages) every
// releaseTick until stop is called, and once more then, for a pass over
// the file that cannot stop to release them itself: Bucket.Stats at open
// walks every page in one call, and without this all of them (the whole
// file: 700 MB for a national history, ten times that for a region) were
// resident at once, the process's peak RSS. Dropping a page under a reader
// is harmless: the mapping is shared and read only, so the next read faults
// the same bytes back in from the page cache.
//
// Call stop before the transaction that covers the range ends: a write
// transaction may remap the file once none is open.
func releaseWhile(addr uintptr, size int) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(releaseTick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				releasePages(addr, size)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		releasePages(addr, size)
	}
}

// ReleaseMemory drops this process's mappings of the store's file (see
// releasePages). Appends and the small reads of a write path fault in
// index and stream pages all over the file, and nothing releases them the
// way a scan does: a long write-only job (an import of millions of events)
// would end with the whole file counted in its resident memory. Such a job
// calls this now and then; pages it needs again come back from the page
// cache with a minor fault.
func (s *Store) ReleaseMemory() {
	_ = s.view(func(tx *bolt.Tx) error {
		releasePages(s.db.Info().Data, int(tx.Size()))
		return nil
	})
}

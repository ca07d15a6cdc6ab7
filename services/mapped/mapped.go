// Package mapped gives back the resident memory of a read-only shared
// memory map (bbolt's, of events.db and projections.db) without touching
// the file: both the store and the read models decode straight from such a
// map, and a pass over it would otherwise leave every page it touched
// counted in the process's RSS.
package mapped

import "time"

// tick is how often While drops the pages a pass touched.
const tick = 10 * time.Millisecond

// While releases the pages of the map at addr (see Release) every tick until
// stop is called, and once more then, for a pass that cannot stop to release
// them itself: the read models decoding their snapshots. A pass that can
// should release as it goes (the store's page walk at open does): this
// goroutine waits for a core behind the pass it is meant to keep up with.
// Dropping a page under a reader is harmless: the mapping is shared and read
// only, so the next read faults the same bytes back in from the page cache.
//
// Call stop before the transaction that covers the range ends: a write
// transaction may remap the file once none is open.
func While(addr uintptr, size int) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				Release(addr, size)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		Release(addr, size)
	}
}

package projections

import "time"

// releaseTick is how often releaseWhile drops the pages decoders touched.
const releaseTick = 10 * time.Millisecond

// releaseWhile releases the read-model file's mapped pages (releasePages)
// every releaseTick until stop is called, and once more then. The snapshots
// are decoded straight from bbolt's memory map; without this every page of
// them (a quarter of a gigabyte for a national history) stayed resident
// beside the models decoded from them, adding to the server's peak RSS.
//
// Call stop before the transaction that covers the range ends: committing a
// write transaction may remap the file.
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

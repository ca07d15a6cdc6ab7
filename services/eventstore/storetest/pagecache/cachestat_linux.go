package pagecache

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// sysCachestat is cachestat's number, the same on every Linux architecture
// (it was added after the syscall tables were unified).
const sysCachestat = 451

// Unsynced returns the pages of the file at path that a power loss would
// lose: dirty or under writeback.
func Unsynced(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var rng [2]uint64 // offset, length (0: to the end)
	var cs [5]uint64  // cache, dirty, writeback, evicted, recently evicted
	if _, _, errno := syscall.Syscall6(sysCachestat, f.Fd(), uintptr(unsafe.Pointer(&rng)), uintptr(unsafe.Pointer(&cs)), 0, 0, 0); errno != 0 {
		if errors.Is(errno, syscall.ENOSYS) {
			return 0, errors.New("the kernel has no cachestat(2) (Linux 6.5+)")
		}
		return 0, errno
	}
	return cs[1] + cs[2], nil
}

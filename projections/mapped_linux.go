//go:build linux

package projections

import "syscall"

// releasePages drops this process's mappings of size bytes of the
// read-model file's memory map at addr (MADV_DONTNEED). bbolt maps the file
// shared and read only and writes with pwrite, so the pages stay in the
// page cache and a later read faults them back in: only the process's
// resident memory shrinks. See releaseWhile.
func releasePages(addr uintptr, size int) {
	if addr == 0 || size <= 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED)
}

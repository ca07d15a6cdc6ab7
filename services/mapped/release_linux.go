//go:build linux

package mapped

import "syscall"

// Release drops this process's mappings of size bytes of a memory map at
// addr (MADV_DONTNEED). bbolt maps its file shared and read only and writes
// with pwrite, so nothing is lost: the pages stay in the kernel's page cache
// and a later read maps them again with a minor fault.
//
// Call it only while a bbolt transaction is open: bbolt remaps (and unmaps
// the old range) only when no transaction holds the mapping, so the range is
// the caller's for the whole call.
func Release(addr uintptr, size int) {
	if addr == 0 || size <= 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED)
}

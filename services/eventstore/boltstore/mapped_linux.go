//go:build linux

package boltstore

import "syscall"

// releasePages drops this process's mappings of size bytes of the store's
// memory map at addr (MADV_DONTNEED). The file is mapped shared and read
// only, and bbolt writes with pwrite, so nothing is lost: the pages stay in
// the kernel's page cache and a later read maps them again with a minor
// fault. Without this, one pass over the log (opening, a rebuild, a verify)
// leaves the whole file counted in the process's resident memory — bbolt
// interleaves the index and the records, and the kernel maps the pages
// around every one it faults in.
//
// It must only be called while a transaction is open: bbolt remaps (and
// unmaps the old range) only when no transaction holds the mapping, so the
// range is the store's for the whole call.
func releasePages(addr uintptr, size int) {
	if addr == 0 || size <= 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED)
}

//go:build !linux

package projections

// releasePages is a no-op where madvise is not used; see mapped_linux.go.
func releasePages(addr uintptr, size int) {}

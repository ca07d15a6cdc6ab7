//go:build !linux

package mapped

// Release is a no-op where madvise is not used; see release_linux.go.
func Release(addr uintptr, size int) {}

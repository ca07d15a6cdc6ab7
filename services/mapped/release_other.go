//go:build !linux

package mapped

// Release is a no-op where madvise is not used; see release_linux.go.
func Release(addr uintptr, size int) {}

// ReadAhead does nothing here; see release_linux.go.
func ReadAhead(path string, addr uintptr, size int) (stop func()) { return func() {} }

// FileResident is not known where /proc is not read; see release_linux.go.
func FileResident() (n int64, ok bool) { return 0, false }

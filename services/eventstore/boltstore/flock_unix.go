//go:build unix

package boltstore

import (
	"os"
	"syscall"
)

// lockedElsewhere reports whether another open of the file (another process,
// or another Store here) holds bbolt's lock on it. Its meta pages may then be
// mid-write, so preflight leaves the file to bolt.Open, which says it is
// locked.
func lockedElsewhere(f *os.File) (locked bool, unlock func()) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return err == syscall.EWOULDBLOCK, func() {}
	}
	return false, func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
}

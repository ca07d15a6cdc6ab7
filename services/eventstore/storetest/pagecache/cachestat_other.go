//go:build !linux

package pagecache

import "errors"

// Unsynced needs Linux's cachestat(2).
func Unsynced(string) (uint64, error) {
	return 0, errors.New("observing the page cache needs Linux 6.5+ (cachestat)")
}

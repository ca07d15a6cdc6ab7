// Package pagecache lets tests see what a power loss would lose: the pages
// of a file that are still only in the kernel's page cache (dirty or under
// writeback), through cachestat(2) on Linux 6.5+. A crash test that kills
// the process keeps the page cache, so it cannot tell a store that syncs
// from one that does not; this can. The embedded store's own test and the
// server's end-to-end test share it.
package pagecache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Observable checks that Unsynced tells a written file from a synced one in
// dir, or says why not (tmpfs never writes back; old kernels lack the call).
func Observable(dir string) error {
	f, err := os.CreateTemp(dir, "control")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 64<<10)); err != nil {
		return err
	}
	n, err := Unsynced(f.Name())
	switch {
	case err != nil:
		return err
	case n == 0:
		return errors.New("a written, unsynced file shows no dirty pages here (tmpfs, or writeback raced the check)")
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if n, err := Unsynced(f.Name()); err != nil || n != 0 {
		return fmt.Errorf("a synced file still shows %d dirty pages (%v): this filesystem does not write back", n, err)
	}
	return nil
}

// Dir is a directory where unsynced pages can be observed: the test's
// temporary directory or, when that is on tmpfs, one beside the calling
// package's sources (on a disk), removed afterwards. Where neither will do
// the test is skipped, saying why — or failed under CI=true, where a skip
// would hide the check.
func Dir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	err := Observable(dir)
	if err == nil {
		return dir
	}
	local, lerr := os.MkdirTemp(".", ".powerloss-")
	if lerr == nil {
		local, lerr = filepath.Abs(local)
	}
	if lerr == nil {
		t.Cleanup(func() { os.RemoveAll(local) })
		if lerr = Observable(local); lerr == nil {
			return local
		}
		err = fmt.Errorf("%v; and in %s: %v", err, local, lerr)
	}
	msg := fmt.Sprintf("cannot observe unsynced pages: %v", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

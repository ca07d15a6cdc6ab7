//go:build linux

package tests_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestAcknowledgedWriteIsOnDisk: the embedded store as the server wires it
// puts every write on disk before the API answers 2xx. A power loss keeps
// what reached the disk and loses the page cache; SIGKILL (the crash tests)
// keeps the page cache, so it cannot tell. After each acknowledged write the
// kernel is asked (cachestat(2), Linux 6.5+) how many pages of events.db are
// dirty or under writeback — what a power loss at that instant would lose —
// and the test fails if any are. services/eventstore/boltstore has the same
// check on the store alone; this one covers the server's own wiring of it.
func TestAcknowledgedWriteIsOnDisk(t *testing.T) {
	dir, err := observableDir(t)
	if err != nil {
		msg := fmt.Sprintf("cannot observe unsynced pages: %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	e := startIn(t, dir)
	db := filepath.Join(e.dataDir, "events.db")
	check := func(what string, res response) {
		t.Helper()
		// The acknowledged event is in the file (read back through the
		// store's map of it) ...
		if pos := uint64(res.num("position")); pos != 0 {
			recs, err := e.main.Store().ReadAll(t.Context(), pos-1, 1)
			if err != nil || len(recs) != 1 || recs[0].Position != pos {
				t.Fatalf("%s: acknowledged at %d, not read back: %v", what, pos, err)
			}
		}
		// ... and nothing of the file is left unsynced.
		n, err := unsyncedPages(db)
		if err != nil {
			t.Fatalf("cachestat %s: %v", db, err)
		}
		if n != 0 {
			t.Fatalf("%s was acknowledged with %d pages of events.db not yet on disk: a power loss now would lose it", what, n)
		}
	}
	e.staff()
	check("creating the users", response{})
	e.community("KEN-1")
	check("registering and triggering a community", response{})
	for i := range 15 {
		id := fmt.Sprintf("AP-%d", i)
		check("raising "+id, e.actionPoint(id, "KEN-1"))
		check("starting "+id, e.must(http.StatusOK, req{method: "POST", path: "/v1/action-points/" + id + "/start", token: "mob",
			body: map[string]any{"note": strings.Repeat("n", 100*i)}}))
	}
}

// cachestat(2): the same number on every Linux architecture.
const sysCachestat = 451

// unsyncedPages returns the pages of the file at path that are dirty or
// under writeback: not yet on disk.
func unsyncedPages(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var rng [2]uint64 // offset, length (0: to the end)
	var cs [5]uint64  // cache, dirty, writeback, evicted, recently evicted
	if _, _, errno := syscall.Syscall6(sysCachestat, f.Fd(), uintptr(unsafe.Pointer(&rng)), uintptr(unsafe.Pointer(&cs)), 0, 0, 0); errno != 0 {
		return 0, errno
	}
	return cs[1] + cs[2], nil
}

// pagesObservable checks that unsyncedPages tells a written file from a
// synced one in dir (not on tmpfs, nor on a kernel without cachestat).
func pagesObservable(dir string) error {
	f, err := os.CreateTemp(dir, "control")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 64<<10)); err != nil {
		return err
	}
	n, err := unsyncedPages(f.Name())
	switch {
	case errors.Is(err, syscall.ENOSYS):
		return errors.New("the kernel has no cachestat(2) (Linux 6.5+)")
	case err != nil:
		return err
	case n == 0:
		return errors.New("a written, unsynced file shows no dirty pages")
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if n, err := unsyncedPages(f.Name()); err != nil || n != 0 {
		return fmt.Errorf("a synced file still shows %d dirty pages (%v)", n, err)
	}
	return nil
}

// observableDir is a directory where unsynced pages can be observed: the
// test's temporary directory, or, when that is on tmpfs (whose pages are
// never written back), one beside the package's sources, which are on a
// disk. It returns "" and why when neither will do.
func observableDir(t *testing.T) (string, error) {
	t.Helper()
	dir := t.TempDir()
	err := pagesObservable(dir)
	if err == nil {
		return dir, nil
	}
	local, lerr := os.MkdirTemp(".", ".powerloss-")
	if lerr == nil {
		local, lerr = filepath.Abs(local)
	}
	if lerr != nil {
		return "", err
	}
	t.Cleanup(func() { os.RemoveAll(local) })
	if lerr := pagesObservable(local); lerr != nil {
		return "", fmt.Errorf("%v; and in %s: %v", err, local, lerr)
	}
	return local, nil
}

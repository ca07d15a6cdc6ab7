//go:build linux

package tests_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actionledger/actionledger/services/eventstore/storetest/pagecache"
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
	e := startIn(t, pagecache.Dir(t))
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
		n, err := pagecache.Unsynced(db)
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

package tests_test

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBackupUnderLoadAndRestore: a backup taken through the admin route while
// writers keep writing holds every write acknowledged before it began;
// restore verifies the copy and makes it a data dir that serves them, with
// the chain intact.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	e := start(t)
	e.staff()
	e.community("KEN-B1")
	e.problem(req{method: "GET", path: "/v1/admin/backup", token: "mob"}, http.StatusForbidden, "forbidden", "")

	var (
		mu    sync.Mutex
		acked []string // action points whose creation was acknowledged
		stop  atomic.Bool
		wg    sync.WaitGroup
		next  atomic.Int64
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				id := "KEN-B1-AP" + strconv.FormatInt(next.Add(1), 10)
				code, err := post(e.base, e.tokens["mob"], "k-"+id, "/v1/action-points", map[string]any{
					"id": id, "community_id": "KEN-B1", "title": "Writer " + strconv.Itoa(w), "category": "hygiene", "kind": "one_off", "due_date": "2015-03-01"})
				if err == nil && code == http.StatusCreated {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	waitAcked := func(n int) {
		for {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			runtime.Gosched()
		}
	}
	// Let some writes land, then take the backup while they go on.
	waitAcked(50)
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	out := filepath.Join(t.TempDir(), "backup.db")
	stdout, stderr, code := runCLI(t, []string{"ACTIONLEDGER_ADMIN_TOKEN=" + adminToken}, "backup", "--server", e.base, "--out", out)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "head hash ") || !strings.Contains(stdout, "head position ") {
		t.Errorf("backup does not report its head: %s", stdout)
	}
	// Writes go on after the backup too.
	waitAcked(len(before) + 20)
	stop.Store(true)
	wg.Wait()
	if _, err := os.Stat(out + ".partial"); err == nil {
		t.Errorf("the partial file was left behind")
	}

	// A data dir that is not empty is refused; a damaged copy is refused
	// and leaves no store behind.
	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, nil, "restore", "--from", out, "--data-dir", busy); code != 1 || !strings.Contains(stderr, "not empty") {
		t.Errorf("restore into a non-empty dir: exit %d %s", code, stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(damaged, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	badDir := filepath.Join(t.TempDir(), "bad")
	if _, stderr, code := runCLI(t, nil, "restore", "--from", damaged, "--data-dir", badDir); code != 1 || !strings.Contains(stderr, "damaged") {
		t.Errorf("restore of a damaged copy: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(badDir, "events.db")); err == nil {
		t.Errorf("a damaged copy became a data dir")
	}

	dir := filepath.Join(t.TempDir(), "restored")
	stdout, stderr, code = runCLI(t, nil, "restore", "--from", out, "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "verified") {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout, stderr, code := runCLI(t, nil, "audit", "verify", "--data-dir", dir); code != 0 || !strings.Contains(stdout, `"intact": true`) && !strings.Contains(stdout, `"intact":true`) {
		t.Fatalf("verify of the restored dir: exit %d\n%s%s", code, stdout, stderr)
	}

	e.stop()
	r := startIn(t, dir)
	r.tokens = e.tokens
	for _, id := range before {
		if res := r.do(req{method: "GET", path: "/v1/action-points/" + id, token: "mob"}); res.status != http.StatusOK {
			t.Errorf("%s was acknowledged before the backup began, and the restored store answers %d", id, res.status)
		}
	}
	t.Logf("%d writes acknowledged before the backup, %d in all", len(before), len(acked))
}

package main_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/trace"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// TestTailtraceFindsTheWritersWait traces a real HTTP server whose handler
// appends to a real store, as the server's commands do, and checks that
// tailtrace counts the requests, puts their wait in Store.Append, finds the
// writer's data and meta syncs (one of each a commit), and counts the
// requests and the writer among who ran on the cores.
func TestTailtraceFindsTheWritersWait(t *testing.T) {
	dir := t.TempDir()
	store, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := store.Append(r.Context(), "community-"+r.URL.Query().Get("c"), eventstore.Any, eventstore.EventData{
			ID: uuid.New(), Type: "VisitRecorded", Data: []byte(`{"trust_rating":3}`),
			Meta: eventstore.Metadata{OccurredAt: time.Now()},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	const clients, each = 8, 40
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var tr bytes.Buffer
	if err := trace.Start(&tr); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				resp, err := client.Post(fmt.Sprintf("%s/?c=%d-%d", srv.URL, c, i), "application/json", nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	trace.Stop()
	file := filepath.Join(dir, "server.trace")
	if err := os.WriteFile(file, tr.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := exec.CommandContext(context.Background(), "go", "run", ".", file).CombinedOutput()
	if err != nil {
		t.Fatalf("tailtrace: %v\n%s", err, out)
	}
	report := string(out)
	m := regexp.MustCompile(`: (\d+) requests`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no request count in:\n%s", report)
	}
	// A connection's first request may come before its goroutine waits on
	// the network, and a request already there when the one before is
	// answered is counted with it: a few are not counted on their own.
	if n, _ := strconv.Atoi(m[1]); n < clients*each*8/10 || n > clients*each {
		t.Errorf("%s requests counted, want %d to %d:\n%s", m[1], clients*each*8/10, clients*each, report)
	}
	// bbolt syncs twice a commit, the pages then the meta page: as many of
	// one as of the other, give or take a commit cut by the trace's edge.
	syncs := func(after string) int {
		m := regexp.MustCompile(`go\.etcd\.io/bbolt\.fdatasync ← go\.etcd\.io/bbolt\.\(\*Tx\)\.` + after + `: (\d+),`).FindStringSubmatch(report)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if data, meta := syncs("write"), syncs("writeMeta"); data < 1 || meta < 1 || data-meta > 1 || meta-data > 1 {
		t.Errorf("%d data syncs and %d meta syncs, want as many of each:\n%s", data, meta, report)
	}
	for _, want := range []string{
		`middle \(45–55%\).*blocked: chan receive in boltstore\.\(\*Store\)\.Append`,
		`the store's writer, time in each state:\n  \S`,
		`who ran on the cores[^\n]*\n(  [^\n]*\n)*  requests: \d`,
		`who ran on the cores[^\n]*\n(  [^\n]*\n)*  the store's writer: \d`,
	} {
		if !regexp.MustCompile(want).MatchString(report) {
			t.Errorf("report does not match %s:\n%s", want, report)
		}
	}
}

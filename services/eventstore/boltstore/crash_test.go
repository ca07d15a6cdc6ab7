package boltstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// crashChildEnv names the store file when the test binary runs as the child
// of TestCrashSafety.
const crashChildEnv = "BOLTSTORE_CRASH_CHILD"

// TestCrashChild is the child side of TestCrashSafety: it appends from
// several goroutines until killed, printing every acknowledged append.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestCrashSafety")
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		fmt.Fprintln(os.Stdout, "ERR", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			stream := fmt.Sprintf("crash-%d", w)
			for {
				id := uuid.New()
				res, err := s.Append(context.Background(), stream, eventstore.Any,
					eventstore.EventData{ID: id, Type: "Crash", Data: []byte(strings.Repeat("x", 200))})
				mu.Lock()
				if err != nil {
					fmt.Fprintln(os.Stdout, "ERR", err)
				} else {
					// Written straight to the pipe, unbuffered: once the
					// parent can read it, the append was acknowledged.
					fmt.Fprintf(os.Stdout, "ACK %s %d\n", id, res.FirstPosition)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashSafety kills a writing process with SIGKILL and checks that every
// append it acknowledged survived, exactly once, with the chain intact.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "events.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// The parent keeps draining the child's output while it kills it, so the
	// child dies mid-commit rather than blocked on a full pipe.
	const wantAcks = 1500
	var (
		mu       sync.Mutex
		acked    = map[uuid.UUID]uint64{}
		childErr string
		enough   = make(chan struct{})
		readDone = make(chan struct{})
	)
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			mu.Lock()
			switch {
			case f[0] == "ERR" && childErr == "":
				childErr = line
			case f[0] == "ACK" && len(f) == 3:
				id, err1 := uuid.Parse(f[1])
				pos, err2 := strconv.ParseUint(f[2], 10, 64)
				if err1 != nil || err2 != nil {
					childErr = "unparsable line " + line
				} else {
					acked[id] = pos
				}
			}
			n := len(acked)
			mu.Unlock()
			if n >= wantAcks && !signalled {
				signalled = true
				close(enough)
			}
		}
	}()
	select {
	case <-enough:
	case <-readDone:
		t.Fatalf("child exited early: %s", childErr)
	case <-time.After(60 * time.Second):
		t.Fatal("child did not acknowledge enough appends within 60s")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	<-readDone
	_ = cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	if childErr != "" {
		t.Fatalf("child: %s", childErr)
	}

	s := openStore(t, path, boltstore.Options{})
	var all []eventstore.RecordedEvent
	for after := uint64(0); ; {
		page, err := s.ReadAll(t.Context(), after, 1000)
		if err != nil {
			t.Fatalf("read after crash: %v", err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Position
	}
	seen := map[uuid.UUID]int{}
	for i, ev := range all {
		if ev.Position != uint64(i+1) {
			t.Fatalf("log has position %d at index %d: not contiguous", ev.Position, i)
		}
		seen[ev.ID]++
		if pos, ok := acked[ev.ID]; ok && pos != ev.Position {
			t.Errorf("event %s acknowledged at position %d, stored at %d", ev.ID, pos, ev.Position)
		}
	}
	for id, pos := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged event %s (position %d) stored %d times", id, pos, seen[id])
		}
	}
	res, err := s.Verify(t.Context())
	if err != nil || !res.Intact() || res.Count != uint64(len(all)) {
		t.Fatalf("verify after crash: %+v, %v; want intact with %d events", res, err, len(all))
	}
	checkLookupsAfterCrash(t, s, all)
	if _, err := s.Append(t.Context(), "after-crash", eventstore.NoStream, ev("T", "")); err != nil {
		t.Fatalf("append after crash: %v", err)
	}
	// The entries the crash kept out of the index bucket were written
	// after it, without a gap: the bucket alone indexes the whole log.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, indexed := indexLayout(t, path); indexed != len(all)+1 {
		t.Fatalf("index bucket after crash, append and close: %d events, want %d", indexed, len(all)+1)
	}
	s = openStore(t, path, boltstore.Options{})
	if res, err := s.Verify(t.Context()); err != nil || !res.Intact() || res.Count != uint64(len(all)+1) {
		t.Fatalf("verify after crash, append and close: %+v, %v; want intact with %d events", res, err, len(all)+1)
	}
	t.Logf("%d acknowledged before SIGKILL, %d stored", len(acked), len(all))
}

// checkLookupsAfterCrash checks the lookups open rebuilt, which the index
// bucket alone does not hold after a crash (its entries are written late):
// every stored event is found by id, so that a retry lands once, and every
// stream reads whole.
func checkLookupsAfterCrash(t *testing.T, s *boltstore.Store, all []eventstore.RecordedEvent) {
	t.Helper()
	perStream := map[string]int{}
	for _, ev := range all {
		perStream[ev.Stream]++
	}
	for stream, n := range perStream {
		evs, err := s.ReadStream(t.Context(), stream, 0, n+1)
		if err != nil || len(evs) != n {
			t.Fatalf("stream %s after crash: %d events, %v; want %d", stream, len(evs), err, n)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(all))
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(all); i += 8 {
				ev := all[i]
				res, err := s.Append(t.Context(), ev.Stream, eventstore.Any, ev.EventData)
				if err != nil || !res.Duplicate || res.FirstPosition != ev.Position {
					errs <- fmt.Errorf("retry of event %s (position %d) after crash: %+v, %v; want a duplicate", ev.ID, ev.Position, res, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

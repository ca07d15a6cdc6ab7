package boltstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

const diskFullChildEnv = "BOLTSTORE_DISKFULL_CHILD"

// TestDiskFullChild is the child side of TestFailedCommitStopsTheStore: with
// a file-size limit, appends run until a commit fails (the disk is "full").
// It prints every acknowledged append and what the store answers after the
// failure.
func TestDiskFullChild(t *testing.T) {
	path := os.Getenv(diskFullChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestFailedCommitStopsTheStore")
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		fmt.Println("OPENERR", err)
		os.Exit(2)
	}
	// From here on a write past 1 MiB fails with EFBIG instead of killing
	// the process with SIGXFSZ.
	signal.Ignore(syscall.SIGXFSZ)
	lim := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Println("RLIMITERR", err)
		os.Exit(2)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		id := uuid.New()
		_, err := s.Append(ctx, fmt.Sprintf("s-%d", i%50), eventstore.Any,
			eventstore.EventData{ID: id, Type: "Fill", Data: []byte(strings.Repeat("x", 2000))})
		if err == nil {
			fmt.Println("ACK", id)
			continue
		}
		fmt.Println("FAILED", errors.Is(err, eventstore.ErrFailed))
		_, again := s.Append(ctx, "s-0", eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "Fill", Data: []byte("y")})
		fmt.Println("AFTER", errors.Is(again, eventstore.ErrFailed))
		_, headErr := s.Head(ctx)
		fmt.Println("HEAD", errors.Is(headErr, eventstore.ErrFailed))
		_ = s.Close()
		os.Exit(0)
	}
}

// TestFailedCommitStopsTheStore fills the disk under the store: the first
// failed commit must stop the store (every later append and Head refuse with
// ErrFailed, so /readyz goes unready) instead of writing on from a state bbolt
// may have half-written; reopened without the limit, the store holds every
// acknowledged append and its chain verifies.
func TestFailedCommitStopsTheStore(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "events.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFullChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), diskFullChildEnv+"="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	acked := map[string]bool{}
	lines := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		if kind == "ACK" {
			acked[rest] = true
		} else {
			lines[kind] = rest
		}
	}
	for _, k := range []string{"FAILED", "AFTER", "HEAD"} {
		if lines[k] != "true" {
			t.Fatalf("%s: ErrFailed = %q, want true (child output: %v)", k, lines[k], lines)
		}
	}
	if len(acked) < 10 {
		t.Fatalf("only %d appends acknowledged before the disk filled", len(acked))
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("reopening after the failure: %v", err)
	}
	defer s.Close()
	found := map[string]bool{}
	var after uint64
	for {
		page, err := s.ReadAll(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if found[ev.ID.String()] {
				t.Fatalf("event %s stored twice", ev.ID)
			}
			found[ev.ID.String()] = true
		}
		after = page[len(page)-1].Position
	}
	for id := range acked {
		if !found[id] {
			t.Errorf("acknowledged append %s is missing after reopening", id)
		}
	}
	res, err := s.Verify(context.Background())
	if err != nil || res.BrokenAt != 0 {
		t.Fatalf("verify after reopening: %+v, %v", res, err)
	}
	// And the store takes writes again.
	if _, err := s.Append(context.Background(), "s-0", eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "Fill", Data: []byte("z")}); err != nil {
		t.Fatalf("append after reopening: %v", err)
	}
}

package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// An import releases the store's mapped pages between its reads and
// appends: what was written stays readable, and appends go on after.
func TestReleaseMemoryKeepsTheStoreUsable(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	appendN(t, s, "community-1", 50)
	s.ReleaseMemory()
	got, err := s.ReadStream(t.Context(), "community-1", 0, 100)
	if err != nil || len(got) != 50 {
		t.Fatalf("after a release read %d events (%v), want 50", len(got), err)
	}
	if _, err := s.Append(t.Context(), "community-1", eventstore.Exact(50), ev("T", "after")); err != nil {
		t.Fatalf("append after a release: %v", err)
	}
	s.ReleaseMemory()
	got, err = s.ReadStream(t.Context(), "community-1", 50, 10)
	if err != nil || len(got) != 1 || string(got[0].Data) != "after" {
		t.Fatalf("read back %+v (%v), want the event appended after the release", got, err)
	}
}

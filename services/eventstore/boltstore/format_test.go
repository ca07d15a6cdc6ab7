package boltstore_test

import (
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// TestStoredBytesKeepTheirFormat pins the bytes a commit writes, chain hash
// included, to those written before the writer took the encoded tails from
// its callers: a file written by an older build must read and verify in this
// one (records did not change with format version 2, which changed only the
// index bucket; see TestFormat1StoreOpensAndUpgrades), and the hash must stay
// eventstore.ChainHash. The index entry is pinned too, to the format-2 layout.
func TestStoredBytesKeepTheirFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	recordedAt := time.Date(2026, 12, 6, 17, 0, 0, 123, time.UTC)
	s := openStore(t, path, boltstore.Options{Clock: func() time.Time { return recordedAt }})
	event := func(id, typ, data string) eventstore.EventData {
		return eventstore.EventData{
			ID: uuid.MustParse(id), Type: typ, Data: []byte(data),
			Meta: eventstore.Metadata{
				OccurredAt:     time.Date(2015, 3, 14, 9, 26, 53, 589793238, time.UTC),
				ActorID:        "usr-1",
				ActorRole:      "mobilizer",
				CorrelationID:  "c-1",
				CausationID:    "k-1",
				IdempotencyKey: "idem-1",
				RequestHash:    []byte{1, 2, 3},
			},
		}
	}
	// Two events in one append: the second's tail starts where the first's ends.
	if _, err := s.Append(t.Context(), "actionpoint-7", eventstore.Exact(0),
		event("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "ActionPointRaised", `{"title":"boil water"}`),
		event("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", "ActionPointStarted", `{}`),
	); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	tests := []struct {
		name string
		pos  uint64
		want string // written by the build before this test, hex
	}{
		{"first event of the log", 1, "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b11416374696f6e506f696e745261697365640d616374696f6e706f696e742d3701a0d2acb10d7bbafb9fd00ad68f9e9902057573722d31096d6f62696c697a657203632d31036b2d31066964656d2d3103010203167b227469746c65223a22626f696c207761746572227d00000000000000000000000000000000000000000000000000000000000000002e22a4c215e486707a3e26d13532fe760ca089b37172c6f8fc89631980a69c3e"},
		{"second event of the same append", 2, "0190a1b2c3d47e5f8a9b0c1d2e3f4a5c12416374696f6e506f696e74537461727465640d616374696f6e706f696e742d3702a0d2acb10d7bbafb9fd00ad68f9e9902057573722d31096d6f62696c697a657203632d31036b2d31066964656d2d3103010203027b7d2e22a4c215e486707a3e26d13532fe760ca089b37172c6f8fc89631980a69c3ea1a667d583ca957ee3d76a30994ac61a3a39d2993d10bbdd6ee3322f47338c79"},
	}
	got := make(map[uint64]string)
	var indexKey, indexValue string
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		for _, tc := range tests {
			got[tc.pos] = hex.EncodeToString(tx.Bucket(boltstore.BucketEvents).Get(boltstore.PosKey(tc.pos)))
		}
		k, v := tx.Bucket(boltstore.BucketIndex).Cursor().First()
		indexKey, indexValue = hex.EncodeToString(k), hex.EncodeToString(v)
		return nil
	})
	// Format 2's index: one entry for a run of events (here both, written at
	// close), keyed by its first and last positions, holding each event's id
	// and length-prefixed stream.
	t.Run("index entry of both events", func(t *testing.T) {
		const (
			wantKey   = "00000000000000010000000000000002"
			wantValue = "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b0d616374696f6e706f696e742d37" +
				"0190a1b2c3d47e5f8a9b0c1d2e3f4a5c0d616374696f6e706f696e742d37"
		)
		if indexKey != wantKey || indexValue != wantValue {
			t.Errorf("index entry:\n got %s -> %s\nwant %s -> %s", indexKey, indexValue, wantKey, wantValue)
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got[tc.pos] != tc.want {
				t.Errorf("record at position %d:\n got %s\nwant %s", tc.pos, got[tc.pos], tc.want)
			}
		})
	}
}

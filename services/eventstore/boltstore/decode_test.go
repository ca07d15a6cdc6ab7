package boltstore_test

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// TestSharedDecodingReadsWhatCopyingDoes checks that reads, which decode a
// record into one shared copy, give every field exactly as decoding each
// field apart does, refuse the same damaged records, and never point into
// the bytes they were given (on the read path, the store's memory map).
func TestSharedDecodingReadsWhatCopyingDoes(t *testing.T) {
	// Records as a commit writes them (TestStoredBytesKeepTheirFormat): every
	// metadata field set; an empty payload object.
	records := []struct {
		name string
		hex  string
	}{
		{"every field set", "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b11416374696f6e506f696e745261697365640d616374696f6e706f696e742d3701a0d2acb10d7bbafb9fd00ad68f9e9902057573722d31096d6f62696c697a657203632d31036b2d31066964656d2d3103010203167b227469746c65223a22626f696c207761746572227d00000000000000000000000000000000000000000000000000000000000000002e22a4c215e486707a3e26d13532fe760ca089b37172c6f8fc89631980a69c3e"},
		{"small payload", "0190a1b2c3d47e5f8a9b0c1d2e3f4a5c12416374696f6e506f696e74537461727465640d616374696f6e706f696e742d3702a0d2acb10d7bbafb9fd00ad68f9e9902057573722d31096d6f62696c697a657203632d31036b2d31066964656d2d3103010203027b7d2e22a4c215e486707a3e26d13532fe760ca089b37172c6f8fc89631980a69c3ea1a667d583ca957ee3d76a30994ac61a3a39d2993d10bbdd6ee3322f47338c79"},
	}
	for _, rc := range records {
		t.Run(rc.name, func(t *testing.T) {
			raw, err := hex.DecodeString(rc.hex)
			if err != nil {
				t.Fatal(err)
			}
			want, err := boltstore.DecodeRecord(7, raw)
			if err != nil {
				t.Fatalf("copying decoder: %v", err)
			}
			in := append([]byte(nil), raw...)
			got, err := boltstore.DecodeShared(7, in)
			if err != nil {
				t.Fatalf("shared decoder: %v", err)
			}
			// The read path hands the map's bytes: they change under a
			// decoded event once the transaction ends.
			for i := range in {
				in[i] ^= 0xff
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("shared decoding differs:\n got %+v\nwant %+v", got, want)
			}
			for n := range len(raw) {
				if _, err := boltstore.DecodeShared(7, raw[:n]); err == nil {
					t.Errorf("a record cut to %d of its %d bytes decoded without an error", n, len(raw))
				}
			}
			if _, err := boltstore.DecodeShared(7, append(append([]byte(nil), raw...), 0)); err == nil {
				t.Error("a record with a trailing byte decoded without an error")
			}
		})
	}
}

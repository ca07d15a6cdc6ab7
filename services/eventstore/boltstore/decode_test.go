package boltstore_test

import (
	"encoding/hex"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/actionledger/actionledger/services/eventstore"
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

// TestAppendAllReadsWhatReadAllReadsIntoTheRoomGiven checks the paged read
// a rebuild uses: what it appends is exactly what ReadAll returns for the
// same page, after whatever dst already held, in dst's own room when it has
// enough, and records read into reused room do not share it with the
// records read before.
func TestAppendAllReadsWhatReadAllReadsIntoTheRoomGiven(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	appendN(t, s, "a", 30)
	ctx := t.Context()
	cases := []struct {
		name         string
		held, room   int // records already in dst, and its capacity
		after        uint64
		limit        int
		wantReused   bool
		wantAppended int
	}{
		{"into empty room", 0, 64, 0, 10, true, 10},
		{"after what dst holds", 3, 64, 5, 10, true, 10},
		{"past the head", 0, 64, 25, 10, true, 5},
		{"at the head", 2, 64, 30, 10, true, 0},
		{"room too small", 1, 4, 0, 10, false, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			held := []eventstore.RecordedEvent{}
			if tc.held > 0 {
				var err error
				if held, err = s.ReadAll(ctx, 20, tc.held); err != nil {
					t.Fatal(err)
				}
			}
			dst := append(make([]eventstore.RecordedEvent, 0, tc.room), held...)
			got, err := s.AppendAll(ctx, dst, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.held+tc.wantAppended {
				t.Fatalf("AppendAll gave %d records, want %d held and %d read", len(got), tc.held, tc.wantAppended)
			}
			if !reflect.DeepEqual(got[:tc.held], held) {
				t.Error("AppendAll changed the records dst held")
			}
			want, err := s.ReadAll(ctx, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if read := got[tc.held:]; (len(read) > 0 || len(want) > 0) && !reflect.DeepEqual(read, want) {
				t.Errorf("AppendAll read %+v, ReadAll %+v", got[tc.held:], want)
			}
			if reused := cap(got) > 0 && cap(dst) > 0 && &got[:1][0] == &dst[:1][0]; reused != tc.wantReused {
				t.Errorf("AppendAll reused dst's room: %v, want %v", reused, tc.wantReused)
			}
		})
	}
	t.Run("room read into again", func(t *testing.T) {
		first, err := s.AppendAll(ctx, make([]eventstore.RecordedEvent, 0, 8), 0, 8)
		if err != nil {
			t.Fatal(err)
		}
		kept := first[3].Data
		keptCopy := append([]byte(nil), kept...)
		if _, err := s.AppendAll(ctx, first[:0], 8, 8); err != nil {
			t.Fatal(err)
		}
		if string(kept) != string(keptCopy) {
			t.Errorf("a record's payload changed when its room was read into again: %q, was %q", kept, keptCopy)
		}
	})
	t.Run("bad limit", func(t *testing.T) {
		if _, err := s.AppendAll(ctx, nil, 0, 0); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("limit 0: %v, want ErrInvalid", err)
		}
	})
}

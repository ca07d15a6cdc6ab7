package boltstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// damagedCopy writes a copy of src to a new file with damage applied.
func damagedCopy(t *testing.T, src string, damage func(b []byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "events.db")
	if err := os.WriteFile(dst, damage(append([]byte(nil), b...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// sampleStore is a closed store file with events over many pages.
func sampleStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "s-1", 400)
	appendN(t, s, "s-2", 400)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

const pageSize = 4096

// TestDamagedFileIsRefusedAtOpen: a truncated file or a damaged page header
// makes Open fail with an error naming the file and the damage, never a
// fault or a panic.
func TestDamagedFileIsRefusedAtOpen(t *testing.T) {
	src := sampleStore(t)
	info, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	pages := int(info.Size() / pageSize)
	if pages < 8 {
		t.Fatalf("the sample store has only %d pages", pages)
	}
	flip := func(off int) func([]byte) []byte {
		return func(b []byte) []byte { b[off] ^= 0xff; return b }
	}
	cases := []struct {
		name   string
		damage func([]byte) []byte
		want   string
	}{
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2] }, "truncated"},
		{"truncated mid-page", func(b []byte) []byte { return b[:3*pageSize+100] }, "truncated"},
		{"cut inside the first page", func(b []byte) []byte { return b[:100] }, "truncated"},
		{"cut inside the meta", func(b []byte) []byte { return b[:40] }, "meta page 0"},
		{"meta page 0 flipped", flip(16 + 40), "meta page 0 fails its checksum"},
		{"meta page 1 flipped", flip(pageSize + 16 + 8), "meta page 1"},
		{"meta page 1 header flags", flip(pageSize + 8), "meta page 1"},
	}
	// The header (flags) of every page the tree uses.
	for p := 2; p < pages; p++ {
		cases = append(cases, struct {
			name   string
			damage func([]byte) []byte
			want   string
		}{"page header flags " + strconv.Itoa(p), flip(p*pageSize + 8), ""})
	}
	refused := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := damagedCopy(t, src, tc.damage)
			s, err := boltstore.Open(path, boltstore.Options{})
			if err == nil {
				// A page no bucket uses (a free page) may be damaged
				// without harm; the store must then still read.
				if tc.want != "" {
					t.Errorf("opened a file with damage %q", tc.name)
				}
				_, verr := s.Verify(t.Context())
				_ = s.Close()
				if verr != nil && !errors.Is(verr, boltstore.ErrDamaged) {
					t.Errorf("verify after open: %v", verr)
				}
				return
			}
			refused++
			if !errors.Is(err, boltstore.ErrDamaged) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the damaged file: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	if refused < pages/2 {
		t.Errorf("only %d of %d damaged copies were refused", refused, len(cases))
	}
}

// TestEveryTreePageDamagedInItsHeaderIsRefusedAtOpen: for each page a
// bucket's tree uses (as bbolt itself reports them), a header that names
// another page, has another type, counts more elements than the page holds,
// or claims overflow pages past the end of the file makes Open fail with an
// error naming the file; the open's page walk reads every such page.
func TestEveryTreePageDamagedInItsHeaderIsRefusedAtOpen(t *testing.T) {
	src := sampleStore(t)
	db, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	var used []int
	err = db.View(func(tx *bolt.Tx) error {
		for id := 2; id < int(tx.Size())/pageSize; id++ {
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info != nil && (info.Type == "branch" || info.Type == "leaf") {
				used = append(used, id)
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 8 {
		t.Fatalf("the sample store's trees use only %d pages", len(used))
	}
	set := func(off int, v ...byte) func(page int) func([]byte) []byte {
		return func(page int) func([]byte) []byte {
			return func(b []byte) []byte { copy(b[page*pageSize+off:], v); return b }
		}
	}
	damages := []struct {
		name   string
		damage func(page int) func([]byte) []byte
	}{
		{"id", func(page int) func([]byte) []byte {
			return func(b []byte) []byte { b[page*pageSize] ^= 0xff; return b }
		}},
		{"type", set(8, 0x04, 0x00)}, // a meta page's flags
		{"count", set(10, 0xff, 0xff)},
		{"overflow", set(12, 0xff, 0xff, 0xff, 0x7f)},
	}
	for _, page := range used {
		for _, d := range damages {
			t.Run(d.name+" of page "+strconv.Itoa(page), func(t *testing.T) {
				path := damagedCopy(t, src, d.damage(page))
				s, err := boltstore.Open(path, boltstore.Options{})
				if err == nil {
					_ = s.Close()
					t.Fatalf("opened a file whose page %d has a damaged %s", page, d.name)
				}
				if !errors.Is(err, boltstore.ErrDamaged) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error does not name the damaged file: %v", err)
				}
			})
		}
	}
}

// TestFileTruncatedUnderARunningStore: a read that faults on the memory map
// (the file was cut short under the store) is an error naming the file,
// not a SIGBUS that kills the process.
func TestFileTruncatedUnderARunningStore(t *testing.T) {
	path := sampleStore(t)
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Truncate(path, 2*pageSize); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReadAll(t.Context(), 0, 1000)
	if !errors.Is(err, boltstore.ErrDamaged) || !strings.Contains(err.Error(), path) {
		t.Fatalf("reading a file cut short: %v", err)
	}
}

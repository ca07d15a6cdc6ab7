package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// A damaged file must stop the store with an error that names it, never
// crash the process. bbolt reads its file through a memory map and trusts
// it: a truncated file faults (SIGBUS) when a page past its end is touched,
// and a page with a damaged header trips an assertion (a panic) in whatever
// goroutine reads it. So the store checks the file before bbolt maps it (the
// meta pages' checksums, and that the file holds every page they count), walks
// every page of the tree once at open, and turns any fault or panic that
// still comes out of bbolt into an error at its own boundary.

// ErrDamaged is matched (errors.Is) by every error about a damaged file.
var ErrDamaged = errors.New("store file is damaged")

// DamageError says which file is damaged and how.
type DamageError struct {
	Path    string
	Problem string
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("%s is damaged: %s (restore the data dir from a backup: actionledger restore)", e.Path, e.Problem)
}

// Is makes errors.Is(err, ErrDamaged) hold.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// bbolt's on-disk meta page (go.etcd.io/bbolt/internal/common): a 16-byte
// page header (id u64, flags u16, count u16, overflow u32) and then the meta
// (magic u32, version u32, page size u32, flags u32, root bucket {root u64,
// sequence u64}, freelist u64, high-water page id u64, txid u64, checksum
// u64), the checksum being FNV-1a 64 of the meta before it. Little endian on
// every platform this project builds for.
const (
	pageHeaderSize = 16
	metaSize       = 56 // bytes of meta the checksum covers
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	metaPageFlag   = 0x04
)

type metaPage struct {
	pageSize uint32
	pgid     uint64 // high-water mark: pages [0, pgid) are in use
	txid     uint64
}

// readMeta decodes and checks the meta page at off; it says what is wrong.
func readMeta(buf []byte, id uint64) (metaPage, string) {
	if len(buf) < pageHeaderSize+metaSize+8 {
		return metaPage{}, "is cut short"
	}
	if got := binary.LittleEndian.Uint64(buf[0:]); got != id {
		return metaPage{}, fmt.Sprintf("has page id %d in its header", got)
	}
	if flags := binary.LittleEndian.Uint16(buf[8:]); flags != metaPageFlag {
		return metaPage{}, fmt.Sprintf("has page flags %#x in its header, not a meta page's", flags)
	}
	m := buf[pageHeaderSize:]
	if magic := binary.LittleEndian.Uint32(m[0:]); magic != boltMagic {
		return metaPage{}, fmt.Sprintf("has magic %#x, not bbolt's", magic)
	}
	if v := binary.LittleEndian.Uint32(m[4:]); v != boltVersion {
		return metaPage{}, fmt.Sprintf("has format version %d, not %d", v, boltVersion)
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:metaSize])
	if sum := binary.LittleEndian.Uint64(m[metaSize:]); sum != h.Sum64() {
		return metaPage{}, "fails its checksum"
	}
	mp := metaPage{pageSize: binary.LittleEndian.Uint32(m[8:]), pgid: binary.LittleEndian.Uint64(m[40:]), txid: binary.LittleEndian.Uint64(m[48:])}
	if mp.pageSize < 1024 || mp.pageSize > 1<<20 || mp.pageSize&(mp.pageSize-1) != 0 {
		return metaPage{}, fmt.Sprintf("has an impossible page size %d", mp.pageSize)
	}
	return mp, ""
}

// preflight checks an existing file before bbolt maps it: both meta pages
// must be intact (each holds one of the last two commits; one that fails its
// checksum is damage, as a 64-byte meta within one sector is never torn by a
// crash), and the file must hold every page the newer one counts.
func preflight(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return err
	}
	defer f.Close()
	locked, unlock := lockedElsewhere(f)
	if locked {
		return nil
	}
	defer unlock()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil // bbolt initialises an empty file
	}
	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	m0, bad0 := readMeta(head[:n], 0)
	if bad0 != "" {
		return &DamageError{Path: path, Problem: "meta page 0 " + bad0}
	}
	page1 := make([]byte, pageHeaderSize+metaSize+8)
	if n, err := f.ReadAt(page1, int64(m0.pageSize)); err != nil || n < len(page1) {
		return &DamageError{Path: path, Problem: fmt.Sprintf("the file is truncated: %d bytes, too short for its second meta page", size)}
	}
	m1, bad1 := readMeta(page1, 1)
	if bad1 != "" {
		return &DamageError{Path: path, Problem: "meta page 1 " + bad1}
	}
	if m1.pageSize != m0.pageSize {
		return &DamageError{Path: path, Problem: fmt.Sprintf("the meta pages disagree on the page size (%d and %d)", m0.pageSize, m1.pageSize)}
	}
	m := m0
	if m1.txid > m0.txid {
		m = m1
	}
	if need := int64(m.pgid) * int64(m.pageSize); size < need {
		return &DamageError{Path: path, Problem: fmt.Sprintf("the file is truncated: %d bytes, but its meta page counts %d pages of %d bytes (%d bytes)",
			size, m.pgid, m.pageSize, need)}
	}
	return nil
}

// guard runs fn with memory faults turned into panics, and turns a panic out
// of bbolt (a fault on the map, a failed page assertion) into a DamageError.
// The fault setting is per goroutine, so every path into bbolt that may
// touch a damaged page goes through here.
func guard(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = &DamageError{Path: path, Problem: fmt.Sprintf("reading it failed: %v", p)}
		}
	}()
	return fn()
}

// walkPages visits every branch and leaf page of every bucket once (bbolt
// checks each page's id and type as it reads it), so that a damaged page
// header is found at open rather than by a reader later. Bucket.Stats goes
// page by page, not key by key: about 0.2 s for 1.6 million events (777 MB)
// where a cursor over every key takes 2.4 s on the same machine.
func walkPages(tx *bolt.Tx) error {
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
		_ = b.Stats()
		return nil
	})
}

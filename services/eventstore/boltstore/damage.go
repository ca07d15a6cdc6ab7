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

// walkPages visits every branch and leaf page of every bucket once and
// checks what bbolt would trip over when it reads one (its id and type, and
// that what it points to lies in the file), so that a damaged page header is
// found at open rather than by a reader later.
//
// It reads the file through a mapping of its own that it gives back as it
// goes (openPages), not through bbolt's: a pass over bbolt's map
// (Bucket.Stats, as it did) mapped the file's pages into the process at
// about 25 MB a millisecond, faster than a goroutine on a timer gave them
// back while the index loads and the read models decode beside it, and a
// start's resident memory peaked with a few hundred megabytes of the file.
func walkPages(tx *bolt.Tx, path string) error {
	src, err := openPages(path, tx.Size())
	if err != nil {
		return err
	}
	defer src.close()
	w := &pageWalker{src: src, path: path, pageSize: tx.DB().Info().PageSize}
	w.hwm = uint64(tx.Size()) / uint64(w.pageSize)
	w.seen = make([]uint64, (w.hwm+63)/64)
	// From the tree that lists the buckets, down every bucket's.
	return w.tree(uint64(tx.Cursor().Bucket().Root()), 0)
}

// pageSource gives the walk the file's bytes.
type pageSource interface {
	// bytes returns the n bytes at off, valid until the next call.
	bytes(off int64, n int) ([]byte, error)
	close() error
}

// The parts of bbolt's page layout (go.etcd.io/bbolt/internal/common) the
// walk reads: after the 16-byte header, count elements of 16 bytes each; a
// branch element is {pos u32, ksize u32, child page id u64}, a leaf element
// {flags u32, pos u32, ksize u32, vsize u32}, pos counting from the
// element's own first byte. A leaf element flagged as a bucket has a value
// that starts with the bucket's header {root page id u64, sequence u64},
// followed by the bucket's own page when the root is 0 (inline).
const (
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	bucketLeafFlag   = 0x01
	pageElementSize  = 16
	bucketHeaderSize = 16
	// walkDepth bounds how deep trees may nest (a damaged file may loop).
	walkDepth = 64
)

type pageWalker struct {
	src      pageSource
	path     string
	pageSize int
	hwm      uint64   // pages [0, hwm) are in the file
	seen     []uint64 // a bit per page: walked already
}

func (w *pageWalker) damaged(format string, args ...any) error {
	return &DamageError{Path: w.path, Problem: fmt.Sprintf(format, args...)}
}

// page returns the bytes of page id and its overflow pages.
func (w *pageWalker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, w.damaged("a page refers to page %d, outside the tree's pages [2, %d)", id, w.hwm)
	}
	off := int64(id) * int64(w.pageSize)
	p, err := w.src.bytes(off, w.pageSize)
	if err != nil {
		return nil, err
	}
	if over := uint64(binary.LittleEndian.Uint32(p[12:])); over > 0 {
		if id+over >= w.hwm {
			return nil, w.damaged("page %d runs %d pages past itself, beyond the file's %d pages", id, over, w.hwm)
		}
		return w.src.bytes(off, int(1+over)*w.pageSize)
	}
	return p, nil
}

// tree checks the tree of pages under page id, and the trees of the
// buckets its leaves hold.
func (w *pageWalker) tree(id uint64, depth int) error {
	if depth > walkDepth {
		return w.damaged("page %d lies deeper than %d levels of pages: the tree loops", id, walkDepth)
	}
	if id < w.hwm && w.seen[id/64]&(1<<(id%64)) != 0 {
		return w.damaged("page %d is reached twice", id)
	}
	p, err := w.page(id)
	if err != nil {
		return err
	}
	w.seen[id/64] |= 1 << (id % 64)
	if got := binary.LittleEndian.Uint64(p); got != id {
		return w.damaged("page %d identifies itself as page %d", id, got)
	}
	// The pages below: a branch's children, or the roots of the buckets a
	// leaf holds. p may be the walker's buffer: they are copied out of it
	// before the next page is read.
	var next []uint64
	switch flags := binary.LittleEndian.Uint16(p[8:]); flags {
	case branchPageFlag:
		next, err = w.branch(id, p)
	case leafPageFlag:
		next, err = w.leaf(id, p, depth)
	default:
		return w.damaged("page %d, in a bucket's tree, has type flags %#x: neither a branch nor a leaf", id, flags)
	}
	if err != nil {
		return err
	}
	for _, n := range next {
		if err := w.tree(n, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// elements returns where the count elements of page p (id) lie, checking
// that they fit in it.
func (w *pageWalker) elements(id uint64, p []byte) (int, error) {
	n := int(binary.LittleEndian.Uint16(p[10:]))
	if pageHeaderSize+n*pageElementSize > len(p) {
		return 0, w.damaged("page %d counts %d elements, more than its %d bytes hold", id, n, len(p))
	}
	return n, nil
}

// branch returns the children of branch page p (id).
func (w *pageWalker) branch(id uint64, p []byte) ([]uint64, error) {
	n, err := w.elements(id, p)
	if err != nil {
		return nil, err
	}
	kids := make([]uint64, n)
	for i := range n {
		e := p[pageHeaderSize+i*pageElementSize:]
		kids[i] = binary.LittleEndian.Uint64(e[8:])
	}
	return kids, nil
}

// leaf checks leaf page p (id, or an inline bucket's page) and returns the
// roots of the buckets it holds, after checking inline ones.
func (w *pageWalker) leaf(id uint64, p []byte, depth int) ([]uint64, error) {
	n, err := w.elements(id, p)
	if err != nil {
		return nil, err
	}
	var roots []uint64
	for i := range n {
		at := pageHeaderSize + i*pageElementSize
		e := p[at:]
		if binary.LittleEndian.Uint32(e)&bucketLeafFlag == 0 {
			continue
		}
		pos, ksize, vsize := int(binary.LittleEndian.Uint32(e[4:])), int(binary.LittleEndian.Uint32(e[8:])), int(binary.LittleEndian.Uint32(e[12:]))
		start := at + pos + ksize
		if start < at || start+vsize > len(p) || vsize < bucketHeaderSize {
			return nil, w.damaged("page %d: a bucket's header lies outside the page", id)
		}
		v := p[start : start+vsize]
		if root := binary.LittleEndian.Uint64(v); root != 0 {
			roots = append(roots, root)
			continue
		}
		inline := v[bucketHeaderSize:]
		if len(inline) < pageHeaderSize || binary.LittleEndian.Uint16(inline[8:]) != leafPageFlag {
			return nil, w.damaged("page %d: an inline bucket's page is not a leaf", id)
		}
		if depth > walkDepth {
			return nil, w.damaged("page %d: buckets nest deeper than %d levels", id, walkDepth)
		}
		sub, err := w.leaf(id, inline, depth+1)
		if err != nil {
			return nil, err
		}
		roots = append(roots, sub...)
	}
	return roots, nil
}

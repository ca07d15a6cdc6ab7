package boltstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

// The index image is the in-memory index (index.go) as it stood when the
// store was last closed, written beside the file (<path>.index) so that the
// next open reads it back in a few large reads instead of rebuilding it event
// by event from the index bucket. At ten times CLEA that rebuild looked up
// 16 million stream names in the stream table, three cache misses each, and
// was the longest part of a restart (about 10 s of CPU of the store's open).
//
// The image is a cache, never the truth: the index bucket and the records
// stay as they were, and an image that does not match the file is ignored
// (the open then rebuilds the index as before). It matches when its
// checksum holds, it was written by a build with the same memory layout,
// and the event at the position it covers is in the file with the hash it
// recorded. The hash chain makes that last check cover every event before
// it: the same hash at that position means the same log up to it. Events
// appended after the image (the server stopped without closing the store)
// are then indexed from the index bucket and the records, as at any open.
//
// Layout: a header (imageHeader, little endian), the id index's run, the
// stream table's slots and chunks as they lie in memory, its name pages
// (each a length and its bytes), and a CRC-32C of all of it.

const (
	imageSuffix  = ".index"
	imageMagic   = "ALIDXIMG"
	imageVersion = 1
)

// ImagePath is where the store at path keeps its index image: a file that
// moves with the store's (a restore carries it along) and may be deleted at
// any time (the next open rebuilds the index from the store's file).
func ImagePath(path string) string { return path + imageSuffix }

type imageHeader struct {
	Magic   [8]byte
	Version uint32
	// Sizes of the element types, so that a build with another layout
	// does not read them.
	IDSize, SlotSize, ChunkSize uint32
	Pos                         uint64   // the log position the image covers
	Hash                        [32]byte // the hash of the event at Pos
	IDs, Slots, Chunks          uint32
	NamePages                   uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// nativeLittleEndian: the sections are written as they lie in memory,
// which the header's little-endian numbers describe only on such a machine.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// imageLayout is the header's part that says which build can read an
// image: its magic, version and the sizes of the element types.
func imageLayout() imageHeader {
	h := imageHeader{Version: imageVersion,
		IDSize: uint32(unsafe.Sizeof(idEntry{})), SlotSize: uint32(unsafe.Sizeof(streamSlot{})), ChunkSize: uint32(unsafe.Sizeof(streamChunk{}))}
	copy(h.Magic[:], imageMagic)
	return h
}

func newImageHeader(pos uint64, hash [32]byte, x *index) imageHeader {
	h := imageLayout()
	h.Pos, h.Hash = pos, hash
	h.IDs, h.Slots, h.Chunks = uint32(x.ids.run.len()), uint32(x.streams.slots.len()), uint32(x.streams.chunks.len())
	h.NamePages = uint32(len(x.streams.names.pages))
	return h
}

// bytesOfPage views the first n elements of a page as bytes.
func bytesOfPage[T any](page []T, n int) []byte {
	if n == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&page[0])), n*int(unsafe.Sizeof(zero)))
}

// writePaged writes p's elements as they lie in memory.
func writePaged[T any](w io.Writer, p *paged[T]) error {
	left := p.len()
	for _, page := range p.pages {
		n := min(left, len(page))
		if _, err := w.Write(bytesOfPage(page, n)); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// readPaged reads n elements into fresh pages of p.
func readPaged[T any](r io.Reader, p *paged[T], n uint32) error {
	p.grow(n)
	left := int(n)
	for _, page := range p.pages {
		k := min(left, len(page))
		if _, err := io.ReadFull(r, bytesOfPage(page, k)); err != nil {
			return err
		}
		left -= k
	}
	return nil
}

// writeImage writes the image of x, which must describe the log up to the
// event at pos (hash), beside path. It writes a temporary file and renames it
// into place, so that a reader finds the old image, the new one or none;
// it does not sync: a torn image fails its checksum and is ignored.
func writeImage(path string, pos uint64, hash [32]byte, x *index) (err error) {
	if !nativeLittleEndian {
		return nil
	}
	if err := x.checkCovers(pos); err != nil {
		return err
	}
	// The recent ids join the run, so that the image is the run alone.
	x.ids.merge()
	tmp := ImagePath(path) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<20)
	h := newImageHeader(pos, hash, x)
	if err := binary.Write(w, binary.LittleEndian, &h); err != nil {
		return err
	}
	if err := writePaged(w, &x.ids.run); err != nil {
		return err
	}
	if err := writePaged(w, &x.streams.slots); err != nil {
		return err
	}
	if err := writePaged(w, &x.streams.chunks); err != nil {
		return err
	}
	for _, page := range x.streams.names.pages {
		if err := binary.Write(w, binary.LittleEndian, uint32(len(page))); err != nil {
			return err
		}
		if _, err := w.Write(page); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := binary.Write(f, binary.LittleEndian, crc.Sum32()); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, ImagePath(path))
}

// checkCovers checks that x indexes exactly the events up to pos: one id
// and one stream revision each.
func (x *index) checkCovers(pos uint64) error {
	if ids := uint64(x.ids.run.len() + len(x.ids.recent)); ids != pos {
		return fmt.Errorf("the index holds %d ids for %d events", ids, pos)
	}
	var revs uint64
	for i := range uint32(x.streams.slots.len()) {
		revs += x.streams.slots.at(i).n
	}
	if revs != pos {
		return fmt.Errorf("the index holds %d stream revisions for %d events", revs, pos)
	}
	return nil
}

var errImage = errors.New("index image does not match")

// readImage reads the image beside path and checks it against the file in
// tx. It returns the index it holds and the position it covers; any error
// means the image is not to be used.
func readImage(tx *bolt.Tx, path string, head headState) (*index, uint64, error) {
	if !nativeLittleEndian {
		return nil, 0, errImage
	}
	f, err := os.Open(ImagePath(path))
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	crc := crc32.New(castagnoli)
	// The checksum trails the content: read all but its 4 bytes.
	body := io.LimitReader(f, st.Size()-4)
	r := bufio.NewReaderSize(io.TeeReader(body, crc), 1<<20)
	var h imageHeader
	if err := binary.Read(r, binary.LittleEndian, &h); err != nil {
		return nil, 0, err
	}
	if layout := (imageHeader{Magic: h.Magic, Version: h.Version, IDSize: h.IDSize, SlotSize: h.SlotSize, ChunkSize: h.ChunkSize}); layout != imageLayout() {
		return nil, 0, fmt.Errorf("%w: another version or layout", errImage)
	}
	if h.Pos > head.pos || uint64(h.IDs) != h.Pos {
		return nil, 0, fmt.Errorf("%w: it covers position %d, the log ends at %d", errImage, h.Pos, head.pos)
	}
	if err := imageHashMatches(tx, h.Pos, h.Hash, head); err != nil {
		return nil, 0, err
	}
	// The sizes are checked against the file's before anything the size
	// of the index is allocated.
	fixed := int64(binary.Size(h)) + int64(h.IDs)*int64(h.IDSize) + int64(h.Slots)*int64(h.SlotSize) + int64(h.Chunks)*int64(h.ChunkSize)
	// A name page holds at least one stream's name: no more pages than
	// streams, which bounds the page table allocated below.
	if h.NamePages > h.Slots || fixed+4*int64(h.NamePages)+4 > st.Size() {
		return nil, 0, fmt.Errorf("%w: shorter than its header says", errImage)
	}
	x := newIndex()
	if err := readPaged(r, &x.ids.run, h.IDs); err != nil {
		return nil, 0, err
	}
	if err := readPaged(r, &x.streams.slots, h.Slots); err != nil {
		return nil, 0, err
	}
	if err := readPaged(r, &x.streams.chunks, h.Chunks); err != nil {
		return nil, 0, err
	}
	x.streams.names.pages = make([][]byte, h.NamePages)
	for i := range x.streams.names.pages {
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, 0, err
		}
		if int64(n) > st.Size() {
			return nil, 0, fmt.Errorf("%w: a name page longer than the file", errImage)
		}
		// The last page takes the names added after the open.
		page := make([]byte, n, max(namePage, int(n)))
		if _, err := io.ReadFull(r, page); err != nil {
			return nil, 0, err
		}
		x.streams.names.pages[i] = page
	}
	if _, err := r.Peek(1); err != io.EOF {
		return nil, 0, fmt.Errorf("%w: longer than its header says", errImage)
	}
	var sum uint32
	if err := binary.Read(f, binary.LittleEndian, &sum); err != nil {
		return nil, 0, err
	}
	if sum != crc.Sum32() {
		return nil, 0, fmt.Errorf("%w: checksum", errImage)
	}
	if err := x.settleImage(); err != nil {
		return nil, 0, err
	}
	if err := x.checkCovers(h.Pos); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errImage, err)
	}
	return x, h.Pos, nil
}

// imageHashMatches checks that the event at pos is stored with hash.
func imageHashMatches(tx *bolt.Tx, pos uint64, hash [32]byte, head headState) error {
	switch {
	case pos == 0:
		if hash != ([32]byte{}) {
			return fmt.Errorf("%w: a hash for an empty log", errImage)
		}
		return nil
	case pos == head.pos:
		if hash != head.hash {
			return fmt.Errorf("%w: the head's hash differs", errImage)
		}
		return nil
	}
	v := tx.Bucket(bucketEvents).Get(posKey(nil, pos))
	if v == nil {
		return fmt.Errorf("%w: no event at position %d", errImage, pos)
	}
	ev, err := decodeShared(pos, v)
	if err != nil {
		return err
	}
	if ev.Hash != hash {
		return fmt.Errorf("%w: the hash at position %d differs", errImage, pos)
	}
	return nil
}

// settleImage rebuilds what the image does not hold: the stream table's
// hash map and chains (the hash is seeded per process), and the id run's
// directory. It checks every reference the slots hold.
func (x *index) settleImage() error {
	t := x.streams
	nChunks := uint32(t.chunks.len())
	for i := range uint32(t.slots.len()) {
		s := t.slots.at(i)
		r := s.name
		if int(r.page) >= len(t.names.pages) || uint64(r.off)+uint64(r.len) > uint64(len(t.names.pages[r.page])) {
			return fmt.Errorf("%w: a stream name outside its pages", errImage)
		}
		if s.n > 0 && (s.head >= nChunks || s.tail >= nChunks) {
			return fmt.Errorf("%w: a stream's positions outside the chunks", errImage)
		}
		h := t.hash(t.names.bytes(r))
		s.same = t.first[h]
		t.first[h] = i + 1
	}
	for i := range nChunks {
		if next := t.chunks.at(i).next; next > nChunks {
			return fmt.Errorf("%w: a chunk's link outside the chunks", errImage)
		}
	}
	ids := &x.ids
	n := uint32(ids.run.len())
	for i := uint32(1); i < n; i++ {
		if ids.run.at(i).less(*ids.run.at(i - 1)) {
			return fmt.Errorf("%w: the id run is not sorted", errImage)
		}
	}
	ids.shift = 64 - uint(dirBits(int(n)))
	ids.dir = ids.directory()
	return nil
}

// saveImage writes the index image of a closing store, whose writer has
// stopped. It is a cache: when it cannot be written, the next open rebuilds
// the index from the file as before.
func (s *Store) saveImage() {
	var head headState
	// guard: the file may have been damaged under the store.
	err := guard(s.path, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			var err error
			head, err = decodeHead(tx.Bucket(bucketMeta).Get(keyHead))
			return err
		})
	})
	if err != nil {
		return
	}
	s.index.mu.Lock()
	defer s.index.mu.Unlock()
	_ = writeImage(s.path, head.pos, head.hash, s.index)
}

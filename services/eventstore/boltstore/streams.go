package boltstore

import (
	"bytes"
	"hash/maphash"
	"unsafe"
)

// streamTable is the stream -> positions half of the index: revision r of a
// stream is at the r-th position recorded for it. It holds no pointer per
// stream: names sit back to back in one byte slice, each stream's positions
// in a linked run of fixed-size chunks of one array, and the map from a
// name's hash to its slot has no pointers either. A map of names to slices
// (as before) took three heap objects a stream, 840,000 of them on a national
// history and ten times that on a region's, and the garbage collector marked
// them all on every cycle, in the server and in an import alike.
//
// Slots, chunks and names are kept in fixed-size pages (paged), not in
// slices grown by append: at ten times CLEA the chunks alone are ~6.6
// million (264 MB), and growing one slice to that copies it over and over
// and, at each step, needs room for the old array and the new one at once,
// in fresh memory that costs a page fault per 4 KB. BenchmarkStreamTableAdd
// (16 million events over 2.7 million streams): 140 bytes allocated an event
// with slices, 32 with pages (most of it the hash map's own growth); 24.3
// bytes an event held at the end, 20.7 with pages.
//
// Only the writer goroutine mutates it (under index.mu); see index.
type streamTable struct {
	// first maps a name's hash to its stream's slot + 1; streams whose
	// names share a hash are chained through streamSlot.same.
	first  map[uint64]uint32
	slots  paged[streamSlot]
	names  nameArena
	chunks paged[streamChunk]
	hash   func(name []byte) uint64
}

// chunkLen positions a chunk: most streams (an action point, a referral, a
// feedback item, a user) hold two to six events, a community a few dozen.
const chunkLen = 4

type streamChunk struct {
	pos  [chunkLen]uint64
	next uint32 // index of the next chunk + 1; 0: none
}

type streamSlot struct {
	name nameRef
	same uint32 // next slot with the same name hash, + 1; 0: none
	n    uint64 // revisions
	// head and tail are the first and last chunk: an append and a read of
	// the latest revisions (nearly every read: a command's kept aggregate
	// asks for what came after what it holds) go straight to the tail.
	head, tail uint32
}

var streamSeed = maphash.MakeSeed()

// newStreamTable returns an empty table. Its map is not sized ahead from
// the store's event count: a map sized for a hint rounds its tables up to a
// power of two, and at ten times CLEA (2.7 million streams) the hint it had
// (a stream per four events) held 140 MB of the server's heap where grown
// as it fills, table by table, it holds about half of that.
func newStreamTable() *streamTable {
	return &streamTable{
		first: map[uint64]uint32{},
		hash:  func(name []byte) uint64 { return maphash.Bytes(streamSeed, name) },
	}
}

// bytesOf views s as bytes, for hashing and comparing; nothing writes to it.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// slot returns the slot of name, or nil.
func (t *streamTable) slot(name []byte) *streamSlot {
	i := t.first[t.hash(name)]
	for i != 0 {
		s := t.slots.at(i - 1)
		if bytes.Equal(t.names.bytes(s.name), name) {
			return s
		}
		i = s.same
	}
	return nil
}

// revision returns the number of revisions of name.
func (t *streamTable) revision(name string) uint64 {
	if s := t.slot(bytesOf(name)); s != nil {
		return s.n
	}
	return 0
}

// add records pos as name's next revision.
func (t *streamTable) add(name []byte, pos uint64) {
	s := t.slot(name)
	if s == nil {
		h := t.hash(name)
		i := t.slots.push(streamSlot{name: t.names.add(name), same: t.first[h]})
		t.first[h] = i + 1
		s = t.slots.at(i)
	}
	k := s.n % chunkLen
	if k == 0 {
		c := t.chunks.push(streamChunk{})
		if s.n == 0 {
			s.head = c
		} else {
			t.chunks.at(s.tail).next = c + 1
		}
		s.tail = c
	}
	t.chunks.at(s.tail).pos[k] = pos
	s.n++
}

// at returns the position of name's revision rev, if it has one.
func (t *streamTable) at(name string, rev uint64) (uint64, bool) {
	s := t.slot(bytesOf(name))
	if s == nil || rev == 0 || rev > s.n {
		return 0, false
	}
	c, k := t.chunkOf(s, rev-1)
	return t.chunks.at(c).pos[k], true
}

// chunkOf returns the chunk holding s's i-th position (from 0) and where in
// it: the tail's directly, any other by walking from the head.
func (t *streamTable) chunkOf(s *streamSlot, i uint64) (uint32, uint64) {
	if i >= (s.n-1)/chunkLen*chunkLen {
		return s.tail, i % chunkLen
	}
	c := s.head
	for range i / chunkLen {
		c = t.chunks.at(c).next - 1
	}
	return c, i % chunkLen
}

// positions appends to dst the positions of name's revisions in
// (after, after+limit].
func (t *streamTable) positions(dst []uint64, name string, after uint64, limit int) []uint64 {
	s := t.slot(bytesOf(name))
	if s == nil || after >= s.n || limit <= 0 {
		return dst
	}
	end := min(s.n, after+uint64(limit))
	c, k := t.chunkOf(s, after)
	for i := after; i < end; i++ {
		ch := t.chunks.at(c)
		dst = append(dst, ch.pos[k])
		if k++; k == chunkLen {
			c, k = ch.next-1, 0
		}
	}
	return dst
}

// paged is an append-only array kept in pages of pageLen elements: growing
// it allocates one page, never copies what it holds, and never needs room
// for it twice.
type paged[T any] struct {
	pages [][]T
	n     uint32
}

// pageBits: 4,096 elements a page, 160 KB of chunks, 128 KB of slots, 64 KB
// of the id index's entries.
const (
	pageBits = 12
	pageMask = 1<<pageBits - 1
)

func (p *paged[T]) len() int { return int(p.n) }

// at returns element i (i < len).
func (p *paged[T]) at(i uint32) *T { return &p.pages[i>>pageBits][i&pageMask] }

// push appends v and returns its index.
func (p *paged[T]) push(v T) uint32 {
	if p.n&pageMask == 0 {
		p.pages = append(p.pages, make([]T, 1<<pageBits))
	}
	i := p.n
	*p.at(i) = v
	p.n++
	return i
}

// grow lengthens p by k zero elements, for the caller to fill.
func (p *paged[T]) grow(k uint32) {
	p.n += k
	for len(p.pages)<<pageBits < int(p.n) {
		p.pages = append(p.pages, make([]T, 1<<pageBits))
	}
}

// nameArena holds stream names back to back in pages of namePage bytes
// (a longer name gets a page of its own); a nameRef says where one is.
type nameArena struct {
	pages [][]byte
}

const namePage = 64 << 10

type nameRef struct {
	page, off, len uint32
}

func (a *nameArena) add(name []byte) nameRef {
	last := len(a.pages) - 1
	if last < 0 || len(a.pages[last])+len(name) > cap(a.pages[last]) {
		a.pages = append(a.pages, make([]byte, 0, max(namePage, len(name))))
		last++
	}
	off := len(a.pages[last])
	a.pages[last] = append(a.pages[last], name...)
	return nameRef{page: uint32(last), off: uint32(off), len: uint32(len(name))}
}

func (a *nameArena) bytes(r nameRef) []byte { return a.pages[r.page][r.off : r.off+r.len] }

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
// Only the writer goroutine mutates it (under index.mu); see index.
type streamTable struct {
	// first maps a name's hash to its stream's slot + 1; streams whose
	// names share a hash are chained through streamSlot.same.
	first  map[uint64]uint32
	slots  []streamSlot
	names  []byte
	chunks []streamChunk
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
	nameOff uint64
	nameLen uint32
	same    uint32 // next slot with the same name hash, + 1; 0: none
	n       uint64 // revisions
	// head and tail are the first and last chunk: an append and a read of
	// the latest revisions (nearly every read: a command's stream cache
	// asks for what came after what it holds) go straight to the tail.
	head, tail uint32
}

var streamSeed = maphash.MakeSeed()

func newStreamTable(sizeHint uint64) *streamTable {
	streams := int(min(sizeHint/4, 1<<22))
	return &streamTable{
		first:  make(map[uint64]uint32, streams),
		slots:  make([]streamSlot, 0, streams),
		chunks: make([]streamChunk, 0, int(min(sizeHint/3, 1<<24))),
		hash:   func(name []byte) uint64 { return maphash.Bytes(streamSeed, name) },
	}
}

// bytesOf views s as bytes, for hashing and comparing; nothing writes to it.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// slot returns the slot of name, or nil.
func (t *streamTable) slot(name []byte) *streamSlot {
	i := t.first[t.hash(name)]
	for i != 0 {
		s := &t.slots[i-1]
		if bytes.Equal(t.names[s.nameOff:s.nameOff+uint64(s.nameLen)], name) {
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
		t.slots = append(t.slots, streamSlot{nameOff: uint64(len(t.names)), nameLen: uint32(len(name)), same: t.first[h]})
		t.first[h] = uint32(len(t.slots))
		t.names = append(t.names, name...)
		s = &t.slots[len(t.slots)-1]
	}
	k := s.n % chunkLen
	if k == 0 {
		t.chunks = append(t.chunks, streamChunk{})
		c := uint32(len(t.chunks) - 1)
		if s.n == 0 {
			s.head = c
		} else {
			t.chunks[s.tail].next = c + 1
		}
		s.tail = c
	}
	t.chunks[s.tail].pos[k] = pos
	s.n++
}

// at returns the position of name's revision rev, if it has one.
func (t *streamTable) at(name string, rev uint64) (uint64, bool) {
	s := t.slot(bytesOf(name))
	if s == nil || rev == 0 || rev > s.n {
		return 0, false
	}
	c, k := t.chunkOf(s, rev-1)
	return t.chunks[c].pos[k], true
}

// chunkOf returns the chunk holding s's i-th position (from 0) and where in
// it: the tail's directly, any other by walking from the head.
func (t *streamTable) chunkOf(s *streamSlot, i uint64) (uint32, uint64) {
	if i >= (s.n-1)/chunkLen*chunkLen {
		return s.tail, i % chunkLen
	}
	c := s.head
	for range i / chunkLen {
		c = t.chunks[c].next - 1
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
		dst = append(dst, t.chunks[c].pos[k])
		if k++; k == chunkLen {
			c, k = t.chunks[c].next-1, 0
		}
	}
	return dst
}

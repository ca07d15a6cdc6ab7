package boltstore

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// idIndex maps event ids to positions in 16 bytes an event: a run of
// (fingerprint, position) pairs sorted by fingerprint, in pages (paged, as
// the stream table's), plus the ids added since the run was last merged,
// kept whole in a small map. The run is sorted and merged in place, so it
// is never copied and never needs room for itself twice.
//
// It replaced a map[[16]byte]uint64, which took about 38 bytes an event and
// was the largest single thing in a national server's heap (60 MB of its
// ~330 MB live on CLEA; ten times that on a region): the heap sat so close
// to the server's memory limit that the collector ran about once a second
// under 1,000 commands/s. The run holds no pointers, so the collector never
// scans it.
//
// A fingerprint is 64 bits of the id, so two ids can share one (by chance,
// about once in 10^7 stores of a region's size, or on purpose: ids are
// derived from client-chosen keys with SHA-1, and 64 bits of SHA-1 can be
// matched with effort). A match is therefore only a candidate: lookup reads
// the id stored at each candidate position (idAt) and answers only an exact
// match, so a shared fingerprint costs a read, never a wrong answer.
type idIndex struct {
	run    paged[idEntry]
	recent map[[16]byte]uint64
	// dir[b] is the first entry of the run whose fingerprint's top bits
	// (fp >> shift) are at least b: a lookup searches one bucket of about
	// dirBucket entries, not the whole run. Most lookups are misses (every
	// new event's id is looked up before it is written, in the store's
	// single writer); a binary search of the whole run takes ~21 probes at
	// national scale, each a cache miss: 341 ns a miss, against 86–92 ns
	// with the directory and 81 ns in the map (BenchmarkIDLookup).
	dir   []uint32
	shift uint
}

type idEntry struct {
	fp  uint64
	pos uint64
}

// mergeMin and mergeMax bound how many recent ids are merged into the run
// at once: an eighth of the run in between, so that the pass a merge makes
// over the run (a few milliseconds at national scale, inside the writer) is
// paid rarely,
// while the map of recent ids stays small.
const (
	mergeMin = 1 << 16
	mergeMax = 1 << 20
)

func fingerprint(id [16]byte) uint64 {
	return binary.LittleEndian.Uint64(id[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[8:]), 32)
}

func newIDIndex() idIndex {
	return idIndex{recent: map[[16]byte]uint64{}}
}

// load appends an entry read at open; seal sorts them once all are read.
func (x *idIndex) load(pos uint64, id [16]byte) {
	x.run.push(idEntry{fingerprint(id), pos})
}

// seal sorts the entries load appended and refuses an id stored twice.
// idAt reads the id stored at a position: entries that share a fingerprint
// are told apart by it.
func (x *idIndex) seal(idAt func(pos uint64) ([16]byte, error)) error {
	x.sort()
	n := uint32(x.run.len())
	for i := uint32(1); i < n; i++ {
		if x.run.at(i).fp != x.run.at(i-1).fp {
			continue
		}
		// Rare: compare every pair of ids under this fingerprint, in
		// position order (sort keeps it under a shared fingerprint).
		j := i - 1
		for i+1 < n && x.run.at(i+1).fp == x.run.at(j).fp {
			i++
		}
		ids := make([][16]byte, 0, i-j+1)
		for k := j; k <= i; k++ {
			e := x.run.at(k)
			id, err := idAt(e.pos)
			if err != nil {
				return err
			}
			if fingerprint(id) != e.fp {
				// A damaged index entry repeating another event's id:
				// the event stored there would be missing.
				return fmt.Errorf("the index names another id than the one stored at position %d", e.pos)
			}
			if slices.Contains(ids, id) {
				return fmt.Errorf("event id %x at position %d was already at an earlier one", id, e.pos)
			}
			ids = append(ids, id)
		}
	}
	return nil
}

// dirBucket is about how many entries of the run one directory slot covers.
const dirBucket = 8

// dirBits is how many top bits of a fingerprint the directory of a run of n
// entries is keyed by.
func dirBits(n int) int { return min(max(bits.Len(uint(n/dirBucket)), 8), 26) }

// less orders entries by fingerprint, then position.
func (e idEntry) less(o idEntry) bool { return e.fp < o.fp || e.fp == o.fp && e.pos < o.pos }

// sort orders the run by fingerprint (then position) in place and builds
// its directory. Entries are moved into place by an in-place radix sort
// (American flag sort): first by the fingerprint's top 8 bits, which
// streams through 256 buckets at once, then each of those buckets (a few
// hundred KB at ten times CLEA, in cache) by the rest of the directory's
// bits, leaving buckets of about dirBucket entries, each finished by
// insertion. Sorting in place, not into a copy, matters at scale: at ten
// times CLEA the run is 250 MB, and its copy was the largest passing
// allocation of a restart and of an import.
func (x *idIndex) sort() {
	n := uint32(x.run.len())
	d := dirBits(int(n))
	x.shift = 64 - uint(d)
	count := flagSort(&x.run, 0, n, func(fp uint64) uint32 { return uint32(fp >> 56) }, 256, nil)
	if d > 8 {
		// count starts with where the first pass's 256 buckets begin.
		top := slices.Clone(count[:257])
		mask := uint64(1)<<(d-8) - 1
		for b := range 256 {
			count = flagSort(&x.run, top[b], top[b+1], func(fp uint64) uint32 { return uint32(fp >> x.shift & mask) }, 1<<(d-8), count)
		}
	}
	x.dir = x.directory()
	for b := 0; b+1 < len(x.dir); b++ {
		lo, hi := x.dir[b], x.dir[b+1]
		for i := lo + 1; i < hi; i++ {
			for j := i; j > lo && x.run.at(j).less(*x.run.at(j - 1)); j-- {
				p, q := x.run.at(j), x.run.at(j-1)
				*p, *q = *q, *p
			}
		}
	}
}

// directory counts the run's entries by their top bits (fp >> shift) and
// returns where each bucket starts (and, last, the run's length); in a
// sorted run that is the directory.
func (x *idIndex) directory() []uint32 {
	start := x.dir
	if want := 1<<(64-x.shift) + 1; len(start) == want {
		clear(start)
	} else {
		start = make([]uint32, want)
	}
	for i := range uint32(x.run.len()) {
		start[x.run.at(i).fp>>x.shift+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	return start
}

// lookup returns the position of id. idAt reads the id stored at a position.
func (x *idIndex) lookup(id [16]byte, idAt func(pos uint64) ([16]byte, error)) (uint64, bool, error) {
	if pos, ok := x.recent[id]; ok {
		return pos, true, nil
	}
	n := uint32(x.run.len())
	if n == 0 {
		return 0, false, nil
	}
	fp := fingerprint(id)
	for i := x.first(fp); i < n && x.run.at(i).fp == fp; i++ {
		pos := x.run.at(i).pos
		got, err := idAt(pos)
		if err != nil {
			return 0, false, err
		}
		if got == id {
			return pos, true, nil
		}
	}
	return 0, false, nil
}

// first returns the first entry of the run whose fingerprint is at least
// fp (the run must not be empty). A bucket is a few entries, almost always
// on one page: they are searched there.
func (x *idIndex) first(fp uint64) uint32 {
	top := fp >> x.shift
	lo, hi := x.dir[top], x.dir[top+1]
	if lo < hi && lo>>pageBits == (hi-1)>>pageBits {
		page := x.run.pages[lo>>pageBits][lo&pageMask : (hi-1)&pageMask+1]
		i, j := 0, len(page)
		for i < j {
			h := int(uint(i+j) >> 1)
			if page[h].fp < fp {
				i = h + 1
			} else {
				j = h
			}
		}
		return lo + uint32(i)
	}
	for lo < hi && x.run.at(lo).fp < fp {
		lo++
	}
	return lo
}

// mayHold reports whether id may be indexed: it is a recent id, or an
// entry of the run has its fingerprint. False is certain; true is only a
// candidate until lookup has read the stored id.
func (x *idIndex) mayHold(id [16]byte) bool {
	if _, ok := x.recent[id]; ok {
		return true
	}
	if x.run.len() == 0 {
		return false
	}
	fp := fingerprint(id)
	i := x.first(fp)
	return int(i) < x.run.len() && x.run.at(i).fp == fp
}

// add records a committed event. Ids are unique (the writer checked).
func (x *idIndex) add(pos uint64, id [16]byte) {
	x.recent[id] = pos
	if len(x.recent) >= min(max(mergeMin, x.run.len()/8), mergeMax) {
		x.merge()
	}
}

// merge moves the recent ids into the run: sorted apart (at most mergeMax
// of them), then merged into the run from its end, in place, the run
// growing by pages. Nothing the size of the run is allocated.
func (x *idIndex) merge() {
	if len(x.recent) == 0 {
		return
	}
	add := make([]idEntry, 0, len(x.recent))
	for id, pos := range x.recent {
		add = append(add, idEntry{fingerprint(id), pos})
	}
	slices.SortFunc(add, func(a, b idEntry) int {
		if a.less(b) {
			return -1
		}
		return 1
	})
	// i walks the old run down, j the new entries, k where the larger of
	// the two goes (int: i ends at -1).
	i := x.run.len() - 1
	x.run.grow(uint32(len(add)))
	for k, j := x.run.len()-1, len(add)-1; j >= 0; k-- {
		if i >= 0 && add[j].less(*x.run.at(uint32(i))) {
			*x.run.at(uint32(k)) = *x.run.at(uint32(i))
			i--
		} else {
			*x.run.at(uint32(k)) = add[j]
			j--
		}
	}
	x.shift = 64 - uint(dirBits(x.run.len()))
	x.dir = x.directory()
	clear(x.recent)
}

// len is how many ids are indexed.
func (x *idIndex) len() int { return x.run.len() + len(x.recent) }

// flagSort orders the run's entries [lo, hi) by key (in [0, buckets)) in
// place, by cycles of swaps. count is scratch space; it is returned, and
// starts with where each bucket begins (buckets+1 of them, the last hi).
func flagSort(r *paged[idEntry], lo, hi uint32, key func(fp uint64) uint32, buckets uint32, count []uint32) []uint32 {
	if cap(count) < int(2*buckets+1) {
		count = make([]uint32, 2*buckets+1)
	}
	start, next := count[:buckets+1], count[buckets+1:2*buckets+1]
	clear(start)
	for i := lo; i < hi; i++ {
		start[key(r.at(i).fp)+1]++
	}
	start[0] = lo
	for b := uint32(1); b <= buckets; b++ {
		start[b] += start[b-1]
	}
	copy(next, start[:buckets])
	for b := range buckets {
		for next[b] < start[b+1] {
			i := next[b]
			e := *r.at(i)
			for t := key(e.fp); t != b; t = key(e.fp) {
				dst := r.at(next[t])
				next[t]++
				e, *dst = *dst, e
			}
			*r.at(i) = e
			next[b]++
		}
	}
	return count
}

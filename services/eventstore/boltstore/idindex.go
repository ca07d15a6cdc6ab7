package boltstore

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"sort"
)

// idIndex maps event ids to positions in 16 bytes an event: a run of
// (fingerprint, position) pairs sorted by fingerprint, plus the ids added
// since the run was last merged, kept whole in a small map.
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
	run    []idEntry
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
// at once: an eighth of the run in between, so that the copy a merge makes
// (a few milliseconds at national scale, inside the writer) is paid rarely,
// while the map of recent ids stays small.
const (
	mergeMin = 1 << 16
	mergeMax = 1 << 20
)

func fingerprint(id [16]byte) uint64 {
	return binary.LittleEndian.Uint64(id[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[8:]), 32)
}

func newIDIndex(sizeHint uint64) idIndex {
	return idIndex{run: make([]idEntry, 0, int(min(sizeHint, 1<<28))), recent: map[[16]byte]uint64{}}
}

// load appends an entry read at open; seal sorts them once all are read.
func (x *idIndex) load(pos uint64, id [16]byte) {
	x.run = append(x.run, idEntry{fingerprint(id), pos})
}

// seal sorts the entries load appended and refuses an id stored twice.
// idAt reads the id stored at a position: entries that share a fingerprint
// are told apart by it.
func (x *idIndex) seal(idAt func(pos uint64) ([16]byte, error)) error {
	x.sort()
	for i := 1; i < len(x.run); i++ {
		if x.run[i].fp != x.run[i-1].fp {
			continue
		}
		// Rare: compare every pair of ids under this fingerprint.
		j := i - 1
		for i+1 < len(x.run) && x.run[i+1].fp == x.run[j].fp {
			i++
		}
		same := x.run[j : i+1]
		ids := make([][16]byte, len(same))
		for k, e := range same {
			id, err := idAt(e.pos)
			if err != nil {
				return err
			}
			if fingerprint(id) != e.fp {
				// A damaged index entry repeating another event's id:
				// the event stored there would be missing.
				return fmt.Errorf("the index names another id than the one stored at position %d", e.pos)
			}
			for m := range k {
				if ids[m] == id {
					return fmt.Errorf("event id %x at position %d was already at an earlier one", id, e.pos)
				}
			}
			ids[k] = id
		}
	}
	return nil
}

// dirBucket is about how many entries of the run one directory slot covers.
const dirBucket = 8

// dirBits is how many top bits of a fingerprint the directory of a run of n
// entries is keyed by.
func dirBits(n int) int { return min(max(bits.Len(uint(n/dirBucket)), 8), 26) }

// sort orders the run by fingerprint and builds its directory.
// Fingerprints are uniform, so a counting sort by their top bits (whose
// counts are the directory) leaves buckets of about dirBucket entries, each
// finished by insertion: indexing the 1.6 M ids of a national history at
// open takes 52–103 ms so, 270–292 ms with a comparison sort
// (BenchmarkIDIndexOpen), which was a fifth of the store's open. Both passes
// are stable: entries loaded at open, in log order, keep position order
// under a shared fingerprint.
func (x *idIndex) sort() {
	x.shift = 64 - uint(dirBits(len(x.run)))
	start := make([]uint32, 1<<(64-x.shift)+1)
	for _, e := range x.run {
		start[e.fp>>x.shift+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	out := make([]idEntry, len(x.run))
	next := slices.Clone(start[:len(start)-1])
	for _, e := range x.run {
		b := e.fp >> x.shift
		out[next[b]] = e
		next[b]++
	}
	for b := 0; b+1 < len(start); b++ {
		bucket := out[start[b]:start[b+1]]
		for i := 1; i < len(bucket); i++ {
			for j := i; j > 0 && bucket[j].fp < bucket[j-1].fp; j-- {
				bucket[j], bucket[j-1] = bucket[j-1], bucket[j]
			}
		}
	}
	x.run, x.dir = out, start
}

// lookup returns the position of id. idAt reads the id stored at a position.
func (x *idIndex) lookup(id [16]byte, idAt func(pos uint64) ([16]byte, error)) (uint64, bool, error) {
	if pos, ok := x.recent[id]; ok {
		return pos, true, nil
	}
	if len(x.run) == 0 {
		return 0, false, nil
	}
	fp := fingerprint(id)
	for i := x.first(fp); i < len(x.run) && x.run[i].fp == fp; i++ {
		got, err := idAt(x.run[i].pos)
		if err != nil {
			return 0, false, err
		}
		if got == id {
			return x.run[i].pos, true, nil
		}
	}
	return 0, false, nil
}

// first returns the first entry of the run whose fingerprint is at least
// fp (the run must not be empty).
func (x *idIndex) first(fp uint64) int {
	top := fp >> x.shift
	lo, hi := int(x.dir[top]), int(x.dir[top+1])
	return lo + sort.Search(hi-lo, func(i int) bool { return x.run[lo+i].fp >= fp })
}

// mayHold reports whether id may be indexed: it is a recent id, or an
// entry of the run has its fingerprint. False is certain; true is only a
// candidate until lookup has read the stored id.
func (x *idIndex) mayHold(id [16]byte) bool {
	if _, ok := x.recent[id]; ok {
		return true
	}
	if len(x.run) == 0 {
		return false
	}
	fp := fingerprint(id)
	i := x.first(fp)
	return i < len(x.run) && x.run[i].fp == fp
}

// add records a committed event. Ids are unique (the writer checked).
func (x *idIndex) add(pos uint64, id [16]byte) {
	x.recent[id] = pos
	if len(x.recent) >= min(max(mergeMin, len(x.run)/8), mergeMax) {
		x.merge()
	}
}

// merge moves the recent ids into the run. The run is sorted already, so
// the sort finds its buckets all but in order.
func (x *idIndex) merge() {
	x.run = slices.Grow(x.run, len(x.recent))
	for id, pos := range x.recent {
		x.run = append(x.run, idEntry{fingerprint(id), pos})
	}
	x.sort()
	clear(x.recent)
}

// len is how many ids are indexed.
func (x *idIndex) len() int { return len(x.run) + len(x.recent) }

package projections

import (
	"slices"
	"sort"
	"sync"
)

// sortedIndex lists record numbers by place (scopes), each list in the
// work list's own order, so that a page is a binary search for the cursor
// and a scan of about one page of records, not a pass over every record of
// the place.
//
// Records mostly arrive in order (a list's order follows field time); one
// that does not is inserted in place when it lands near the end, and
// otherwise marks its list unsorted (a bulk load, a snapshot restore), to be
// sorted once by the next reader.
type sortedIndex struct {
	index
	dirty []bool
	// key is record n's sort key; keys are unique (they end in the id).
	key func(n int32) string
	// less orders records as their keys do, without building them.
	less func(a, b int32) bool
	// mu serialises the readers' sorting: readers share the model's read
	// lock, and writers, who hold it exclusively, never meet them.
	mu sync.Mutex
}

// nearEnd bounds how far from the end an out-of-order record is inserted
// in place.
const nearEnd = 4096

func newSortedIndex(sc *scopes, key func(n int32) string, less func(a, b int32) bool) *sortedIndex {
	return &sortedIndex{index: newIndex(sc), key: key, less: less}
}

// grow makes room for list s.
func (ix *sortedIndex) grow(s int32) {
	ix.index.grow(s)
	if len(ix.dirty) < len(ix.lists) {
		ix.dirty = append(ix.dirty, make([]bool, len(ix.lists)-len(ix.dirty))...)
	}
}

// add lists record n under the places of p. Only writers call it.
func (ix *sortedIndex) add(p place, n int32) {
	for _, s := range ix.sc.of(p) {
		ix.grow(s)
		l := ix.lists[s]
		switch {
		case ix.dirty[s] || len(l) == 0 || ix.less(l[len(l)-1], n):
			l = append(l, n)
		default:
			lo := max(0, len(l)-nearEnd)
			i := lo + sort.Search(len(l)-lo, func(i int) bool { return ix.less(n, l[lo+i]) })
			if i == lo && lo > 0 {
				l = append(l, n)
				ix.dirty[s] = true
				break
			}
			l = slices.Insert(l, i, n)
		}
		ix.lists[s] = l
	}
}

// settle marks the lists a bulk load (bulkIndex) left out of order for sorting by the
// next reader, as add does with a record that lands far from its place.
func (ix *sortedIndex) settle() {
	ix.dirty = make([]bool, len(ix.lists))
	for s, l := range ix.lists {
		for i := 1; i < len(l); i++ {
			if !ix.less(l[i-1], l[i]) {
				ix.dirty[s] = true
				break
			}
		}
	}
}

// resort marks the lists of p for sorting, after a record's key changed.
// Only writers call it.
func (ix *sortedIndex) resort(p place) {
	for _, s := range ix.sc.of(p) {
		ix.grow(s)
		ix.dirty[s] = true
	}
}

// after returns the records of place s whose keys follow after ("" for
// all), in order. Readers call it under the model's read lock.
func (ix *sortedIndex) after(s scope, after string) []int32 {
	n, ok := ix.sc.find(s)
	if !ok || int(n) >= len(ix.lists) {
		return nil
	}
	ix.mu.Lock()
	l := ix.lists[n]
	if ix.dirty[n] {
		slices.SortFunc(l, func(a, b int32) int {
			switch {
			case ix.less(a, b):
				return -1
			case ix.less(b, a):
				return 1
			}
			return 0
		})
		ix.dirty[n] = false
	}
	ix.mu.Unlock()
	if after == "" {
		return l
	}
	return l[sort.Search(len(l), func(i int) bool { return ix.key(l[i]) > after }):]
}

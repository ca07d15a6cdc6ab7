package projections

// bulkIndex builds a model's place index in one go when a snapshot is
// restored. Adding records one by one (index.add) grew every list by
// appends; at ten times CLEA that was about a fifth of a restart's CPU (3.5
// million records), and the grown lists kept up to half their room spare.
// Here each distinct place is numbered and its four lists found once, each
// record keeps only its place's number until the end, and every list is
// then cut at its exact length from one array (no pointers, one object) and
// filled in record order: the lists are what the appends would have made.
type bulkIndex struct {
	sc         *scopes         // numbers the lists
	places     map[place]int32 // place -> place number
	placeLists [][4]int32      // place number -> its lists
	// numbering is the builder whose place numbers recs holds: b itself,
	// or the one rows was called on.
	numbering *bulkIndex
	recs      []int32 // each record's place number, in record order
}

func newBulkIndex(records int) *bulkIndex {
	b := &bulkIndex{sc: newScopes(), places: map[place]int32{}, recs: make([]int32, 0, records)}
	b.numbering = b
	return b
}

// rows returns an empty builder for n records whose places b numbers
// (placeOf on b, addPlace on the new builder): the lists model's three row
// indexes have its communities' places.
func (b *bulkIndex) rows(n int) *bulkIndex {
	return &bulkIndex{numbering: b, recs: make([]int32, 0, n)}
}

// placeOf returns p's place number.
func (b *bulkIndex) placeOf(p place) int32 {
	n, ok := b.places[p]
	if !ok {
		n = int32(len(b.places))
		b.places[p] = n
		b.placeLists = append(b.placeLists, b.sc.of(p))
	}
	return n
}

// add lists the next record (records are numbered from 0 in the order they
// are added) under the keys of p.
func (b *bulkIndex) add(p place) { b.addPlace(b.placeOf(p)) }

// addPlace lists the next record under the keys of the place numbered n.
func (b *bulkIndex) addPlace(n int32) { b.recs = append(b.recs, n) }

// fill makes dst hold every list, numbered as b numbers them: dst must be
// empty. The indexes filled from one builder and its rows share the
// numbering.
func (b *bulkIndex) fill(dst *index) {
	num := b.numbering
	counts := make([]int32, num.sc.n)
	for _, p := range b.recs {
		for _, n := range num.placeLists[p] {
			counts[n]++
		}
	}
	all := make([]int32, 4*len(b.recs))
	lists := make([][]int32, len(counts))
	at := 0
	for n, c := range counts {
		// Capped at its length: a later append copies the list out
		// instead of writing over the next one.
		lists[n] = all[at : at : at+int(c)]
		at += int(c)
	}
	for r, p := range b.recs {
		for _, n := range num.placeLists[p] {
			lists[n] = append(lists[n], int32(r))
		}
	}
	dst.sc, dst.lists = num.sc, lists
}

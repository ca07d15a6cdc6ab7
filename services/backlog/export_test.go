package backlog

// ParseItemFast and ParseItemFull expose the two parsers to the tests,
// which hold the fast one to the full one.
func ParseItemFast(raw []byte) (Item, bool) { return parseItemFast(raw) }

func ParseItemFull(raw []byte) (Item, error) {
	l, err := parseLine(raw)
	return l.Item, err
}

// NewPartitionerHashing returns a Partitioner that hashes record names with
// hash: the tests make names collide.
func NewPartitionerHashing(hash func(string) uint64) *Partitioner { return newPartitioner(hash) }

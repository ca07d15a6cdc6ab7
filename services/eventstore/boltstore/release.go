package boltstore

import (
	bolt "go.etcd.io/bbolt"

	"github.com/actionledger/actionledger/services/mapped"
)

// One pass over the log (opening, a rebuild, a verify) faults in far more of
// the file than it reads: bbolt interleaves the index and the records, and
// the kernel maps the pages around every one it faults in. The store gives
// those pages back (mapped.Release) during and after such passes, so the
// file's size does not count in the process's resident memory.

// ReleaseMemory drops this process's mappings of the store's file (see
// mapped.Release). Appends and the small reads of a write path fault in
// index and stream pages all over the file, and nothing releases them the
// way a scan does: a long write-only job (an import of millions of events)
// would end with the whole file counted in its resident memory. Such a job
// calls this now and then; pages it needs again come back from the page
// cache with a minor fault.
func (s *Store) ReleaseMemory() {
	_ = s.view(func(tx *bolt.Tx) error {
		mapped.Release(s.db.Info().Data, int(tx.Size()))
		return nil
	})
}

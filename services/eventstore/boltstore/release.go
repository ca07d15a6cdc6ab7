package boltstore

import bolt "go.etcd.io/bbolt"

// ReleaseMemory drops this process's mappings of the store's file (see
// releasePages). Appends and the small reads of a write path fault in
// index and stream pages all over the file, and nothing releases them the
// way a scan does: a long write-only job (an import of millions of events)
// would end with the whole file counted in its resident memory. Such a job
// calls this now and then; pages it needs again come back from the page
// cache with a minor fault.
func (s *Store) ReleaseMemory() {
	_ = s.view(func(tx *bolt.Tx) error {
		releasePages(s.db.Info().Data, int(tx.Size()))
		return nil
	})
}

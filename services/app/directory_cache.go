package app

import (
	"context"
	"sync"

	"github.com/actionledger/actionledger/domain"
)

// directoryCache keeps the users stream folded into a directory between the
// commands on it (create, deactivate, new token). The stream cache already
// spares reading and decoding the stream; this spares applying all of it
// again, which grows with every user.
//
// A command takes the directory out (so no two commands ever hold the same
// one; the per-stream lock queues them anyway) and puts it back only after
// its append succeeded: a directory a refused or failed command may have
// changed is dropped, and the next command folds the stream afresh.
type directoryCache struct {
	mu  sync.Mutex
	dir *domain.Directory
}

// load is update's loader for the users stream: the kept directory with the
// events appended since (by another replica) folded in, or the stream folded
// from the start.
func (c *directoryCache) load(history []domain.Event) (*domain.Directory, error) {
	c.mu.Lock()
	d := c.dir
	c.dir = nil
	c.mu.Unlock()
	if d != nil && len(d.Changes()) == 0 && d.Revision() <= uint64(len(history)) {
		if err := d.Apply(history[d.Revision():]); err == nil {
			return d, nil
		}
	}
	return domain.LoadDirectory(history)
}

// keep puts back a directory whose changes are now in the stream.
func (c *directoryCache) keep(d *domain.Directory) {
	d.Stored()
	c.mu.Lock()
	c.dir = d
	c.mu.Unlock()
}

// updateDirectory is update on the users stream through w's directory
// cache.
func updateDirectory(ctx context.Context, w *Writer, m *Meta, id string, guard, decide func(*domain.Directory) error) (Result, error) {
	var last *domain.Directory
	res, err := update(ctx, w, m, domain.UsersStream, id, w.users.load, guard, func(d *domain.Directory) error {
		last = d
		return decide(d)
	})
	if err == nil && !res.Replayed && last != nil {
		w.users.keep(last)
	}
	return res, err
}

package eventstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// ChainReport is the outcome of walking the tamper-evidence chain of a
// store's global log.
type ChainReport struct {
	// Count is how many events, from the first, form an intact chain.
	Count uint64
	// HeadPosition and HeadHash are the position and hash of the last intact
	// event (zero when there is none). An auditor who keeps the head hash of
	// an earlier verification can tell later that nothing before it changed,
	// and that nothing was cut off the end: the chain alone cannot show a
	// truncated tail.
	HeadPosition uint64
	HeadHash     [32]byte
	// BrokenAt is the first position that fails verification; 0 when the
	// log up to the store's head is intact.
	BrokenAt uint64
	// Reason says why BrokenAt failed.
	Reason string
	// Unchained is true when the store keeps no chain at all (its very first
	// event carries no hash, as on KurrentDB, where several replicas write
	// the log and none of them can chain it): there is nothing to verify,
	// which is not the same as damage.
	Unchained bool
}

// Intact reports whether the whole log verified.
func (r ChainReport) Intact() bool { return r.BrokenAt == 0 }

// verifyPage is how many events VerifyChain reads at once.
const verifyPage = 4096

// VerifyChain recomputes the hash chain over a store's whole global log (up
// to its head when the walk starts) with nothing but the port: ReadAll and
// ChainHash. It works for every adapter whose events carry their hashes, and
// it is as fast as the adapter's reads, because each event's hash is checked
// on its own — it holds both its own hash and its predecessor's — so the
// hashing runs on every core while the links are checked in log order.
//
// Damage is a result, not an error: an event whose content does not match its
// hash, a link that does not match the event before, a position out of order,
// an event the store cannot read, or a log that ends before the head. The
// error is only for a done ctx or a failing store.
func VerifyChain(ctx context.Context, s Store) (ChainReport, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return ChainReport{}, err
	}
	ctx, cancel := context.WithCancel(ctx)

	type page struct {
		events []RecordedEvent
		ok     []bool // ok[i]: events[i] hashes to its stored hash
		hashed chan struct{}
		// readErr, on the last page, is why reading stopped early.
		readErr error
	}
	workers := runtime.GOMAXPROCS(0)
	ordered := make(chan *page, 2*workers)
	work := make(chan *page, 2*workers)
	go func() {
		defer close(work)
		defer close(ordered)
		send := func(p *page) bool {
			select {
			case ordered <- p:
			case <-ctx.Done():
				return false
			}
			select {
			case work <- p:
			case <-ctx.Done():
				return false
			}
			return true
		}
		var after uint64
		single := 0 // events left to read one at a time after a failed page
		for after < head {
			limit := verifyPage
			if single > 0 {
				limit = 1
			}
			events, err := s.ReadAll(ctx, after, limit)
			if err != nil && limit > 1 && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				// A page that cannot be read: narrow it down to its first
				// unreadable event.
				single = verifyPage
				continue
			}
			if err != nil {
				send(&page{readErr: err, hashed: make(chan struct{})})
				return
			}
			single = max(single-len(events), 0)
			for n := len(events); n > 0 && events[n-1].Position > head; n-- {
				events = events[:n-1]
			}
			if len(events) == 0 {
				return // the log ends early; the check after the walk says so
			}
			after = events[len(events)-1].Position
			if !send(&page{events: events, hashed: make(chan struct{})}) {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 0, 1024)
			for p := range work {
				p.ok = make([]bool, len(p.events))
				for i := range p.events {
					ev := &p.events[i]
					buf = AppendCanonical(buf[:0], ev)
					p.ok[i] = ev.Hash != [32]byte{} && chainHashOf(ev.PrevHash, buf) == ev.Hash
				}
				close(p.hashed)
			}
		})
	}
	// Stop the reader before waiting for the workers: an early answer leaves
	// it blocked on a full channel otherwise.
	defer func() {
		cancel()
		wg.Wait()
	}()

	var r ChainReport
	for p := range ordered {
		if p.readErr != nil {
			if ctx.Err() != nil || errors.Is(p.readErr, ErrClosed) {
				return r, p.readErr
			}
			r.BrokenAt, r.Reason = r.HeadPosition+1, fmt.Sprintf("the event after position %d cannot be read: %v", r.HeadPosition, p.readErr)
			return r, nil
		}
		select {
		case <-p.hashed:
		case <-ctx.Done():
			return r, ctx.Err()
		}
		for i := range p.events {
			ev := &p.events[i]
			switch {
			case ev.Position <= r.HeadPosition:
				r.BrokenAt, r.Reason = ev.Position, fmt.Sprintf("position %d follows position %d: the log is out of order", ev.Position, r.HeadPosition)
			case ev.PrevHash != r.HeadHash:
				r.BrokenAt, r.Reason = ev.Position, "previous hash does not match the hash of the event before"
			case ev.Hash == [32]byte{} && r.Count == 0:
				r.BrokenAt, r.Unchained = ev.Position, true
				r.Reason = "this store keeps no hash chain (its events carry no hashes); integrity rests on the store itself"
			case ev.Hash == [32]byte{}:
				r.BrokenAt, r.Reason = ev.Position, "the event carries no hash"
			case !p.ok[i]:
				r.BrokenAt, r.Reason = ev.Position, "hash does not match the event's content"
			default:
				r.Count++
				r.HeadPosition, r.HeadHash = ev.Position, ev.Hash
				continue
			}
			return r, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if r.HeadPosition < head {
		r.BrokenAt, r.Reason = r.HeadPosition+1, fmt.Sprintf("the log ends at position %d but the store's head is %d", r.HeadPosition, head)
	}
	return r, nil
}

// chainHashOf is ChainHash over an already encoded canonical form, so that a
// walk can reuse one buffer for every event.
func chainHashOf(prev [32]byte, canonical []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(canonical)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

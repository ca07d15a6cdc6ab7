package projections

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionledger/actionledger/services/eventstore"
)

// A cut is the set of events an as-of question counts: the events a replay
// of the log would fold (see AsOf). Every model keeps, for each event it
// folded into a record, the event's log position and occurred_at, so that it
// can tell which of them a cut holds and answer from its live records as a
// fresh model fed only the cut would.
type cut struct {
	// upto: no event after this position is in the cut (the head of the log
	// when the question was asked, or where a recorded-basis replay stops).
	upto uint64
	// occurred basis: an event is in the cut iff its occurred_at ≤ at (unix
	// nanoseconds, saturated).
	occurred bool
	at       int64
	// recorded basis: every event up to upto is in the cut but these
	// (ascending): events read before the replay's stop that were recorded
	// after the time.
	skip []uint64
	// until: no event that occurred at or after it (unix nanoseconds) is
	// in the cut; 0: no such bound. It is the end (to) of the period a
	// question asks about (periodCut).
	until int64
}

// periodCut is c bounded by the end of f's period: nothing that happened at
// or after f.To counts, neither a record created then nor a change to an
// older one (an action point achieved after to is in progress at to). c nil
// stands for every event. Without f.To it is c.
func periodCut(f *Filter, c *cut) *cut {
	if f.To.IsZero() {
		return c
	}
	p := cut{upto: math.MaxUint64}
	if c != nil {
		p = *c
	}
	if u := nanos(f.To); p.until == 0 || u < p.until {
		p.until = u
	}
	return &p
}

// has reports whether the event at position pos, which occurred at occ
// (unix nanoseconds), is in the cut.
func (c *cut) has(pos uint64, occ int64) bool {
	if pos > c.upto || c.until != 0 && occ >= c.until {
		return false
	}
	if c.occurred {
		return occ <= c.at
	}
	if len(c.skip) == 0 || pos < c.skip[0] {
		return true
	}
	_, skipped := slices.BinarySearch(c.skip, pos)
	return !skipped
}

// span sums up the events folded into a record: the log position of the
// last of them and the latest occurred_at among them (unix nanoseconds, as
// each is given to has). A cut that holds both holds every one of them
// (hasAll), and then a fresh model fed the cut holds the record exactly as
// the live model does: as-of answers such a record from its live state,
// without walking its history. Most records are such, for any time but the
// few weeks a record is alive: that walk, a chase of pointers through the
// model's memory, was most of an as-of question's time.
//
// It is not saved with a snapshot (gob skips unexported fields): a model
// read back works it out again from the record's events.
type span struct {
	last   uint64
	latest int64
}

func spanOf(pos uint64, occ int64) span { return span{last: pos, latest: occ} }

func (s *span) add(pos uint64, occ int64) {
	s.last, s.latest = max(s.last, pos), max(s.latest, occ)
}

// hasAll reports whether the cut holds every event of a record whose events
// span s: for each of them, has(pos, occ) is true.
func (c *cut) hasAll(s span) bool {
	if s.last > c.upto || c.until != 0 && s.latest >= c.until {
		return false
	}
	if c.occurred {
		return s.latest <= c.at
	}
	return len(c.skip) == 0 || s.last < c.skip[0]
}

var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// nanos is t in unix nanoseconds, saturated at the ends of int64 (years 1677
// and 2262) where UnixNano would wrap. For event times (the domain keeps
// them after 2000 and before now + 5 minutes) it is t.UnixNano(), and for
// such an event time e and any time t, nanos(e) ≤ nanos(t) exactly when
// !e.After(t): comparing nanos is comparing times.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// logClock samples the recorded_at of the global log: the position and
// recorded_at of every clockEvery-th event from the first. A recorded-basis
// cut starts reading the log at the last sample recorded by the time (see
// recordedCut), instead of at the beginning.
//
// Why samples and not a binary search of the store: KurrentDB positions are
// commit positions, not contiguous, and KurrentDB refuses to read $all from
// a position that is not a record boundary (InvalidPosition), so the only
// positions a reader may start from are those of events it has seen. The
// samples are such positions. They are fed, gap-free, by the live path (a
// model that applies the event right after the clock's last one extends it:
// a model receives every event of the log in order), by rebuilds and as-of
// catch-ups, and by reading the log from where the clock stands when it
// lags (models restored from snapshots newer than the clock's); they are
// saved with the snapshots. The log is append-only, so a sample never goes
// stale.
//
// Memory: 16 bytes per clockEvery events (100 kB for 1.6 million events).
type logClock struct {
	extendMu sync.Mutex // one reader of the log at a time
	mu       sync.Mutex
	covered  atomic.Uint64 // position of the last event counted (0: none)
	n        uint64        // events counted
	lastRec  int64         // recorded_at of the event at covered
	// backwards: some event counted was recorded before the one before it
	// (never on the embedded store).
	backwards bool
	samples   []clockSample
	savedN    uint64 // n when last saved (or loaded)
}

type clockSample struct {
	Pos uint64
	Rec int64 // recorded_at, unix nanoseconds (saturated)
}

// clockEvery is the sampling interval, in events: a cut reads at most about
// this many events before the time, plus those recorded within
// recordedSlack of it.
const clockEvery = 256

// observe counts the event at pos, recorded at rec, if it is the one right
// after the clock's last: prev is the position of the event before it in the
// log (the observer's previous position).
func (c *logClock) observe(prev, pos uint64, rec time.Time) {
	if c.covered.Load() != prev || pos <= prev {
		return
	}
	c.mu.Lock()
	if c.covered.Load() == prev {
		c.addLocked(pos, rec)
	}
	c.mu.Unlock()
}

func (c *logClock) addLocked(pos uint64, rec time.Time) {
	r := nanos(rec)
	if c.n > 0 && r < c.lastRec {
		c.backwards = true
	}
	if c.n%clockEvery == 0 {
		c.samples = append(c.samples, clockSample{Pos: pos, Rec: r})
	}
	c.n++
	c.lastRec = r
	c.covered.Store(pos)
}

// extend reads the log from the clock's last event until it reaches head or
// has counted an event recorded after stopAfter.
func (c *logClock) extend(ctx context.Context, store eventstore.Store, head uint64, stopAfter time.Time) error {
	c.extendMu.Lock()
	defer c.extendMu.Unlock()
	stop := nanos(stopAfter)
	for {
		c.mu.Lock()
		from, done := c.covered.Load(), c.covered.Load() >= head || c.n > 0 && c.lastRec > stop
		c.mu.Unlock()
		if done {
			return nil
		}
		recs, err := store.ReadAll(ctx, from, replayPage)
		if err != nil || len(recs) == 0 {
			return err
		}
		c.mu.Lock()
		// The live path may have counted some of these meanwhile; the
		// page is contiguous from `from`, so go on after the clock's last.
		for i := range recs {
			if recs[i].Position > c.covered.Load() {
				c.addLocked(recs[i].Position, recs[i].RecordedAt)
			}
		}
		c.mu.Unlock()
	}
}

// view returns the samples (a prefix that is never modified again), and
// whether recorded_at went backwards anywhere in the part of the log the
// clock has counted.
func (c *logClock) view() ([]clockSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.samples[:len(c.samples):len(c.samples)], c.backwards
}

// reset forgets everything (the log is not the one the clock was built on).
func (c *logClock) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n, c.lastRec, c.backwards, c.samples, c.savedN = 0, 0, false, nil, math.MaxUint64
	c.covered.Store(0)
}

// unsaved returns the encoded clock and its n if it changed since it was
// last saved (saved(n) records that it was).
func (c *logClock) unsaved() ([]byte, uint64, bool) {
	c.mu.Lock()
	n, changed := c.n, c.n != c.savedN
	c.mu.Unlock()
	if !changed {
		return nil, 0, false
	}
	b, _ := c.MarshalBinary()
	return b, n, true
}

func (c *logClock) saved(n uint64) {
	c.mu.Lock()
	c.savedN = n
	c.mu.Unlock()
}

// MarshalBinary encodes the clock: n, covered, lastRec, backwards, then the
// samples.
func (c *logClock) MarshalBinary() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := make([]byte, 0, 25+16*len(c.samples))
	b = binary.BigEndian.AppendUint64(b, c.n)
	b = binary.BigEndian.AppendUint64(b, c.covered.Load())
	b = binary.BigEndian.AppendUint64(b, uint64(c.lastRec))
	if c.backwards {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, s := range c.samples {
		b = binary.BigEndian.AppendUint64(b, s.Pos)
		b = binary.BigEndian.AppendUint64(b, uint64(s.Rec))
	}
	return b, nil
}

// UnmarshalBinary restores what MarshalBinary encoded.
func (c *logClock) UnmarshalBinary(b []byte) error {
	if len(b) < 25 || (len(b)-25)%16 != 0 {
		return errors.New("projections: as-of clock: bad length")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = binary.BigEndian.Uint64(b)
	c.covered.Store(binary.BigEndian.Uint64(b[8:]))
	c.lastRec = int64(binary.BigEndian.Uint64(b[16:]))
	c.backwards = b[24] != 0
	c.samples = make([]clockSample, 0, (len(b)-25)/16)
	for b = b[25:]; len(b) > 0; b = b[16:] {
		c.samples = append(c.samples, clockSample{Pos: binary.BigEndian.Uint64(b), Rec: int64(binary.BigEndian.Uint64(b[8:]))})
	}
	c.savedN = c.n
	return nil
}

// recordedCut finds the cut of the recorded basis at `at`, as the replay
// defines it: reading the log in order up to head, the replay stops at the
// first event recorded after at + recordedSlack and folds the events before
// it that were recorded by at; its position is that of the last event before
// the stop.
//
// The start is the last clock sample recorded by at (none: the start of the
// log), and the log is read from there to the stop; events read are
// classified one by one, exactly as the replay does. Every event up to the
// sample is in the cut: recorded_at has not gone backwards in that part of
// the log (the clock saw every event of it), so each was recorded by the
// sample's time, and the stop, recorded after at + recordedSlack, comes
// after them.
//
// Where recorded_at did go backwards somewhere (a KurrentDB leader change),
// the start is the last sample recorded by at − recordedSlack, which is
// exact provided it never steps back by more than recordedSlack — the
// assumption the replay's stop already makes: an event before the sample
// was recorded by the sample's time + recordedSlack ≤ at, and the stop,
// recorded after at + recordedSlack, comes after the sample.
func (e *Engine) recordedCut(ctx context.Context, at time.Time, head uint64) (cut, error) {
	if head == 0 {
		return cut{}, nil
	}
	stopAt, safe := at.Add(recordedSlack), at.Add(-recordedSlack)
	if err := e.clock.extend(ctx, e.cfg.Store, head, stopAt); err != nil {
		return cut{}, err
	}
	samples, backwards := e.clock.view()
	samples = samples[:sort.Search(len(samples), func(i int) bool { return samples[i].Pos > head })]
	limit := nanos(at)
	if backwards {
		limit = nanos(safe)
	}
	i := sort.Search(len(samples), func(i int) bool { return samples[i].Rec > limit })
	var start uint64
	if i > 0 {
		start = samples[i-1].Pos
	}
	c := cut{upto: start}
	page := 2 * clockEvery
	for after := start; ; {
		recs, err := e.cfg.Store.ReadAll(ctx, after, page)
		if err != nil {
			return cut{}, err
		}
		if len(recs) == 0 {
			return c, nil
		}
		for i := range recs {
			rec := &recs[i]
			if rec.Position > head || rec.RecordedAt.After(stopAt) {
				return c, nil
			}
			c.upto = rec.Position
			if rec.RecordedAt.After(at) {
				c.skip = append(c.skip, rec.Position)
			}
		}
		after = recs[len(recs)-1].Position
		page = min(2*page, replayPage)
	}
}

package projections

import (
	"cmp"
	"context"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
	"github.com/actionledger/actionledger/services/mapped"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// The read models, by name.
const (
	NameCompletion = "completion"
	NameReferrals  = "referrals"
	NameFeedback   = "feedback"
	NameTrust      = "trust"
)

// stateVersion changes whenever a model's snapshot layout does; stored state
// of another version is discarded and rebuilt from the log. 3: records keep
// the log position and occurred_at of every event folded into them (as-of
// from the live models), and the as-of clock is saved with them. 4: every
// stored value ends with its CRC-32C (seal). 5: activity keeps per-week
// counts of each actor's events. 6: the lists, referral, feedback and
// completion models' snapshots are a binary encoding of their own
// (lists_codec.go, indicator_codec.go), not gob. 7: so is the trust model's.
const stateVersion = 7

// Config wires an Engine.
type Config struct {
	Store eventstore.Store
	// Path is the read-model database file (bbolt). It only holds what can
	// be rebuilt from the log.
	Path string
	// TrustWeights weigh T1..T4 (zero: DefaultTrustWeights).
	TrustWeights [4]float64
	// TrustMinVisits is how many visits each of the two weeks "falling"
	// compares must rest on (zero: DefaultTrustMinVisits).
	TrustMinVisits int
	// SnapshotEvery is the longest a changed model goes unsaved (default
	// 10m); SnapshotEvents saves it sooner, once it has applied that many
	// events since it was last saved (default DefaultSnapshotEvents). A
	// restart replays what the models had not saved.
	SnapshotEvery  time.Duration
	SnapshotEvents int
	// SnapshotCheck is how often models are looked at for a save (default
	// 5s, and never less often than SnapshotEvery).
	SnapshotCheck time.Duration
	// Models overrides the set of read models (tests inject failing ones);
	// nil means the standard models.
	Models []Definition
	// Fresh starts the models and the as-of clock empty instead of from
	// their snapshots: for an offline rebuild, which replaces them all.
	// Restoring them first would only hold a second copy of every model
	// through the rebuild (at ten times CLEA, gigabytes) for nothing. The
	// snapshots stay in the file until the rebuild saves over them.
	Fresh      bool
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	Clock      func() time.Time
}

// Definition names a read model and makes empty instances of it.
type Definition struct {
	Name string
	New  func() Model
}

// Engine runs the read models.
type Engine struct {
	cfg     Config
	db      *bolt.DB
	projs   []*proj
	byName  map[string]*proj
	router  *message.Router
	log     *zap.Logger
	metrics *engineMetrics

	waitMu sync.Mutex
	moved  chan struct{} // closed and replaced when a position advances and watched
	// watched says a waiter took moved since it was made (under waitMu).
	watched bool

	readyAt   uint64 // head of the log when the engine started
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	rebuildMu sync.Mutex
	// rebuilding is the progress of the running (or last) rebuild, read
	// lock-free by whoever shows it.
	rebuilding rebuildCounters
	// snapMu makes a snapshot (encode then write) one step with respect to
	// a rebuild's switch: a snapshot of an old model must not land after
	// the new one's.
	snapMu sync.Mutex
	// clock samples recorded_at along the log for recorded-basis as-of cuts.
	clock logClock
	cache queryCache
	// decoded shares each event's decoding among the models' handlers.
	decoded decodeCache
}

// proj is one read model and its checkpoint.
type proj struct {
	def      Definition
	mu       sync.RWMutex
	model    Model
	pos      uint64
	lastAt   time.Time // recorded_at of the event at pos
	savedPos uint64
	// unsaved counts the events applied since the last save (at least; a
	// bulk catch-up counts positions); savedAt is when that save was.
	unsaved int
	savedAt time.Time
	// savedSize is the length of the model's stored snapshot (0: none
	// known), which orders a save of several models (saveModels).
	savedSize atomic.Int64
	poisoned  prometheus.Counter
	// published mirrors pos for lock-free readers (Position, Ready).
	published atomic.Uint64
}

// Open loads every read model from its last snapshot. Run starts feeding
// them.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	e, err := Load(cfg)
	if err != nil {
		return nil, err
	}
	if err := e.Attach(ctx, cfg.Store); err != nil {
		e.db.Close()
		return nil, err
	}
	return e, nil
}

// Load restores every read model from its last snapshot without touching
// the store (cfg.Store may still be nil): a server restores its models while
// the store opens and loads its own index, the two largest parts of a
// restart. Attach completes the open.
func Load(cfg Config) (*Engine, error) {
	if cfg.SnapshotEvery <= 0 {
		cfg.SnapshotEvery = DefaultSnapshotEvery
	}
	if cfg.SnapshotEvents <= 0 {
		cfg.SnapshotEvents = DefaultSnapshotEvents
	}
	if cfg.SnapshotCheck <= 0 {
		cfg.SnapshotCheck = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Models == nil {
		weights, minVisits := cfg.TrustWeights, cfg.TrustMinVisits
		cfg.Models = []Definition{
			{NameCompletion, func() Model { return NewCompletion() }},
			{NameReferrals, func() Model { return NewReferrals() }},
			{NameFeedback, func() Model { return NewFeedback() }},
			{NameTrust, func() Model { return NewTrustMin(weights, minVisits) }},
			{NameActivity, func() Model { return NewActivity() }},
			{NameLists, func() Model { return NewLists() }},
		}
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("opening read-model db %s: %w", cfg.Path, err)
	}
	e := &Engine{cfg: cfg, db: db, byName: map[string]*proj{}, log: cfg.Logger.Named("projections"), moved: make(chan struct{}),
		done: make(chan struct{})}
	if e.metrics, err = newEngineMetrics(cfg.Registerer, e); err != nil {
		db.Close()
		return nil, err
	}
	for _, def := range cfg.Models {
		p := &proj{def: def, model: def.New(), savedAt: time.Now(), poisoned: e.metrics.poisoned.WithLabelValues(def.Name)}
		e.projs = append(e.projs, p)
		e.byName[def.Name] = p
	}
	if err := e.load(); err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

// Attach gives a loaded engine its store, and takes the head of the log that
// Ready waits for. On an error the engine is unusable: Close it.
func (e *Engine) Attach(ctx context.Context, store eventstore.Store) error {
	e.cfg.Store = store
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	e.readyAt = head
	if e.clock.covered.Load() > head {
		// A clock ahead of the log was built on another log.
		e.clock.reset()
	}
	return nil
}

var (
	bucketState  = []byte("state")
	bucketPoison = []byte("poison")
	keyVersion   = []byte("version")
	// keyClock holds the as-of clock; no model may be named so (a model's
	// name is its key).
	keyClock = []byte("\x00as-of clock")
)

// crcTable is CRC-32C (Castagnoli): it detects every burst of up to 32
// flipped bits, and the CPU computes it at memory speed.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// seal appends the CRC-32C of b to b. Every snapshot and the as-of clock are
// stored sealed: bbolt checksums only its meta pages, so a flipped bit in a
// value would otherwise be decoded and served as truth (one turned an action
// point's kind one_off into kne_off, and the stats served a kne_off bucket).
func seal(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

var errDamaged = errors.New("checksum mismatch: the stored bytes were altered")

// unseal returns what seal sealed, or errDamaged.
func unseal(v []byte) ([]byte, error) {
	if len(v) < 4 {
		return nil, errDamaged
	}
	body := v[:len(v)-4]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(v[len(v)-4:]) {
		return nil, errDamaged
	}
	return body, nil
}

// restore decodes a model's snapshot; a decoder that panics on bytes it
// never wrote is an error like any other.
func restore(m Model, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding panicked: %v", r)
		}
	}()
	return m.UnmarshalBinary(data)
}

// load restores each model from its snapshot. A snapshot that cannot be
// trusted — another version, a checksum that does not match, bytes that do
// not decode — is dropped with a warning naming the model, and the model
// rebuilds from the log as it catches up: a read model only holds what the
// log can give again, so it never serves damaged state.
func (e *Engine) load() error {
	return e.db.Update(func(tx *bolt.Tx) error {
		st, err := tx.CreateBucketIfNotExists(bucketState)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketPoison); err != nil {
			return err
		}
		if v := st.Get(keyVersion); len(v) != 8 || binary.BigEndian.Uint64(v) != stateVersion {
			if v != nil {
				e.log.Warn("read-model snapshots are of another version; rebuilding from the log")
			}
			if err := tx.DeleteBucket(bucketState); err != nil {
				return err
			}
			if st, err = tx.CreateBucket(bucketState); err != nil {
				return err
			}
			return st.Put(keyVersion, binary.BigEndian.AppendUint64(nil, stateVersion))
		}
		for _, p := range e.projs {
			p.savedSize.Store(int64(len(st.Get([]byte(p.def.Name)))))
		}
		if e.cfg.Fresh {
			return nil
		}
		if v := st.Get(keyClock); v != nil {
			body, err := unseal(v)
			if err == nil {
				err = e.clock.UnmarshalBinary(body)
			}
			if err != nil {
				e.log.Warn("dropping a damaged as-of clock; it is rebuilt from the log", zap.Error(err))
				e.clock.reset()
				if err := st.Delete(keyClock); err != nil {
					return err
				}
			}
		}
		// Each model decodes on its own goroutine: they share nothing, and
		// decoding the snapshots one after another was most of a restart.
		// The values are bbolt's memory map, valid until the transaction
		// ends, which is after every decoder is done.
		type restored struct {
			model Model
			pos   uint64
			err   error
		}
		got := make([]*restored, len(e.projs))
		var wg sync.WaitGroup
		// On a cold page cache (a machine just started) six decoders
		// faulting their snapshots in a page at a time read the file in
		// small random reads; the file read ahead from start to end, beside
		// them, comes in at the disk's sequential speed (mapped.ReadAhead
		// skips a file the page cache already holds).
		stopReading := mapped.ReadAhead(e.cfg.Path, e.db.Info().Data, int(tx.Size()))
		defer stopReading()
		stopReleasing := mapped.While(e.db.Info().Data, int(tx.Size()))
		for i, p := range e.projs {
			v := st.Get([]byte(p.def.Name))
			if v == nil {
				continue
			}
			r := &restored{}
			got[i] = r
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, err := unseal(v)
				if err == nil && len(body) < 8 {
					err = errDamaged
				}
				if err == nil {
					r.model, r.pos = p.def.New(), binary.BigEndian.Uint64(body[:8])
					err = restore(r.model, body[8:])
				}
				r.err = err
			}()
		}
		wg.Wait()
		stopReleasing()
		for i, p := range e.projs {
			key := []byte(p.def.Name)
			r := got[i]
			if r == nil {
				continue
			}
			err := r.err
			if err != nil {
				e.log.Warn("dropping a damaged read-model snapshot; rebuilding the model from the log",
					zap.String("projection", p.def.Name), zap.Error(err))
				if err := st.Delete(key); err != nil {
					return err
				}
				continue
			}
			p.model, p.pos, p.savedPos = r.model, r.pos, r.pos
			p.unsaved, p.savedAt = 0, time.Now()
			p.published.Store(p.pos)
		}
		return nil
	})
}

// Run feeds the models until ctx ends: a Watermill router with one handler
// per model, each on its own subscription of the whole log starting after
// that model's checkpoint.
func (e *Engine) Run(ctx context.Context) error {
	ctx, e.cancel = context.WithCancel(ctx)
	defer close(e.done)
	wlog := NewWatermillLogger(e.log)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return err
	}
	// A batch that fails is not retried or poisoned as a whole: the
	// subscriber sends its events again one message each, and the one that
	// fails is retried and poisoned alone (see applyBatch).
	poison, err := middleware.PoisonQueueWithFilter(&poisonPublisher{e: e}, "poison", func(err error) bool {
		return !errors.As(err, new(*batchError))
	})
	if err != nil {
		return err
	}
	retry := middleware.Retry{MaxRetries: 3, InitialInterval: 20 * time.Millisecond, MaxInterval: 500 * time.Millisecond, Multiplier: 2, Logger: wlog}
	// First added is outermost: a panic becomes an error (Recoverer), is
	// retried with backoff (Retry), and if it still fails the event goes to
	// the poison queue and the others flow on.
	// The metrics (metrics.go) wrap the rest: a message's outcome outermost,
	// each try of the handler innermost.
	byName := make(map[string]*handlerMetrics, len(e.projs))
	for _, p := range e.projs {
		byName[p.def.Name] = e.metrics.bind(p.def.Name)
	}
	router.AddMiddleware(receivedMiddleware(byName), middleware.CorrelationID, poison, firstTryThen(retry), middleware.Recoverer, handlerMiddleware(byName))
	for _, p := range e.projs {
		sub, err := pubsub.NewSubscriber(e.cfg.Store, pubsub.SubscriberConfig{
			EventInContext: true,
			MaxBatch:       maxDeliveryBatch,
			StartAfter: func(context.Context, string) (uint64, error) {
				p.mu.RLock()
				defer p.mu.RUnlock()
				return p.pos, nil
			},
		}, wlog)
		if err != nil {
			return err
		}
		router.AddNoPublisherHandler(p.def.Name, "$all", sub, func(msg *message.Message) error {
			if evs, ok := pubsub.EventsFromMessage(msg); ok {
				return e.applyBatch(p, evs)
			}
			rec, err := pubsub.EventFromMessage(msg)
			if err != nil {
				return err
			}
			return e.apply(p, &rec)
		})
	}
	e.router = router
	// A model far behind the log (no snapshot, a snapshot of another
	// version, a long stop) catches up in one bulk read of the log, decoded
	// on every core, instead of one Watermill message at a time: 1.6 million
	// events take seconds, not minutes. The router then starts after it.
	if head, err := e.cfg.Store.Head(ctx); err == nil && head > e.Position() {
		if err := e.catchUp(ctx, head); err != nil && ctx.Err() == nil {
			e.log.Error("catching up the read models in bulk; the router will continue", zap.Error(err))
		}
	}
	snapDone := make(chan struct{})
	go func() {
		defer close(snapDone)
		e.snapshotLoop(ctx)
	}()
	err = router.Run(ctx)
	<-snapDone
	if serr := e.snapshot(); serr != nil {
		e.log.Error("saving read models at shutdown", zap.Error(serr))
	}
	return err
}

// firstTryThen is retry's schedule with a cheap first try. Watermill's
// Retry builds its backoff state for every message before the first
// attempt, and every event reaches every model: that was a sizeable part of
// what each command allocated. Here the handler runs once as is; only a
// failure waits retry.InitialInterval and goes on to Retry, which makes the
// remaining MaxRetries-1 attempts with the intervals that follow, so a
// failing event is tried as often, as far apart, as before.
func firstTryThen(retry middleware.Retry) message.HandlerMiddleware {
	later := retry
	later.MaxRetries--
	later.InitialInterval = time.Duration(float64(retry.InitialInterval) * retry.Multiplier)
	return func(h message.HandlerFunc) message.HandlerFunc {
		slow := later.Middleware(h)
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err == nil || retry.MaxRetries < 1 || errors.As(err, new(*batchError)) {
				return out, err
			}
			if retry.Logger != nil {
				retry.Logger.Error("Error occurred, retrying", err, watermill.LogFields{
					"retry_no": 0, "max_retries": retry.MaxRetries, "wait_time": retry.InitialInterval})
			}
			t := time.NewTimer(retry.InitialInterval)
			defer t.Stop()
			select {
			case <-t.C:
			case <-msg.Context().Done():
				return out, err
			}
			return slow(msg)
		}
	}
}

// maxDeliveryBatch is the most events one message brings a read model
// (pubsub.SubscriberConfig.MaxBatch): what the store read in one go, up to
// this, shares one Watermill message, its contexts and the router's log
// fields, which were a quarter of what a command allocated when every event
// came alone to each of the six models.
const maxDeliveryBatch = 256

// batchError is a batch's event that p could not apply. The batch is not
// retried: nacked, its events come again one message each, and the failing
// one is retried, then poisoned, on its own (the others before it are at or
// below p's checkpoint by then, so they change nothing).
type batchError struct {
	pos uint64
	err error
}

func (b *batchError) Error() string {
	return fmt.Sprintf("event at position %d of a batch failed (its events are sent again one by one): %v", b.pos, b.err)
}

func (b *batchError) Unwrap() error { return b.err }

// applyBatch folds a batch's events into p in order. A panic in the model
// is an error like the one the Recoverer middleware makes of it, so that
// the batch is resent one event at a time instead of retried whole.
func (e *Engine) applyBatch(p *proj, evs []eventstore.RecordedEvent) error {
	for i := range evs {
		if err := e.applyRecovered(p, &evs[i]); err != nil {
			return &batchError{pos: evs[i].Position, err: err}
		}
	}
	return nil
}

func (e *Engine) applyRecovered(p *proj, rec *eventstore.RecordedEvent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return e.apply(p, rec)
}

// apply folds one stored event into p, once: an event at or below p's
// checkpoint is a redelivery and changes nothing.
func (e *Engine) apply(p *proj, rec *eventstore.RecordedEvent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rec.Position <= p.pos {
		return nil
	}
	ev, err := e.decoded.decode(rec)
	switch {
	case errors.Is(err, errSkip):
	case err != nil:
		return err
	default:
		if err := p.model.Apply(ev); err != nil {
			return fmt.Errorf("%s at position %d: %w", p.def.Name, rec.Position, err)
		}
	}
	e.clock.observe(p.pos, rec.Position, rec.RecordedAt)
	p.pos, p.lastAt = rec.Position, rec.RecordedAt
	p.unsaved++
	p.published.Store(p.pos)
	e.advanced()
	return nil
}

// skip moves p past a poisoned event, so readers waiting for a later
// position are not held up by it.
func (e *Engine) skip(name string, position uint64, recordedAt time.Time) {
	p := e.byName[name]
	if p == nil {
		return
	}
	p.mu.Lock()
	if position > p.pos {
		e.clock.observe(p.pos, position, recordedAt)
		p.pos, p.lastAt = position, recordedAt
		p.unsaved++
		p.published.Store(p.pos)
	}
	p.mu.Unlock()
	p.poisoned.Inc()
	e.advanced()
}

// advanced wakes the readers waiting for a position. A channel nobody took
// since it was made has nobody waiting on it, so it is kept: a new one per
// event and model was an allocation on every command's path.
func (e *Engine) advanced() {
	e.waitMu.Lock()
	if e.watched {
		close(e.moved)
		e.moved = make(chan struct{})
		e.watched = false
	}
	e.waitMu.Unlock()
}

// Position is the lowest checkpoint of the models: every event up to it is
// reflected in every indicator.
//
// It reads each model's published position without its lock, so readiness
// probes and waiting readers never queue behind a model that is catching up.
func (e *Engine) Position() uint64 {
	var lowest uint64
	for i, p := range e.projs {
		if pos := p.published.Load(); i == 0 || pos < lowest {
			lowest = pos
		}
	}
	return lowest
}

// ErrBehind is returned by WaitFor when the models did not reach the asked
// position in time.
var ErrBehind = errors.New("projections: read models have not reached that position yet")

// WaitFor blocks until every model has applied the event at position, or
// ctx ends (ErrBehind).
func (e *Engine) WaitFor(ctx context.Context, position uint64) error {
	for {
		e.waitMu.Lock()
		moved := e.moved
		e.watched = true
		e.waitMu.Unlock()
		if e.Position() >= position {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("%w (at %d, asked %d)", ErrBehind, e.Position(), position)
		}
	}
}

// Ready reports whether the models have caught up with the log as it was
// when the engine opened: a replica started late serves nothing stale.
func (e *Engine) Ready() error {
	if pos := e.Position(); pos < e.readyAt {
		return fmt.Errorf("read models catching up: at %d of %d", pos, e.readyAt)
	}
	return nil
}

// DefaultSnapshotEvery and DefaultSnapshotEvents are when a changed model is
// saved: a save encodes the whole model (on CLEA, about 2.6 s of CPU and
// 380 MB of garbage for the six; 3.4–4 s and 535 MB before the encoders
// were sized from the last save), so saving every model every minute,
// as before, spent that every minute a few events changed, and was the
// worst of a busy server's latency and the peak of its memory. Now a model
// is saved once it has applied DefaultSnapshotEvents events (a restart
// replays at most about that many, about a second), or after
// DefaultSnapshotEvery with fewer.
const (
	DefaultSnapshotEvery  = 10 * time.Minute
	DefaultSnapshotEvents = 250_000
)

func (e *Engine) snapshotLoop(ctx context.Context) {
	t := time.NewTicker(min(e.cfg.SnapshotEvery, e.cfg.SnapshotCheck))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.saveModels(false); err != nil {
				e.log.Error("saving read models", zap.Error(err))
			}
		}
	}
}

// snapshot saves every changed model with its checkpoint, each in one write.
func (e *Engine) snapshot() error { return e.saveModels(true) }

// saveModels saves the changed models that are due (all of them when all),
// each in one write, then the clock if any was saved.
// Models encode side by side, as many at once as there are cores, each
// written as soon as it is encoded: after a rebuild every model has changed,
// and encoding them one after the other left a core idle for the last
// second of it. Fewer at once than all keeps a server's memory to a few
// encoded models.
func (e *Engine) saveModels(all bool) error {
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	now := time.Now()
	var due []*proj
	for _, p := range e.projs {
		p.mu.RLock()
		if p.pos != p.savedPos && (all || p.unsaved >= e.cfg.SnapshotEvents || now.Sub(p.savedAt) >= e.cfg.SnapshotEvery) {
			due = append(due, p)
		}
		p.mu.RUnlock()
	}
	if len(due) == 0 {
		return nil
	}
	// Largest first, by the size of each one's last snapshot, so that the
	// workers finish together: in the order the models are defined, the
	// two largest came last after a rebuild at ten times CLEA and were
	// encoded side by side while the rest had long been written.
	slices.SortStableFunc(due, func(a, b *proj) int { return cmp.Compare(b.savedSize.Load(), a.savedSize.Load()) })
	todo := make(chan *proj, len(due))
	for _, p := range due {
		todo <- p
	}
	close(todo)
	errs := make([]error, len(e.projs))
	var wg sync.WaitGroup
	for w := range min(runtime.GOMAXPROCS(0), len(todo)) {
		wg.Go(func() {
			for p := range todo {
				if err := e.save(p); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if data, n, changed := e.clock.unsaved(); changed {
		if err := e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketState).Put(keyClock, seal(data)) }); err != nil {
			return err
		}
		e.clock.saved(n)
	}
	return nil
}

// save writes p's model with its checkpoint if it changed since it was last
// saved.
func (e *Engine) save(p *proj) error {
	p.mu.RLock()
	pos, saved, unsaved := p.pos, p.savedPos, p.unsaved
	var val []byte
	var err error
	if pos != saved {
		// The value is the checkpoint, the model, a checksum: a model
		// that can append its encoding to the checkpoint is not copied
		// after it.
		val = binary.BigEndian.AppendUint64(nil, pos)
		if a, ok := p.model.(encoding.BinaryAppender); ok {
			val, err = a.AppendBinary(val)
		} else {
			var data []byte
			data, err = p.model.MarshalBinary()
			val = append(slices.Grow(val, len(data)+4), data...)
		}
	}
	p.mu.RUnlock()
	if pos == saved {
		return nil
	}
	if err != nil {
		return fmt.Errorf("encoding %s: %w", p.def.Name, err)
	}
	val = seal(val)
	if err := e.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).Put([]byte(p.def.Name), val)
	}); err != nil {
		return err
	}
	p.savedSize.Store(int64(len(val)))
	p.mu.Lock()
	p.savedPos = pos
	p.unsaved -= unsaved
	p.savedAt = time.Now()
	p.mu.Unlock()
	return nil
}

// Close stops the router (if running), saves the models and closes the db.
func (e *Engine) Close() error {
	var err error
	e.closeOnce.Do(func() {
		if e.cancel != nil {
			e.cancel()
			<-e.done
		}
		err = e.db.Close()
	})
	return err
}

// read runs fn on the named model under its read lock and returns the
// model's position.
func (e *Engine) read(name string, fn func(m Model)) uint64 {
	p := e.byName[name]
	p.mu.RLock()
	defer p.mu.RUnlock()
	fn(p.model)
	return p.pos
}

package app

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/google/uuid"
)

// maxAttempts and retryBudget bound how long a command's decision is re-run
// after another writer changed the aggregate first. Within a process a
// per-stream lock queues commands, so conflicts come only from other
// replicas; a replica working through a burst on the same aggregate can win
// many rounds in a row, so the loser backs off with jitter and keeps trying
// before it answers 503. The bound is a time as well as a count because a
// round lasts an fsync, and fsyncs slow down on a busy disk: a count alone
// gave up after half a second while the other replica's burst was still
// going, answering 503 to a command that would have landed.
const (
	maxAttempts = 12
	retryBudget = 3 * time.Second
)

// readPage is how many events a stream read fetches at once.
const readPage = 1000

// earliestOccurredAt refuses field times that can only be typos; the
// response this system models began in 2014.
var earliestOccurredAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// idNamespace scopes the event ids derived from idempotency keys.
var idNamespace = uuid.MustParse("6f1b2c4e-61a4-4c57-9a4b-3e1d8f0a7c55")

// Writer is the one write path of every command: load, decide, append.
type Writer struct {
	store   eventstore.Store
	locator eventstore.EventLocator // nil when the store cannot find an event by id
	clock   func() time.Time
	metrics *Metrics
	locks   *streamLocks
	aggs    *aggregateCache
}

// NewWriter returns a Writer over store that keeps up to
// DefaultKeptAggregates aggregates between commands.
func NewWriter(store eventstore.Store, clock func() time.Time, m *Metrics) *Writer {
	return NewWriterKeeping(store, clock, m, DefaultKeptAggregates)
}

// NewWriterKeeping returns a Writer over store that keeps up to n
// aggregates between commands (0: none; every command folds its stream).
func NewWriterKeeping(store eventstore.Store, clock func() time.Time, m *Metrics, n int) *Writer {
	locator, _ := store.(eventstore.EventLocator)
	return &Writer{store: store, locator: locator, clock: clock, metrics: m, locks: newStreamLocks(), aggs: newAggregateCache(n)}
}

// aggregate is what update needs of a domain aggregate.
type aggregate interface {
	Revision() uint64
	Changes() []domain.Event
	// Apply folds in events appended to its stream since it was loaded.
	Apply([]domain.Event) error
	// Stored marks its changes as appended.
	Stored()
}

// update loads the aggregate in stream, lets decide record its events and
// appends them at the loaded revision. id is the aggregate's id for the
// result. guard (nil for creates) runs before If-Match is compared, so that
// an unknown aggregate is a 404 and a foreign one a 403 — never a 412 that
// tells a caller outside the area what revision the record is at.
//
// With an idempotency key, the events get ids derived from (actor, key), and
// a stream that already holds the first of them means this request was
// handled before: the first result is answered again and nothing is written.
// The ids are the request's record, so the record of a request and its
// effect are one atomic write, in every store; they are found by id where
// the store can (EventLocator), else among the stream's kept records.
func update[A aggregate](ctx context.Context, w *Writer, m *Meta, stream, id string,
	load func([]domain.Event) (A, error), guard, decide func(A) error) (Result, error) {
	occurredAt, err := w.occurredAt(m)
	if err != nil {
		return Result{}, err
	}
	var firstID uuid.UUID
	if m.IdempotencyKey != "" {
		firstID = eventID(m.Actor.ID, m.IdempotencyKey, 0)
	}
	unlock, err := w.locks.lock(ctx, stream)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	began := time.Now() // the retry budget is wall time, whatever w.clock says
	for attempt := 1; ; attempt++ {
		agg, k, err := current(ctx, w, stream, load)
		if err != nil {
			return Result{}, err
		}
		if m.IdempotencyKey != "" {
			if res, ok, err := w.replay(ctx, m, stream, id, k.recs, firstID); ok || err != nil {
				if err == nil {
					w.aggs.keep(k) // untouched
				}
				return res, err
			}
		}
		if guard != nil {
			if err := guard(agg); err != nil {
				return Result{}, err
			}
		}
		if m.IfMatch != nil && agg.Revision() > 0 && *m.IfMatch != agg.Revision() {
			return Result{}, staleError(*m.IfMatch, agg.Revision())
		}
		if err := decide(agg); err != nil {
			return Result{}, err
		}
		if !k.first.IsZero() {
			if err := domain.CheckOccurredAt(stream, occurredAt, k.first); err != nil {
				return Result{}, err
			}
		}
		changes := agg.Changes()
		if len(changes) == 0 {
			return Result{}, fmt.Errorf("command on %s recorded no event", stream)
		}
		data := w.eventData(m, occurredAt, changes)
		res, err := w.store.Append(ctx, stream, eventstore.Exact(agg.Revision()), data...)
		switch {
		case errors.Is(err, eventstore.ErrWrongRevision):
			w.metrics.conflicts.Inc()
			if m.IfMatch != nil {
				var wr *eventstore.WrongRevisionError
				actual := agg.Revision()
				if errors.As(err, &wr) {
					actual = wr.Actual
				}
				return Result{}, staleError(*m.IfMatch, actual)
			}
			if attempt < maxAttempts || time.Since(began) < retryBudget {
				// Another replica wrote first; let it finish its burst.
				if err := sleep(ctx, time.Duration(min(attempt, 6)*(1+rand.IntN(8)))*time.Millisecond); err != nil {
					return Result{}, err
				}
				continue
			}
			return Result{}, domain.Errorf(domain.CodeUnavailable,
				"the record changed under %d attempts in a row; try again", attempt)
		case errors.Is(err, eventstore.ErrDuplicateEventID):
			return Result{}, domain.Errorf(domain.CodeIdempotencyMismatch,
				"this Idempotency-Key was already used for a request on another resource")
		case errors.Is(err, eventstore.ErrFailed):
			return Result{}, &failedStore{err}
		case err != nil:
			return Result{}, err
		}
		w.metrics.appended.Add(float64(len(data)))
		if res.Duplicate {
			// Not kept: the store answered with events it already held,
			// which need not be what agg recorded.
			w.metrics.replays.Inc()
		} else {
			w.stored(agg, k, res, data)
		}
		return Result{ID: id, Revision: res.LastRevision, Position: res.LastPosition, Replayed: res.Duplicate}, nil
	}
}

// stored keeps agg, whose changes (data) were just appended as res says,
// for the next command on its stream.
func (w *Writer) stored(agg aggregate, k *kept, res eventstore.AppendResult, data []eventstore.EventData) {
	n := uint64(len(data))
	if res.LastRevision-res.FirstRevision+1 != n || res.FirstRevision != agg.Revision()+1 {
		return // not where agg thought it would land: fold afresh next time
	}
	agg.Stored()
	k.agg = agg
	if k.first.IsZero() {
		k.first = data[0].Meta.OccurredAt
	}
	if w.locator == nil {
		// A store whose positions within one append are not consecutive
		// (the port allows gaps) does not say where the inner events
		// landed: then the records are read back next time instead.
		if res.LastPosition-res.FirstPosition+1 != n {
			return
		}
		for i := range data {
			k.recs = append(k.recs, recordRef{ID: data[i].ID, Revision: res.FirstRevision + uint64(i),
				Position: res.FirstPosition + uint64(i), RequestHash: data[i].Meta.RequestHash})
		}
	}
	w.aggs.keep(k)
}

// replay answers a repeated request from the events it wrote the first
// time, found by their ids (or, where the store cannot find an event by id,
// in the stream's records): a stream that already holds the first of them
// means this request was handled before.
func (w *Writer) replay(ctx context.Context, m *Meta, stream, id string, recorded []recordRef, firstID uuid.UUID) (Result, bool, error) {
	if w.locator == nil {
		return w.replayIn(m, id, recorded, firstID)
	}
	first, found, err := w.locator.LocateEvent(ctx, firstID)
	if err != nil || !found || first.Stream != stream {
		// Elsewhere, the append finds the ids taken: another resource.
		return Result{}, false, err
	}
	if !bytes.Equal(first.Meta.RequestHash, m.RequestHash) {
		return Result{}, true, domain.Errorf(domain.CodeIdempotencyMismatch,
			"this Idempotency-Key was already used with a different request")
	}
	last := first
	for n := 1; ; n++ {
		next, found, err := w.locator.LocateEvent(ctx, eventID(m.Actor.ID, m.IdempotencyKey, n))
		if err != nil {
			return Result{}, true, err
		}
		if !found || next.Stream != stream || next.Revision != last.Revision+1 {
			break
		}
		last = next
	}
	w.metrics.replays.Inc()
	return Result{ID: id, Revision: last.Revision, Position: last.Position, Replayed: true}, true, nil
}

// replayIn is replay over the stream's records.
func (w *Writer) replayIn(m *Meta, id string, recorded []recordRef, firstID uuid.UUID) (Result, bool, error) {
	for i, ev := range recorded {
		if ev.ID != firstID {
			continue
		}
		if !bytes.Equal(ev.RequestHash, m.RequestHash) {
			return Result{}, true, domain.Errorf(domain.CodeIdempotencyMismatch,
				"this Idempotency-Key was already used with a different request")
		}
		last := ev
		for n := 1; i+n < len(recorded) && recorded[i+n].ID == eventID(m.Actor.ID, m.IdempotencyKey, n); n++ {
			last = recorded[i+n]
		}
		w.metrics.replays.Inc()
		return Result{ID: id, Revision: last.Revision, Position: last.Position, Replayed: true}, true, nil
	}
	return Result{}, false, nil
}

func (w *Writer) occurredAt(m *Meta) (time.Time, error) {
	now := w.clock().UTC()
	if m.OccurredAt.IsZero() {
		return now, nil
	}
	t := m.OccurredAt.UTC()
	switch {
	case t.After(now.Add(MaxFutureSkew)):
		return time.Time{}, domain.FieldError("occurred_at", "is more than %s in the future", MaxFutureSkew)
	case t.Before(earliestOccurredAt):
		return time.Time{}, domain.FieldError("occurred_at", "is before %d", earliestOccurredAt.Year())
	}
	return t, nil
}

func (w *Writer) eventData(m *Meta, occurredAt time.Time, changes []domain.Event) []eventstore.EventData {
	out := make([]eventstore.EventData, len(changes))
	for i, e := range changes {
		typ, data := domain.Marshal(e)
		id := uuid.New()
		if m.IdempotencyKey != "" {
			id = eventID(m.Actor.ID, m.IdempotencyKey, i)
		}
		out[i] = eventstore.EventData{ID: id, Type: typ, Data: data, Meta: eventstore.Metadata{
			OccurredAt:     occurredAt,
			ActorID:        m.Actor.ID,
			ActorRole:      m.Actor.Role,
			CorrelationID:  m.CorrelationID,
			CausationID:    m.CausationID,
			IdempotencyKey: m.IdempotencyKey,
			RequestHash:    m.RequestHash,
		}}
	}
	return out
}

// eventID derives the id of the n-th event written for a request, so that a
// repeat of the request writes (or finds) the very same ids. Keys are scoped
// by actor: two phones may well pick the same key.
func eventID(actorID, key string, n int) uuid.UUID {
	var nb [20]byte
	return sha1UUID(actorID, key, strconv.AppendInt(nb[:0], int64(n), 10))
}

// sha1UUID is uuid.NewSHA1(idNamespace, actorID NUL key NUL suffix),
// hashed in a buffer on the stack: ids are derived several times for every
// command, and NewSHA1 allocated a hash and the joined name each time.
func sha1UUID(actorID, key string, suffix []byte) uuid.UUID {
	var buf [256]byte
	name := append(buf[:0], idNamespace[:]...)
	name = append(name, actorID...)
	name = append(name, 0)
	name = append(name, key...)
	name = append(name, 0)
	name = append(name, suffix...)
	sum := sha1.Sum(name)
	var id uuid.UUID
	copy(id[:], sum[:])
	id[6] = (id[6] & 0x0f) | 5<<4 // version 5: SHA-1, as uuid.NewSHA1
	id[8] = (id[8] & 0x3f) | 0x80 // RFC 4122 variant
	return id
}

// derivedID gives a server-chosen aggregate id: derived from the idempotency
// key when there is one (a repeated create must name the same aggregate),
// random otherwise.
func derivedID(m *Meta) string {
	if m.IdempotencyKey == "" {
		return uuid.NewString()
	}
	return sha1UUID(m.Actor.ID, m.IdempotencyKey, []byte("id")).String()
}

func staleError(ifMatch, actual uint64) error {
	return domain.Errorf(domain.CodeStaleRevision,
		"If-Match names revision %d but the record is at revision %d; reload and retry", ifMatch, actual)
}

// readStream reads a whole stream.
func readStream(ctx context.Context, s eventstore.Store, stream string) ([]eventstore.RecordedEvent, error) {
	return readStreamAfter(ctx, s, stream, 0)
}

// readStreamAfter reads the events of stream after revision after.
func readStreamAfter(ctx context.Context, s eventstore.Store, stream string, after uint64) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for {
		page, err := s.ReadStream(ctx, stream, after, readPage)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", stream, err)
		}
		out = append(out, page...)
		if len(page) < readPage {
			return out, nil
		}
		after = page[len(page)-1].Revision
	}
}

func decodeAll(recorded []eventstore.RecordedEvent) ([]domain.Event, error) {
	out := make([]domain.Event, len(recorded))
	for i := range recorded {
		e, err := domain.Unmarshal(recorded[i].Type, recorded[i].Data)
		if err != nil {
			return nil, fmt.Errorf("stream %s revision %d: %w", recorded[i].Stream, recorded[i].Revision, err)
		}
		out[i] = e
	}
	return out, nil
}

// notInFuture refuses a field time later than the server's clock allows.
func notInFuture(w *Writer, field string, t time.Time) error {
	if !t.IsZero() && t.After(w.clock().Add(MaxFutureSkew)) {
		return domain.FieldError(field, "is more than %s in the future", MaxFutureSkew)
	}
	return nil
}

// sleep waits d, or less if ctx ends: a client that hung up stops holding
// its place in the queue of a busy aggregate.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failedStore reports a store that stopped after a write error: the client
// may retry later (503), the operator must restart it, and the log says so
// at error level with the cause.
type failedStore struct{ cause error }

func (e *failedStore) Error() string { return e.cause.Error() }
func (e *failedStore) Unwrap() error { return e.cause }

// As lets the API see a 503 with a plain message instead of the cause.
func (e *failedStore) As(target any) bool {
	if t, ok := target.(**domain.Error); ok {
		*t = &domain.Error{Code: domain.CodeUnavailable, Message: "the event store has stopped after a write error; nothing was written; retry later"}
		return true
	}
	return false
}

package kurrentstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
)

// KurrentDB has no unique index on event ids across streams, so every id is
// claimed in a stream of its own, "<ns>.id:<id>", whose events all name the
// stream that owns the id: the first append of the claim stream (expected
// revision "no stream") decides the owner for good.
//
// The claim of an append's first id (its lead) is also the append's lock.
// Every call that writes the events first appends a "claimed" event to the
// lead's claim stream at the exact revision it last saw there, so the last
// event says who may be writing them:
//
//   - "claimed" by a call that found the stream missing or "released"
//     (clean): no other call can be writing these events, so none is
//     stored anywhere, and that call answers the write as its own (not
//     Duplicate). It needs no read of the stream to know it.
//   - "claimed" over another "claimed" (taken over): the earlier call may
//     still be writing, or gave up with its outcome unknown. The taker
//     looks in the stream first, writes only what is not there, and
//     answers Duplicate either way: the write belongs to the earlier call.
//     A taker never releases, because the earlier call may still land.
//   - "released": the clean holder's append was refused (a conflict, a
//     foreign id), so it wrote nothing; the next call claims clean. A
//     release is appended at the holder's own revision, so it fails when
//     anyone took over meanwhile, which is exactly when it must not count.
//
// The other ids of an append are only bound: their claim streams hold one
// event naming the stream and the lead, so an id claimed before by an
// attempt of the same append (same lead) does not send a clean holder
// reading the stream.

// Event types of claim streams.
const (
	claimEventType   = "ActionLedgerEventIdClaimed"
	releaseEventType = "ActionLedgerEventIdReleased"
)

// claimBody is the data of a claim stream's events.
type claimBody struct {
	Stream string `json:"stream"`
	// Lead is the first id of the append that claimed the id; empty in
	// claims written before leads were recorded.
	Lead string `json:"lead,omitempty"`
}

// releaseTimeout bounds a release, which is sent whatever the caller's
// context does: an unreleased lead only costs the next attempt a read.
const releaseTimeout = 5 * time.Second

// maxTakeOver bounds the attempts to append to a lead's claim stream while
// other calls do too: each failed attempt means another call's succeeded.
const maxTakeOver = 32

// claims is what claiming an append's ids found.
type claims struct {
	stream string // the stream appended to
	name   string // the lead's claim stream
	clean  bool   // the lead is held by this call, and nobody else may write
	held   bool   // the lead is held by this call (clean or taken over)
	rev    uint64 // revision of the lead's claim stream last seen
	// othersFresh: every other id was claimed by this call or by an
	// earlier attempt with the same lead.
	othersFresh bool
}

// claim claims the ids of an append for stream (see above). An id owned
// by another stream fails it with ErrDuplicateEventID.
func (s *Store) claim(ctx context.Context, c *esdb.Client, stream string, events []eventstore.EventData) (claims, error) {
	lead := events[0].ID
	cl := claims{stream: stream, name: s.names.claimStream(lead), othersFresh: true}
	var leadErr error
	others := make([]error, len(events))
	fresh := make([]bool, len(events))
	if len(events) == 1 {
		leadErr = s.claimLead(ctx, c, stream, &cl)
	} else {
		var wg sync.WaitGroup
		wg.Go(func() { leadErr = s.claimLead(ctx, c, stream, &cl) })
		for i := 1; i < len(events); i++ {
			wg.Go(func() { fresh[i], others[i] = s.claimOther(ctx, c, stream, events[i].ID, lead) })
		}
		wg.Wait()
	}
	if err := errors.Join(append(others, leadErr)...); err != nil {
		s.release(ctx, c, &cl) // nothing was written
		var foreign *foreignClaimError
		if errors.As(err, &foreign) {
			return claims{}, fmt.Errorf("%w: event %s is stored in stream %q, not %q",
				eventstore.ErrDuplicateEventID, foreign.id, foreign.owner, stream)
		}
		return claims{}, err
	}
	for i := 1; i < len(events); i++ {
		cl.othersFresh = cl.othersFresh && fresh[i]
	}
	return cl, nil
}

type foreignClaimError struct {
	id    uuid.UUID
	owner string
}

func (e *foreignClaimError) Error() string {
	return fmt.Sprintf("event %s is claimed by stream %q", e.id, e.owner)
}

// claimLead claims the lead id into cl: clean when its claim stream is
// missing or released, held by someone else otherwise.
func (s *Store) claimLead(ctx context.Context, c *esdb.Client, stream string, cl *claims) error {
	body := claimBody{Stream: stream, Lead: cl.name[len(s.names.claim):]}
	err := s.appendClaim(ctx, c, cl.name, esdb.NoStream{}, claimEventType, body)
	if err == nil {
		cl.clean, cl.held, cl.rev = true, true, 0
		return nil
	}
	if !isWrongVersion(err) {
		return err
	}
	for range maxTakeOver {
		last, err := s.lastClaim(ctx, c, cl.name, stream)
		if err != nil {
			return err
		}
		cl.rev = last.rev
		if last.evType != releaseEventType {
			return nil // held by another call
		}
		err = s.appendClaim(ctx, c, cl.name, esdb.Revision(last.rev), claimEventType, body)
		if err == nil {
			cl.clean, cl.held, cl.rev = true, true, last.rev+1
			return nil
		}
		if !isWrongVersion(err) {
			return err
		}
	}
	return fmt.Errorf("kurrentstore: claiming %s: more than %d concurrent changes", cl.name, maxTakeOver)
}

// takeOver makes this call the holder of the lead before it writes events
// that another call may be writing too. Taking over a released lead is a
// clean claim.
func (s *Store) takeOver(ctx context.Context, c *esdb.Client, stream string, cl *claims) error {
	body := claimBody{Stream: stream, Lead: cl.name[len(s.names.claim):]}
	for range maxTakeOver {
		err := s.appendClaim(ctx, c, cl.name, esdb.Revision(cl.rev), claimEventType, body)
		if err == nil {
			cl.held, cl.rev = true, cl.rev+1
			return nil
		}
		if !isWrongVersion(err) {
			return err
		}
		last, err := s.lastClaim(ctx, c, cl.name, stream)
		if err != nil {
			return err
		}
		cl.rev = last.rev
		cl.clean = last.evType == releaseEventType
	}
	return fmt.Errorf("kurrentstore: taking over %s: more than %d concurrent changes", cl.name, maxTakeOver)
}

// release gives up a clean hold after a refused append, so that the next
// attempt claims clean. It fails harmlessly when anyone took over since.
func (s *Store) release(ctx context.Context, c *esdb.Client, cl *claims) {
	if !cl.clean || !cl.held {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	body := claimBody{Stream: cl.stream, Lead: cl.name[len(s.names.claim):]}
	if s.appendClaim(rctx, c, cl.name, esdb.Revision(cl.rev), releaseEventType, body) == nil {
		cl.held, cl.clean = false, false
	}
}

// claimOther binds a non-lead id to stream. fresh reports that it was
// unclaimed, or claimed by an earlier attempt with the same lead.
func (s *Store) claimOther(ctx context.Context, c *esdb.Client, stream string, id, lead uuid.UUID) (fresh bool, err error) {
	name := s.names.claimStream(id)
	err = s.appendClaim(ctx, c, name, esdb.NoStream{}, claimEventType, claimBody{Stream: stream, Lead: lead.String()})
	if err == nil {
		return true, nil
	}
	if !isWrongVersion(err) {
		return false, err
	}
	last, err := s.lastClaim(ctx, c, name, stream)
	if err != nil {
		return false, err
	}
	return last.evType == claimEventType && last.rev == 0 && last.body.Lead == lead.String(), nil
}

// appendClaim appends one event to a claim stream. Its event id is random:
// an append that finds the stream moved must answer "wrong expected
// version", never pass as an idempotent retry.
func (s *Store) appendClaim(ctx context.Context, c *esdb.Client, name string, exp esdb.ExpectedRevision, evType string, body claimBody) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = c.AppendToStream(ctx, name, esdb.AppendToStreamOptions{ExpectedRevision: exp}, esdb.EventData{
		EventID: uuid.New(), EventType: evType, ContentType: esdb.ContentTypeJson, Data: data,
	})
	if err != nil && !isWrongVersion(err) {
		return s.check(ctx, c, "claiming "+name, err)
	}
	return err
}

type lastClaimEvent struct {
	evType string
	rev    uint64
	body   claimBody
}

// lastClaim reads the last event of a claim stream. A claim stream that
// names another stream fails with *foreignClaimError.
func (s *Store) lastClaim(ctx context.Context, c *esdb.Client, name, stream string) (lastClaimEvent, error) {
	what := "reading the claim " + name
	rs, err := c.ReadStream(ctx, name, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return lastClaimEvent{}, s.check(ctx, c, what, err)
	}
	defer rs.Close()
	ev, err := rs.Recv()
	if errors.Is(err, io.EOF) {
		err = errors.New("no event")
	}
	if err != nil {
		return lastClaimEvent{}, s.check(ctx, c, what, err)
	}
	var last lastClaimEvent
	if ev.Event == nil || json.Unmarshal(ev.Event.Data, &last.body) != nil || last.body.Stream == "" {
		return lastClaimEvent{}, fmt.Errorf("kurrentstore: %s: it holds no claim", what)
	}
	last.evType, last.rev = ev.Event.EventType, ev.Event.EventNumber
	if last.body.Stream != stream {
		id, _ := uuid.Parse(name[len(s.names.claim):])
		return last, &foreignClaimError{id: id, owner: last.body.Stream}
	}
	return last, nil
}

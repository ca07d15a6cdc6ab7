package kurrentstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
)

// Append implements eventstore.Store. See the package comment for the steps
// and what each one guarantees.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	c, err := s.conn()
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	data := make([]esdb.EventData, len(events))
	for i := range events {
		if data[i], err = encodeEvent(&events[i]); err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("%w: %v", eventstore.ErrInvalid, err)
		}
	}

	cl, err := s.claim(ctx, c, stream, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	fast := cl.clean && cl.othersFresh
	if !fast {
		// Some id was claimed for this stream before: it may be stored in
		// it already (a retry, or a misuse of the id).
		res, done, _, err := s.findStored(ctx, stream, expected, events)
		if err != nil {
			s.release(ctx, c, &cl) // nothing was written
			return res, err
		}
		if done {
			return res, nil
		}
		if !cl.held {
			// Another call holds the lead and may still be writing
			// these events: hold it before writing them too.
			if err := s.takeOver(ctx, c, stream, &cl); err != nil {
				return eventstore.AppendResult{}, err
			}
		}
	}
	// Only a clean holder may answer the events as written by it.
	duplicate := !cl.clean

	// From here the write may land, so its verdict is waited for whatever
	// ctx does (bounded by WriteTimeout).
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.WriteTimeout)
	defer cancel()
	what := fmt.Sprintf("appending to %q", stream)
	wr, err := c.AppendToStream(wctx, s.names.stream(stream), esdb.AppendToStreamOptions{ExpectedRevision: toESDB(expected)}, data...)
	if isWrongVersion(err) {
		// Refused: nothing was written by this call.
		if fast {
			// No id is stored anywhere (this call claimed them all
			// clean), so this is a plain conflict, and the server said
			// where the stream is.
			s.release(wctx, c, &cl)
			actual, err := s.actualRevision(wctx, stream, err)
			if err != nil {
				return eventstore.AppendResult{}, err
			}
			return eventstore.AppendResult{}, &eventstore.WrongRevisionError{Stream: stream, Expected: expected, Actual: actual}
		}
		// Not at the expected revision, or a partial match of stored
		// ids: tell a retry, a misused id and a conflict apart.
		res, done, actual, err := s.findStored(wctx, stream, expected, events)
		switch {
		case err != nil:
			s.release(wctx, c, &cl)
			return res, err
		case done:
			return res, nil
		}
		s.release(wctx, c, &cl)
		return eventstore.AppendResult{}, &eventstore.WrongRevisionError{Stream: stream, Expected: expected, Actual: actual}
	}
	if err != nil {
		// The outcome is unknown: the hold stays, so a retry looks in
		// the stream before writing.
		return eventstore.AppendResult{}, s.check(wctx, c, what, err)
	}

	n := uint64(len(events))
	last := wr.NextExpectedVersion // KurrentDB revision of the last event
	if last+1 < n {
		return eventstore.AppendResult{}, fmt.Errorf("kurrentstore: %s: server reports revision %d after %d events", what, last, n)
	}
	if n == 1 && knownPosition(wr.CommitPosition) {
		// The server's answer names the event's own log position, which
		// is its commit position in $all: nothing to read back.
		rev := last + 1
		return eventstore.AppendResult{FirstRevision: rev, LastRevision: rev,
			FirstPosition: wr.CommitPosition, LastPosition: wr.CommitPosition, Duplicate: duplicate}, nil
	}
	// One position per append says nothing of the first event's, and an
	// idempotent answer from an older server has none: read them back.
	first := last + 1 - n // KurrentDB revision of the first event
	got, err := s.readStream(wctx, stream, first, len(events))
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("kurrentstore: %s: reading the appended events back: %w", what, err)
	}
	if len(got) != len(events) {
		return eventstore.AppendResult{}, fmt.Errorf("kurrentstore: %s: %d of %d appended events read back", what, len(got), len(events))
	}
	for i := range got {
		if got[i].ID != events[i].ID {
			return eventstore.AppendResult{}, fmt.Errorf("kurrentstore: %s: revision %d holds event %s, not %s",
				what, got[i].Revision, got[i].ID, events[i].ID)
		}
	}
	return resultOf(got, duplicate), nil
}

// knownPosition tells a real log position from what the client reports
// when the server sent none (0; servers before 21.x answered an idempotent
// write that way) or -1 read as unsigned.
func knownPosition(p uint64) bool { return p != 0 && p != math.MaxUint64 }

// actualRevision is the port revision of stream that a wrong-expected-version
// answer reports. The client library only puts it in the error's text
// ("... but got '41'" or "... but got 'no_stream'"); when that text cannot
// be read, the stream's last event is.
func (s *Store) actualRevision(ctx context.Context, stream string, wrong error) (uint64, error) {
	msg := wrong.Error()
	if i := strings.LastIndex(msg, "but got '"); i >= 0 {
		got, _, ok := strings.Cut(msg[i+len("but got '"):], "'")
		if ok && got == "no_stream" {
			return 0, nil
		}
		if rev, err := strconv.ParseUint(got, 10, 64); ok && err == nil {
			return rev + 1, nil
		}
	}
	c, err := s.conn()
	if err != nil {
		return 0, err
	}
	what := fmt.Sprintf("reading the end of stream %q", stream)
	rs, err := c.ReadStream(ctx, s.names.stream(stream), esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return 0, s.check(ctx, c, what, err)
	}
	defer rs.Close()
	ev, err := rs.Recv()
	var ee *esdb.Error
	switch {
	case errors.Is(err, io.EOF), errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeResourceNotFound:
		return 0, nil
	case err != nil:
		return 0, s.check(ctx, c, what, err)
	case ev.Event == nil:
		return 0, fmt.Errorf("kurrentstore: %s: no event", what)
	}
	return ev.Event.EventNumber + 1, nil
}

// toESDB maps the port's expected revision: port revision r is KurrentDB
// revision r-1, and port revision 0 is "no stream".
func toESDB(e eventstore.ExpectedRevision) esdb.ExpectedRevision {
	switch {
	case e.IsAny():
		return esdb.Any{}
	case e.IsStreamExists():
		return esdb.StreamExists{}
	}
	rev, _ := e.ExactRevision()
	if rev == 0 {
		return esdb.NoStream{}
	}
	return esdb.Revision(rev - 1)
}

func isWrongVersion(err error) bool {
	var ee *esdb.Error
	return errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeWrongExpectedVersion
}

func resultOf(evs []eventstore.RecordedEvent, duplicate bool) eventstore.AppendResult {
	return eventstore.AppendResult{
		FirstRevision: evs[0].Revision,
		LastRevision:  evs[len(evs)-1].Revision,
		FirstPosition: evs[0].Position,
		LastPosition:  evs[len(evs)-1].Position,
		Duplicate:     duplicate,
	}
}

// findStored decides an append from where its ids already are in stream,
// the way the embedded store does: the first id stored in stream, followed
// by the others at the next revisions, is a retry (Duplicate), unless an
// exact expected revision names another place (WrongRevisionError); any
// other stored id fails with ErrDuplicateEventID. done is false when no id
// is in the stream; actual is then the stream's revision.
func (s *Store) findStored(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (res eventstore.AppendResult, done bool, actual uint64, err error) {
	recs, err := s.readWholeStream(ctx, stream)
	if err != nil {
		return res, true, 0, err
	}
	actual = uint64(len(recs))
	at := make(map[uuid.UUID]int, len(recs))
	for i := range recs {
		at[recs[i].ID] = i
	}
	i, found := at[events[0].ID]
	if !found {
		for k := 1; k < len(events); k++ {
			if j, ok := at[events[k].ID]; ok {
				return res, true, actual, fmt.Errorf("%w: event %s (index %d) is stored at %q/%d, but event %s is not stored",
					eventstore.ErrDuplicateEventID, events[k].ID, k, stream, j+1, events[0].ID)
			}
		}
		return res, false, actual, nil
	}
	for k := 1; k < len(events); k++ {
		if i+k >= len(recs) || recs[i+k].ID != events[k].ID {
			return res, true, actual, fmt.Errorf("%w: event %s is stored at %q/%d but event %s (index %d) is not stored at revision %d",
				eventstore.ErrDuplicateEventID, events[0].ID, stream, i+1, events[k].ID, k, i+k+1)
		}
	}
	if exact, ok := expected.ExactRevision(); ok && exact != uint64(i) {
		return res, true, actual, &eventstore.WrongRevisionError{Stream: stream, Expected: expected, Actual: actual}
	}
	return resultOf(recs[i:i+len(events)], true), true, actual, nil
}

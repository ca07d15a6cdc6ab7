// Package kurrenttest serves, in process and on a real loopback TCP port, the
// subset of KurrentDB's (EventStoreDB's) gRPC streams protocol that the
// kurrentstore adapter uses, so that the adapter's conformance tests run
// against the real client library (EventStore-Client-Go v4) in every CI run,
// where no KurrentDB server can be had.
//
// What is served, and how faithfully:
//
//   - Streams.Append: the server's commit check, as KurrentDB's index writer
//     does it (CheckCommit): an exact expected revision below the stream's
//     current one is an idempotent retry when the proposed event ids are the
//     ones stored at the following revisions (Success, nothing written),
//     otherwise WrongExpectedVersion; Any and StreamExists are idempotent when
//     every id is found in the "committed events" cache for the same stream.
//     Like KurrentDB, nothing here enforces an event id to be unique across
//     streams. Like KurrentDB, the cache is lost when the server restarts
//     (Stop, then Restart); unlike KurrentDB, it is never evicted otherwise
//     (ForgetIdempotencyCache drops it without a restart).
//   - Streams.Read: stream reads (forwards and backwards, StreamNotFound for
//     a stream that has no events), $all reads (forwards inclusive of the
//     given position, backwards exclusive), and catch-up subscriptions to
//     $all with a stream-prefix, stream-regex or event-type filter:
//     Confirmation, the stored events after the start position, Checkpoint
//     and CaughtUp, then live events as they are committed.
//   - Every event carries the system metadata "type", "content-type" and
//     "created" (.NET ticks since the Unix epoch): without "created" the Go
//     client calls log.Fatalf.
//   - Positions are byte-offset-like: commit position = prepare position =
//     the event's own log position, strictly increasing, never 0 (system
//     records come first), as in KurrentDB for non-transactional appends.
//   - System events ("$"-streams) are written at start and, with
//     Options.SystemEventEvery, between user appends, so readers must skip
//     them as they must on a real server.
//
// Not served: ServerFeatures (the client accepts Unimplemented), gossip (use a
// single-host connection string), BatchAppend, deletes, persistent
// subscriptions, authentication and TLS.
package kurrenttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// Options tune a Server. The zero value is usable.
type Options struct {
	// SystemEventEvery writes a system event ($-stream) after every n user
	// appends; 0 never does (one is still written at start).
	SystemEventEvery int
	// Clock stamps "created"; default time.Now. Like KurrentDB's leader, the
	// server never lets "created" go backwards along the log.
	Clock func() time.Time
}

// Server is an in-process KurrentDB stand-in. It is safe for concurrent use.
type Server struct {
	api.UnimplementedStreamsServer

	opts Options
	addr string

	// srvMu guards the gRPC server, which Stop and Restart replace.
	srvMu sync.Mutex
	grpc  *grpc.Server
	done  chan struct{}

	mu      sync.Mutex
	log     []*record
	streams map[string][]*record
	// committed is KurrentDB's "committed events" cache: event id to the
	// stream and revision it was last written at.
	committed   map[uuid.UUID]*record
	nextPos     uint64
	lastCreated int64
	appends     int
	// moved is closed and replaced whenever the log grows.
	moved chan struct{}
	// appendCalls and readCalls count RPCs, for tests that check round
	// trips.
	appendCalls int
	readCalls   int
	// failNext names streams whose next append fails as unavailable,
	// after committing when the value is true.
	failNext map[string]bool
	// subDelay slows every event a subscription sends (nanoseconds).
	subDelay atomic.Int64
}

// record is one stored event.
type record struct {
	id       uuid.UUID
	stream   string
	rev      uint64 // KurrentDB's 0-based stream revision
	pos      uint64
	created  int64 // .NET ticks (100 ns) since the Unix epoch
	evType   string
	content  string
	custom   []byte
	data     []byte
	isSystem bool
}

// firstPosition leaves room for the records a real server writes before any
// user event (epochs, $users...), so position 0 never names an event.
const firstPosition = 4096

// New starts a server on 127.0.0.1 on a free port. The client connects to
// URL(); Close stops the server.
func New(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("kurrenttest: listen: %w", err)
	}
	s := &Server{
		opts:      opts,
		addr:      lis.Addr().String(),
		streams:   map[string][]*record{},
		committed: map[uuid.UUID]*record{},
		nextPos:   firstPosition,
		moved:     make(chan struct{}),
	}
	s.mu.Lock()
	s.writeSystemLocked("$user-admin", "$UserCreated")
	s.mu.Unlock()
	s.serve(lis)
	return s, nil
}

func (s *Server) serve(lis net.Listener) {
	// The client pings every 10 s even without streams in flight; gRPC's
	// default policy would answer that with GOAWAY (too_many_pings).
	g := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime:             time.Second,
		PermitWithoutStream: true,
	}))
	api.RegisterStreamsServer(g, s)
	done := make(chan struct{})
	s.srvMu.Lock()
	s.grpc, s.done = g, done
	s.srvMu.Unlock()
	go func() {
		defer close(done)
		_ = g.Serve(lis)
	}()
}

// Start is New for tests: it fails t on error and closes the server when the
// test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("starting the in-process KurrentDB server: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL is a connection string for the client: single host, no TLS, so the
// client neither gossips nor sends credentials.
func (s *Server) URL() string { return "esdb://" + s.Addr() + "?tls=false" }

// Close stops the server, ending every open subscription. Safe to call more
// than once.
func (s *Server) Close() { s.Stop() }

// Stop takes the server off the network, as a lost node is: connections are
// cut, subscriptions end, calls fail as unavailable. The data stays, and
// Restart serves it again on the same address.
func (s *Server) Stop() {
	s.srvMu.Lock()
	g, done := s.grpc, s.done
	s.srvMu.Unlock()
	g.Stop()
	<-done
}

// Restart serves again on the same address after Stop, with the data but
// without the committed-events cache, as a restarted KurrentDB node does.
func (s *Server) Restart() error {
	s.ForgetIdempotencyCache()
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("kurrenttest: listen again on %s: %w", s.addr, err)
	}
	s.serve(lis)
	return nil
}

// SetSubscriptionDelay makes every subscription and every read wait d
// before sending each event, as a slow link or a busy server would: a
// consumer's catch-up then takes long enough to be observed, whether it
// follows a subscription or reads the log in bulk.
func (s *Server) SetSubscriptionDelay(d time.Duration) { s.subDelay.Store(int64(d)) }

// AppendCalls is how many Append RPCs the server has answered.
func (s *Server) AppendCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendCalls
}

// ReadCalls is how many Read RPCs (reads and subscriptions) the server has
// answered.
func (s *Server) ReadCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readCalls
}

// FailNextAppend makes the next append to stream fail as unavailable, as
// when a node goes down while a write is in flight: before writing it, or
// (afterCommit) after writing it but before answering. Either way the
// caller cannot tell whether its write landed.
func (s *Server) FailNextAppend(stream string, afterCommit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext == nil {
		s.failNext = map[string]bool{}
	}
	s.failNext[stream] = afterCommit
}

// Events is how many user (non-system) events the server holds, in every
// stream.
func (s *Server) Events() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if !r.isSystem {
			n++
		}
	}
	return n
}

// Copies is how many stored events carry the event id id, in any stream.
func (s *Server) Copies(id uuid.UUID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if r.id == id {
			n++
		}
	}
	return n
}

// ForgetIdempotencyCache drops the committed-events cache, as a KurrentDB
// restart does: afterwards an Any append of already stored ids writes them
// again, and only exact expected revisions stay idempotent.
func (s *Server) ForgetIdempotencyCache() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.committed)
}

// AppendRaw writes events to stream as another client would (with no
// envelope of the adapter's), for tests of foreign data. It bypasses the
// commit check.
func (s *Server) AppendRaw(stream, evType string, data []byte, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.writeLocked(stream, uuid.New(), evType, "application/octet-stream", nil, data, strings.HasPrefix(stream, "$"))
	}
	s.signalLocked()
}

func (s *Server) signalLocked() {
	close(s.moved)
	s.moved = make(chan struct{})
}

func (s *Server) writeSystemLocked(stream, evType string) {
	s.writeLocked(stream, uuid.New(), evType, "application/json", nil, []byte(`{}`), true)
}

func (s *Server) writeLocked(stream string, id uuid.UUID, evType, content string, custom, data []byte, system bool) *record {
	created := s.opts.Clock().UnixNano() / 100
	if created < s.lastCreated {
		created = s.lastCreated
	}
	s.lastCreated = created
	r := &record{
		id: id, stream: stream, rev: uint64(len(s.streams[stream])), pos: s.nextPos, created: created,
		evType: evType, content: content, custom: custom, data: data, isSystem: system,
	}
	// Advance like a transaction file: a header plus the payload.
	s.nextPos += 64 + uint64(len(stream)+len(evType)+len(custom)+len(data))
	s.log = append(s.log, r)
	s.streams[stream] = append(s.streams[stream], r)
	s.committed[id] = r
	return r
}

// Append implements the client-streaming append: the options first, then
// the proposed messages.
func (s *Server) Append(srv api.Streams_AppendServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "append: the first message must be the options")
	}
	stream := string(opts.GetStreamIdentifier().GetStreamName())
	if stream == "" {
		return status.Error(codes.InvalidArgument, "append: empty stream name")
	}
	var proposed []*api.AppendReq_ProposedMessage
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pm := req.GetProposedMessage()
		if pm == nil {
			return status.Error(codes.InvalidArgument, "append: options sent twice")
		}
		proposed = append(proposed, pm)
	}
	ids := make([]uuid.UUID, len(proposed))
	for i, pm := range proposed {
		id, err := uuidFromProto(pm.GetId())
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "append: event %d: %v", i, err)
		}
		ids[i] = id
		md := pm.GetMetadata()
		if md["type"] == "" {
			return status.Errorf(codes.InvalidArgument, "append: event %d has no type", i)
		}
	}
	if err := srv.Context().Err(); err != nil {
		// The client gave up before the commit: like a real server that
		// never received the end of the call, write nothing.
		return status.FromContextError(err).Err()
	}
	s.mu.Lock()
	afterCommit, fail := s.failNext[stream]
	delete(s.failNext, stream)
	s.mu.Unlock()
	if fail && !afterCommit {
		return status.Error(codes.Unavailable, "kurrenttest: this append was lost before the commit")
	}
	resp := s.commit(stream, opts, ids, proposed)
	if fail {
		return status.Error(codes.Unavailable, "kurrenttest: the answer to this append was lost")
	}
	return srv.SendAndClose(resp)
}

// expectation mirrors KurrentDB's ExpectedVersion: -1 no stream, -2 any,
// -4 stream exists, n >= 0 an exact revision.
const (
	expectNoStream     = -1
	expectAny          = -2
	expectStreamExists = -4
)

func expectedOf(opts *api.AppendReq_Options) int64 {
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Revision:
		return int64(e.Revision)
	case *api.AppendReq_Options_NoStream:
		return expectNoStream
	case *api.AppendReq_Options_StreamExists:
		return expectStreamExists
	default:
		return expectAny
	}
}

// commit runs KurrentDB's commit check and writes the events when it passes.
func (s *Server) commit(stream string, opts *api.AppendReq_Options, ids []uuid.UUID, proposed []*api.AppendReq_ProposedMessage) *api.AppendResp {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendCalls++
	expected := expectedOf(opts)
	recs := s.streams[stream]
	cur := int64(len(recs)) - 1 // -1: no stream

	if len(proposed) == 0 {
		// An empty append only checks the expected revision.
		if expected == expectAny || expected == cur || expected == expectStreamExists && cur >= 0 {
			return successResp(cur, 0)
		}
		return wrongResp(expected, cur)
	}
	// KurrentDB answers an idempotent retry with the original write's last
	// revision and position, exactly as it answered the write.
	idempotent := func(last *record) *api.AppendResp {
		return successResp(int64(last.rev), last.pos)
	}
	switch {
	case cur < 0:
		if expected != expectAny && expected != expectNoStream {
			return wrongResp(expected, cur)
		}
	case expected == expectAny || expected == expectStreamExists:
		var last *record
		for i, id := range ids {
			r, ok := s.committed[id]
			if !ok || r.stream != stream {
				if i == 0 {
					break // not a retry: write
				}
				return wrongResp(expected, cur) // corrupted idempotency
			}
			last = r
		}
		if last != nil {
			return idempotent(last)
		}
	case expected < cur:
		for i, id := range ids {
			rev := expected + 1 + int64(i)
			if rev <= cur && recs[rev].id == id {
				continue
			}
			return wrongResp(expected, cur) // first: wrong version; later: corrupted idempotency
		}
		return idempotent(recs[expected+int64(len(ids))])
	case expected > cur:
		return wrongResp(expected, cur)
	}
	var last *record
	for i, pm := range proposed {
		md := pm.GetMetadata()
		last = s.writeLocked(stream, ids[i], md["type"], md["content-type"], pm.GetCustomMetadata(), pm.GetData(), strings.HasPrefix(stream, "$"))
	}
	s.appends++
	if n := s.opts.SystemEventEvery; n > 0 && s.appends%n == 0 {
		s.writeSystemLocked("$stats-127.0.0.1:2113", "$statsCollected")
	}
	s.signalLocked()
	return successResp(int64(last.rev), last.pos)
}

func successResp(cur int64, pos uint64) *api.AppendResp {
	ok := &api.AppendResp_Success{
		PositionOption: &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{CommitPosition: pos, PreparePosition: pos}},
	}
	if cur < 0 {
		ok.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
	} else {
		ok.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(cur)}
	}
	return &api.AppendResp{Result: &api.AppendResp_Success_{Success: ok}}
}

func wrongResp(expected, cur int64) *api.AppendResp {
	w := &api.AppendResp_WrongExpectedVersion{}
	if cur < 0 {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(cur)}
	}
	switch expected {
	case expectAny:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
	case expectNoStream:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case expectStreamExists:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: uint64(expected)}
	}
	return &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

// Read serves stream reads, $all reads and $all subscriptions.
func (s *Server) Read(req *api.ReadReq, srv api.Streams_ReadServer) error {
	s.mu.Lock()
	s.readCalls++
	s.mu.Unlock()
	opts := req.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "read: no options")
	}
	structured := opts.GetUuidOption().GetString_() == nil
	filter, err := newFilter(opts.GetFilter())
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "read: %v", err)
	}
	backwards := opts.GetReadDirection() == api.ReadReq_Options_Backwards
	switch so := opts.GetStreamOption().(type) {
	case *api.ReadReq_Options_Stream:
		if opts.GetSubscription() != nil {
			return status.Error(codes.Unimplemented, "kurrenttest: stream subscriptions are not served")
		}
		return s.readStream(srv, so.Stream, backwards, opts.GetCount(), structured)
	case *api.ReadReq_Options_All:
		if opts.GetSubscription() != nil {
			if backwards {
				return status.Error(codes.InvalidArgument, "read: a subscription reads forwards")
			}
			return s.subscribeAll(srv, so.All, filter, structured)
		}
		return s.readAll(srv, so.All, backwards, opts.GetCount(), filter, structured)
	}
	return status.Error(codes.InvalidArgument, "read: neither a stream nor $all")
}

func (s *Server) readStream(srv api.Streams_ReadServer, o *api.ReadReq_Options_StreamOptions, backwards bool, count uint64, structured bool) error {
	name := string(o.GetStreamIdentifier().GetStreamName())
	s.mu.Lock()
	recs := s.streams[name]
	var out []*record
	if len(recs) > 0 {
		n := uint64(len(recs))
		var from uint64
		switch ro := o.GetRevisionOption().(type) {
		case *api.ReadReq_Options_StreamOptions_Revision:
			from = ro.Revision
		case *api.ReadReq_Options_StreamOptions_End:
			from = n // forwards: nothing; backwards: from the last
			if backwards {
				from = n - 1
			}
		}
		if backwards {
			if from >= n {
				from = n - 1
			}
			for i := int64(from); i >= 0 && uint64(len(out)) < count; i-- {
				out = append(out, recs[i])
			}
		} else {
			for i := from; i < n && uint64(len(out)) < count; i++ {
				out = append(out, recs[i])
			}
		}
	}
	s.mu.Unlock()
	if len(recs) == 0 {
		return srv.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)},
		}}})
	}
	for _, r := range out {
		if err := srv.Send(eventResp(r, structured)); err != nil {
			return err
		}
	}
	return nil
}

// startIndex returns the index in the log of the first record at or after
// position pos.
func (s *Server) startIndexLocked(pos uint64) int {
	lo, hi := 0, len(s.log)
	for lo < hi {
		mid := (lo + hi) / 2
		if s.log[mid].pos < pos {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (s *Server) readAll(srv api.Streams_ReadServer, o *api.ReadReq_Options_AllOptions, backwards bool, count uint64, f *filter, structured bool) error {
	s.mu.Lock()
	var out []*record
	if backwards {
		end := len(s.log) // exclusive
		if p, ok := o.GetAllOption().(*api.ReadReq_Options_AllOptions_Position); ok {
			end = s.startIndexLocked(p.Position.GetCommitPosition())
		} else if _, ok := o.GetAllOption().(*api.ReadReq_Options_AllOptions_Start); ok {
			end = 0
		}
		for i := end - 1; i >= 0 && uint64(len(out)) < count; i-- {
			if f.match(s.log[i]) {
				out = append(out, s.log[i])
			}
		}
	} else {
		start := 0
		switch p := o.GetAllOption().(type) {
		case *api.ReadReq_Options_AllOptions_Position:
			start = s.startIndexLocked(p.Position.GetCommitPosition())
		case *api.ReadReq_Options_AllOptions_End:
			start = len(s.log)
		}
		for i := start; i < len(s.log) && uint64(len(out)) < count; i++ {
			if f.match(s.log[i]) {
				out = append(out, s.log[i])
			}
		}
	}
	s.mu.Unlock()
	for _, r := range out {
		if d := time.Duration(s.subDelay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-srv.Context().Done():
				return status.FromContextError(srv.Context().Err()).Err()
			}
		}
		if err := srv.Send(eventResp(r, structured)); err != nil {
			return err
		}
	}
	return nil
}

// subscribeAll is a catch-up subscription: everything after the start
// position (exclusive, as KurrentDB's subscriptions from a position are),
// then live events, until the client goes away or the server stops.
func (s *Server) subscribeAll(srv api.Streams_ReadServer, o *api.ReadReq_Options_AllOptions, f *filter, structured bool) error {
	ctx := srv.Context()
	if err := srv.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString(),
	}}}); err != nil {
		return err
	}
	s.mu.Lock()
	next := 0
	switch p := o.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_Position:
		pos := p.Position.GetCommitPosition()
		next = s.startIndexLocked(pos)
		if next < len(s.log) && s.log[next].pos == pos {
			next++
		}
	case *api.ReadReq_Options_AllOptions_End:
		next = len(s.log)
	}
	s.mu.Unlock()
	caughtUp := false
	for {
		s.mu.Lock()
		batch := s.log[next:len(s.log):len(s.log)]
		moved := s.moved
		s.mu.Unlock()
		var lastPos uint64
		for _, r := range batch {
			lastPos = r.pos
			if !f.match(r) {
				continue
			}
			if d := time.Duration(s.subDelay.Load()); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return status.FromContextError(ctx.Err()).Err()
				}
			}
			if err := srv.Send(eventResp(r, structured)); err != nil {
				return err
			}
		}
		next += len(batch)
		if len(batch) > 0 && f != nil {
			// A filtered subscription tells the client how far it has
			// searched, so a consumer can checkpoint past filtered-out
			// events.
			if err := srv.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
				CommitPosition: lastPos, PreparePosition: lastPos,
			}}}); err != nil {
				return err
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := srv.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

func eventResp(r *record, structured bool) *api.ReadResp {
	var id *shared.UUID
	if structured {
		most, least := uuidToInt64(r.id)
		id = &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
			MostSignificantBits: most, LeastSignificantBits: least,
		}}}
	} else {
		id = &shared.UUID{Value: &shared.UUID_String_{String_: r.id.String()}}
	}
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               id,
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision:   r.rev,
			PreparePosition:  r.pos,
			CommitPosition:   r.pos,
			Metadata: map[string]string{
				"type":         r.evType,
				"content-type": r.content,
				"created":      fmt.Sprint(r.created),
			},
			CustomMetadata: r.custom,
			Data:           r.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.pos},
	}}}
}

func uuidToInt64(id uuid.UUID) (most, least int64) {
	for i := range 8 {
		most = most<<8 | int64(id[i])
		least = least<<8 | int64(id[8+i])
	}
	return most, least
}

func uuidFromProto(p *shared.UUID) (uuid.UUID, error) {
	if st := p.GetStructured(); st != nil {
		var id uuid.UUID
		most, least := uint64(st.GetMostSignificantBits()), uint64(st.GetLeastSignificantBits())
		for i := range 8 {
			id[7-i] = byte(most >> (8 * i))
			id[15-i] = byte(least >> (8 * i))
		}
		return id, nil
	}
	if str := p.GetString_(); str != "" {
		return uuid.Parse(str)
	}
	return uuid.Nil, errors.New("no event id")
}

// filter is a server-side $all filter; nil matches everything.
type filter struct {
	onType   bool
	prefixes []string
	re       *regexp.Regexp
}

func newFilter(o *api.ReadReq_Options_FilterOptions) (*filter, error) {
	if o == nil {
		return nil, nil
	}
	var expr *api.ReadReq_Options_FilterOptions_Expression
	f := &filter{}
	switch x := o.GetFilter().(type) {
	case *api.ReadReq_Options_FilterOptions_StreamIdentifier:
		expr = x.StreamIdentifier
	case *api.ReadReq_Options_FilterOptions_EventType:
		expr, f.onType = x.EventType, true
	default:
		return nil, errors.New("filter without an expression")
	}
	f.prefixes = expr.GetPrefix()
	if r := expr.GetRegex(); r != "" {
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, err
		}
		f.re = re
	}
	return f, nil
}

func (f *filter) match(r *record) bool {
	if f == nil {
		return true
	}
	subject := r.stream
	if f.onType {
		subject = r.evType
	}
	if f.re != nil {
		return f.re.MatchString(subject)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}

// Wait blocks until the log holds at least n user events or ctx ends; tests
// use it to wait for writes made by other processes.
func (s *Server) Wait(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		moved := s.moved
		s.mu.Unlock()
		if s.Events() >= n {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

package kurrentstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"go.uber.org/zap"

	"github.com/actionledger/actionledger/services/eventstore"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// Namespace scopes everything the store writes in KurrentDB: the
	// application's stream S is "<Namespace>:S" and the claim of event id X
	// is "<Namespace>.id:X". Reads, Head and subscriptions see only the
	// namespace's streams, so several deployments (or test runs) can share
	// one database. Letters, digits and '_'. Default "actionledger".
	Namespace string
	// Logger receives the client library's warnings and errors, with the
	// connection string's password removed. Nil discards them.
	Logger *zap.Logger
	// WriteTimeout bounds an append once its events were sent: from then on
	// the caller's context no longer cancels it, because reporting a failure
	// for a write that then lands would make the caller give up on stored
	// events. Default 30s.
	WriteTimeout time.Duration
	// ConnectTimeout bounds the connectivity check of Open. Default 15s.
	ConnectTimeout time.Duration
}

const (
	defaultNamespace      = "actionledger"
	defaultWriteTimeout   = 30 * time.Second
	defaultConnectTimeout = 15 * time.Second
	// readPage is how many raw events one $all read fetches: claims and
	// system events are interleaved with the application's, so a page
	// yields fewer events than it reads.
	readPage = 512
)

var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// Store is the KurrentDB adapter. It is safe for concurrent use.
type Store struct {
	cfg   *esdb.Configuration
	names names
	red   redactor
	opts  Options

	// closeCtx is cancelled by Close; every subscription's context is tied
	// to it, so that closing the store ends them with ErrClosed.
	closeCtx context.Context
	cancel   context.CancelFunc

	mu     sync.Mutex
	client *esdb.Client
	closed bool
}

var _ eventstore.Store = (*Store)(nil)

// Open connects to KurrentDB at connString (an "esdb://" or
// "esdb+discover://" connection string; TLS and credentials are the
// client's, set in the string) and checks that it answers.
func Open(ctx context.Context, connString string, opts Options) (*Store, error) {
	red := newRedactor(connString)
	if opts.Namespace == "" {
		opts.Namespace = defaultNamespace
	}
	if !namespaceRE.MatchString(opts.Namespace) {
		return nil, fmt.Errorf("kurrentstore: namespace %q: use 1-64 letters, digits or '_'", opts.Namespace)
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = defaultWriteTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = defaultConnectTimeout
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	cfg, err := esdb.ParseConnectionString(connString)
	if err != nil {
		return nil, fmt.Errorf("kurrentstore: parsing the connection string %s: %w", MaskURL(connString), red.error(err))
	}
	log := opts.Logger.Named("kurrentdb")
	cfg.Logger = func(level esdb.LogLevel, format string, args ...any) {
		// The library logs at info on every reconnection attempt; only
		// what needs attention goes on.
		switch level {
		case esdb.LogWarn:
			log.Warn(red.string(fmt.Sprintf(format, args...)))
		case esdb.LogError:
			log.Error(red.string(fmt.Sprintf(format, args...)))
		}
	}
	s := &Store{cfg: cfg, names: newNames(opts.Namespace), red: red, opts: opts}
	s.closeCtx, s.cancel = context.WithCancel(context.Background())
	if s.client, err = esdb.NewClient(cfg); err != nil {
		return nil, fmt.Errorf("kurrentstore: %s: %w", MaskURL(connString), red.error(err))
	}
	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if _, err := s.Head(pctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("kurrentstore: cannot reach KurrentDB at %s: %w", MaskURL(connString), err)
	}
	return s, nil
}

// Close releases the client and ends every subscription. Appends in flight
// either complete or fail. Calling it again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.cancel()
	return s.client.Close()
}

// conn returns the current client, or ErrClosed.
func (s *Store) conn() (*esdb.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, eventstore.ErrClosed
	}
	return s.client, nil
}

// check turns a client error into the store's: a done context reads as the
// context's error, a closed store as ErrClosed, and the password never
// appears. When the library gave up on its connection (it stays closed for
// good after a failed discovery, e.g. while every node was down), the client
// is replaced so that the next call connects afresh.
func (s *Store) check(ctx context.Context, c *esdb.Client, what string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("kurrentstore: %s: %w", what, cerr)
	}
	var ee *esdb.Error
	if errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeConnectionClosed {
		s.mu.Lock()
		closed := s.closed
		if !closed && s.client == c {
			if fresh, nerr := esdb.NewClient(s.cfg); nerr == nil {
				_ = c.Close()
				s.client = fresh
			}
		}
		s.mu.Unlock()
		if closed {
			return eventstore.ErrClosed
		}
	}
	return fmt.Errorf("kurrentstore: %s: %w", what, s.red.error(err))
}

func checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%w: read limit %d must be positive", eventstore.ErrInvalid, limit)
	}
	return nil
}

// ReadStream implements eventstore.Store. Port revision r is KurrentDB's
// stream revision r-1, so "after" is the KurrentDB revision to start from.
func (s *Store) ReadStream(ctx context.Context, stream string, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	return s.readStream(ctx, stream, after, limit)
}

// readStream reads up to limit events of stream with port revision > after.
func (s *Store) readStream(ctx context.Context, stream string, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := s.conn()
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("reading stream %q", stream)
	rs, err := c.ReadStream(ctx, s.names.stream(stream), esdb.ReadStreamOptions{
		Direction: esdb.Forwards, From: esdb.Revision(after),
	}, uint64(limit))
	if err != nil {
		return nil, s.check(ctx, c, what, err)
	}
	defer rs.Close()
	var out []eventstore.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		var ee *esdb.Error
		if errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeResourceNotFound {
			return nil, nil // a stream without events reads as empty
		}
		if err != nil {
			return nil, s.check(ctx, c, what, err)
		}
		if ev.Event == nil {
			continue
		}
		out = append(out, decodeEvent(stream, ev.Event))
	}
}

// readWholeStream reads every event of stream.
func (s *Store) readWholeStream(ctx context.Context, stream string) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	var after uint64
	for {
		page, err := s.readStream(ctx, stream, after, readPage)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < readPage {
			return out, nil
		}
		after = page[len(page)-1].Revision
	}
}

// ReadAll implements eventstore.Store over $all, skipping system events,
// claims and other namespaces. Positions are KurrentDB commit positions,
// which for appends (no explicit transactions) are each event's own log
// position: unique and strictly increasing along the log.
func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := s.conn()
	if err != nil {
		return nil, err
	}
	var out []eventstore.RecordedEvent
	scanned := after // last raw position read; the next page starts there
	for len(out) < limit {
		var from esdb.AllPosition = esdb.Start{}
		if scanned > 0 {
			from = esdb.Position{Commit: scanned, Prepare: scanned}
		}
		page, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: from}, readPage)
		if err != nil {
			return nil, s.check(ctx, c, "reading $all", err)
		}
		n, progressed := 0, false
		for len(out) < limit {
			ev, err := page.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				page.Close()
				return nil, s.check(ctx, c, "reading $all", err)
			}
			n++
			if ev.Event == nil || ev.Event.Position.Commit <= scanned {
				continue // a read from a position includes the event there
			}
			scanned, progressed = ev.Event.Position.Commit, true
			if stream, ok := s.names.appStream(ev.Event.StreamID); ok {
				out = append(out, decodeEvent(stream, ev.Event))
			}
		}
		page.Close()
		if n < readPage || !progressed {
			break // end of the log (or the limit was reached)
		}
	}
	return out, nil
}

// Head implements eventstore.Store: the position of the namespace's last
// event, found by reading $all backwards from its end.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c, err := s.conn()
	if err != nil {
		return 0, err
	}
	var from esdb.AllPosition = esdb.End{}
	var below uint64 // 0: no bound yet
	// The namespace's last event is almost always among the last few
	// records (its claim precedes it): start small, since Head runs on
	// every readiness probe and metrics scrape.
	size := uint64(8)
	for ; ; size = min(size*8, readPage) {
		page, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: from}, size)
		if err != nil {
			return 0, s.check(ctx, c, "reading the end of $all", err)
		}
		n, progressed := 0, false
		for {
			ev, err := page.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				page.Close()
				return 0, s.check(ctx, c, "reading the end of $all", err)
			}
			n++
			if ev.Event == nil || below != 0 && ev.Event.Position.Commit >= below {
				continue
			}
			below, progressed = ev.Event.Position.Commit, true
			if _, ok := s.names.appStream(ev.Event.StreamID); ok {
				page.Close()
				return ev.Event.Position.Commit, nil
			}
		}
		page.Close()
		if uint64(n) < size || !progressed {
			return 0, nil
		}
		from = esdb.Position{Commit: below, Prepare: below}
	}
}

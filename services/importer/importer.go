// Package importer loads a backlog (services/backlog) straight into a store
// through the API's own routes, run in process (Executor): the same
// validation, handlers and events as the requests over HTTP, without a
// network. It is how a national history is loaded in one go
// (`actionledger import`).
//
// Speed comes from parallelism that keeps the order that matters: every item
// belongs to one community, so items are grouped by community, each group
// keeps its file order, and many workers run groups side by side. The store
// commits whatever appends are queued in one fsync (group commit), so many
// workers waiting on their appends share the cost. Running a community's
// items together also keeps the streams a command loads small and warm.
//
// Every item carries its idempotency key, so importing the same file twice
// (or syncing it to the server afterwards) writes nothing new.
package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/backlog"
	"github.com/actionledger/actionledger/services/eventstore"
)

// DefaultWorkers is how many communities are imported side by side. Most
// workers wait on a group commit at any time; the more wait, the more
// appends share each fsync. Measured on the 2-core target: 128 gave about
// 25,000 events/s, 512 about 36,000.
const DefaultWorkers = 512

// Config tunes an import.
type Config struct {
	// Exec runs each write through its route (api.Server).
	Exec  Executor
	Store eventstore.Store
	// Workers run communities side by side (default DefaultWorkers).
	Workers int
	// Progress, when set, receives a progress line now and then.
	Progress func(Progress)
	// ProgressEvery is how often Progress is called (default 500ms).
	ProgressEvery time.Duration
}

// Progress is where an import stands.
type Progress struct {
	Phase       string // "reading", "users", "items", "done"
	Done, Total int
	Events      uint64 // appended so far
	Elapsed     time.Duration
}

// Report says what an import did.
type Report struct {
	Users, Items int
	Written      int // items that wrote their events
	Replayed     int // items already in the store (same key, same request)
	Refused      int
	RefusedBy    map[string]int // by error code
	Refusals     []Refusal      // the first few, for the operator
	Events       uint64         // events appended
	Read         time.Duration  // reading and grouping the file
	Took         time.Duration  // users and items
	EventsPerSec float64        // Events / Took
}

// Refusal is an item the handlers refused.
type Refusal struct {
	Line  int    `json:"line"`
	Key   string `json:"key"`
	Path  string `json:"path"`
	Code  string `json:"code"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

const keepRefusals = 20

// entry is one item, as the line it is in the file: entries hold no
// pointers, so the garbage collector never scans the millions of them (it
// did, and spent a third of the import doing so). The line is parsed again
// when the item runs.
type entry struct {
	line int32 // from 1
	n    int32 // length
	off  int64 // in the file
}

// Run imports the backlog read from r.
func Run(ctx context.Context, cfg Config, r io.Reader) (Report, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 500 * time.Millisecond
	}
	rep := Report{RefusedBy: map[string]int{}}
	start := time.Now()
	users, data, segments, total, err := read(r)
	if err != nil {
		return rep, err
	}
	rep.Users, rep.Items, rep.Read = len(users), total, time.Since(start)

	before, err := cfg.Store.Head(ctx)
	if err != nil {
		return rep, err
	}
	run := &runner{cfg: cfg, rep: &rep, data: data}
	stopProgress := run.progress(ctx, before, total)
	start = time.Now()
	run.phase.Store("users")
	actors, err := run.users(ctx, users)
	if err != nil {
		stopProgress()
		return rep, err
	}
	run.phase.Store("items")
	for _, seg := range segments {
		if err := run.segment(ctx, seg, actors); err != nil {
			stopProgress()
			return rep, err
		}
	}
	rep.Took = time.Since(start)
	stopProgress()
	after, err := cfg.Store.Head(ctx)
	if err != nil {
		return rep, err
	}
	rep.Events = after - before
	if rep.Took > 0 {
		rep.EventsPerSec = float64(rep.Events) / rep.Took.Seconds()
	}
	if cfg.Progress != nil {
		cfg.Progress(Progress{Phase: "done", Done: total, Total: total, Events: rep.Events, Elapsed: rep.Took})
	}
	return rep, nil
}

// segment is a run of items that can go in parallel, community by
// community; an item no community can be told for stands alone between
// segments, after everything before it.
type segment struct {
	groups [][]entry // one per community, in file order
	alone  *entry
}

// read parses the whole file and groups its items. Lines are parsed on all
// cores; the grouping pass is sequential (it learns which community each
// record belongs to from the item creating it).
func read(r io.Reader) ([]backlog.User, []byte, []segment, int, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	// The meta and user lines come first; read them in order.
	rd := backlog.NewReader(bytes.NewReader(data))
	_, err = rd.Next()
	headLines := rd.Line() - 1 // the last line read was the first item
	switch {
	case err == io.EOF:
		headLines = rd.Line()
	case err != nil:
		return nil, nil, nil, 0, err
	}
	type span struct{ off, n int }
	var lines []span
	off := 0
	for i := 0; off < len(data); i++ {
		n := bytes.IndexByte(data[off:], '\n')
		if n < 0 {
			n = len(data) - off
		}
		if i >= headLines {
			lines = append(lines, span{off, n})
		}
		off += n + 1
	}
	// Each item is parsed here only to check it and for what it says about
	// its community; it is parsed again when it runs.
	hints := make([]backlog.Hint, len(lines))
	blank := make([]bool, len(lines))
	errs := make([]error, len(lines))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(lines) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(lines))
		if lo >= hi {
			continue
		}
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				l := bytes.TrimSpace(data[lines[i].off : lines[i].off+lines[i].n])
				if len(l) == 0 {
					blank[i] = true
					continue
				}
				it, err := backlog.ParseItem(l)
				if err == nil && it.As != "" {
					if _, ok := rd.Users[it.As]; !ok {
						err = fmt.Errorf("performed by %q, which no user line declares", it.As)
					}
				}
				if err != nil {
					errs[i] = fmt.Errorf("line %d: %w", headLines+i+1, err)
					continue
				}
				hints[i] = backlog.HintOf(it)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, nil, 0, err
	}
	users := userList(rd)

	part := backlog.NewPartitioner()
	var segments []segment
	byCommunity := map[string]int{}
	cur := segment{}
	total := 0
	for i, h := range hints {
		if blank[i] {
			continue
		}
		total++
		e := entry{line: int32(headLines + i + 1), off: int64(lines[i].off), n: int32(lines[i].n)}
		c := part.Resolve(h)
		if c == "" {
			if len(cur.groups) > 0 {
				segments = append(segments, cur)
			}
			segments = append(segments, segment{alone: &e})
			cur, byCommunity = segment{}, map[string]int{}
			continue
		}
		g, ok := byCommunity[c]
		if !ok {
			g = len(cur.groups)
			byCommunity[c] = g
			cur.groups = append(cur.groups, nil)
		}
		cur.groups[g] = append(cur.groups[g], e)
	}
	if len(cur.groups) > 0 {
		segments = append(segments, cur)
	}
	// Big communities first: the last groups to start should be short, so
	// the workers finish together.
	for _, s := range segments {
		sort.SliceStable(s.groups, func(a, b int) bool { return len(s.groups[a]) > len(s.groups[b]) })
	}
	return users, data, segments, total, nil
}

type runner struct {
	data  []byte // the file
	cfg   Config
	rep   *Report
	mu    sync.Mutex
	done  atomic.Int64
	phase atomic.Value
}

// users creates the declared users as the admin, each under its own
// idempotency key, so a second import or a sync of the same file finds them.
func (run *runner) users(ctx context.Context, users []backlog.User) (map[string]app.Actor, error) {
	admin := app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}
	actors := make(map[string]app.Actor, len(users))
	for _, u := range users {
		res, err := run.execute(ctx, admin, backlog.Item{Key: u.Key(), Method: http.MethodPost, Path: "/v1/users", Body: u.Body()})
		if err != nil {
			return nil, fmt.Errorf("creating user %q: %w", u.Ref, err)
		}
		actors[u.Ref] = app.Actor{ID: res.ID, Role: u.Role, Area: domain.Area{District: u.District, Chiefdom: u.Chiefdom}}
	}
	return actors, nil
}

func userList(rd *backlog.Reader) []backlog.User {
	out := make([]backlog.User, 0, len(rd.Order))
	for _, ref := range rd.Order {
		out = append(out, rd.Users[ref])
	}
	return out
}

// segment runs one segment: its communities on the workers, or its lone
// item.
func (run *runner) segment(ctx context.Context, seg segment, actors map[string]app.Actor) error {
	if seg.alone != nil {
		return run.item(ctx, *seg.alone, actors)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed error
	var failOnce sync.Once
	for range min(run.cfg.Workers, len(seg.groups)) {
		wg.Go(func() {
			for {
				g := int(next.Add(1)) - 1
				if g >= len(seg.groups) || ctx.Err() != nil {
					return
				}
				for _, e := range seg.groups[g] {
					if err := run.item(ctx, e, actors); err != nil {
						failOnce.Do(func() { failed = err })
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if failed == nil {
		failed = ctx.Err()
	}
	return failed
}

// item runs one item and counts its outcome. Only failures of the import
// itself (the store, a cancelled context) are errors; a refusal is counted
// and the import goes on, as a server answering a sync would.
func (run *runner) item(ctx context.Context, e entry, actors map[string]app.Actor) error {
	defer run.done.Add(1)
	it, err := backlog.ParseItem(run.data[e.off : e.off+int64(e.n)])
	if err != nil {
		// It parsed when the file was read.
		return fmt.Errorf("line %d: %w", e.line, err)
	}
	res, err := run.dispatch(ctx, it, actors)
	code := domain.ErrorCode(err)
	switch {
	case err == nil:
		run.mu.Lock()
		if res.Replayed {
			run.rep.Replayed++
		} else {
			run.rep.Written++
		}
		run.mu.Unlock()
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case code == domain.CodeInternal || code == domain.CodeUnavailable:
		return fmt.Errorf("line %d (%s %s): %w", e.line, it.Method, it.Path, err)
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	run.rep.Refused++
	run.rep.RefusedBy[string(code)]++
	if len(run.rep.Refusals) < keepRefusals {
		f := Refusal{Line: int(e.line), Key: it.Key, Path: it.Path, Code: string(code), Error: err.Error()}
		var de *domain.Error
		if errors.As(err, &de) {
			f.Field, f.Error = de.Field, de.Message
		}
		run.rep.Refusals = append(run.rep.Refusals, f)
	}
	return nil
}

func (run *runner) dispatch(ctx context.Context, it backlog.Item, actors map[string]app.Actor) (app.Result, error) {
	actor, ok := actors[it.As]
	if !ok {
		return app.Result{}, domain.Errorf(domain.CodeUnauthenticated, "the item names no declared user (as %q)", it.As)
	}
	return run.execute(ctx, actor, it)
}

// progress calls cfg.Progress every ProgressEvery until stopped.
func (run *runner) progress(ctx context.Context, before uint64, total int) (stop func()) {
	if run.cfg.Progress == nil {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(run.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			head, _ := run.cfg.Store.Head(ctx)
			phase, _ := run.phase.Load().(string)
			run.cfg.Progress(Progress{Phase: phase, Done: int(run.done.Load()), Total: total, Events: head - before, Elapsed: time.Since(start)})
		}
	})
	return func() { close(done); wg.Wait() }
}

// MarshalRefusals renders refusals as JSON lines, for the operator.
func MarshalRefusals(w io.Writer, rs []Refusal) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return bw.Flush()
}

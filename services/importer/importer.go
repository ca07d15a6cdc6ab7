// Package importer loads a backlog (services/backlog) straight into a store
// through the API's own routes, run in process (Executor): the same
// validation, handlers and events as the requests over HTTP, without a
// network. It is how a national history is loaded in one go
// (`actionledger import`).
//
// The file is read as it goes, a window of items at a time, so memory stays
// bounded whatever its size (a national history is gigabytes at ten times
// CLEA's scale); the next window is read, parsed and grouped while the
// current one runs.
//
// Speed comes from parallelism that keeps the order that matters: every item
// belongs to one community, so a window's items are grouped by community,
// each group keeps its file order, and many workers run groups side by side.
// The store commits whatever appends are queued in one fsync (group commit),
// so many workers waiting on their appends share the cost. Running a
// community's items together also keeps the streams a command loads small
// and warm: the file goes week by week across every community, so running
// it in file order would load each community cold for every item.
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
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/backlog"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/mapped"
)

// DefaultWorkers is how many communities are imported side by side. Most
// workers wait on a group commit at any time; the more wait, the more
// appends share each fsync. Measured on the 2-core target: 128 gave about
// 25,000 events/s, 512 about 36,000.
const DefaultWorkers = 512

// DefaultWindow is how many items are read and grouped at a time. A window
// runs each community's items together, so a community the write path has
// not kept (app.DefaultKeptAggregates) is loaded once a window: a larger
// window loads less; it costs about 300 bytes an item, and two are held
// (one running, one read ahead). The first window is a quarter of it.
// Since the write path keeps aggregates across windows, a larger window no
// longer buys speed: importing clea, 400,000 and 100,000 alternated twice
// gave 27,125–33,099 and 29,257–29,333 events/s, and a peak RSS of
// 1,826–1,847 and 1,208–1,227 MB.
const DefaultWindow = 100_000

// maxWindowBytes ends a window early when its lines are long, so that
// memory stays bounded by bytes too.
const maxWindowBytes = 96 << 20

// Config tunes an import.
type Config struct {
	// Exec runs each write through its route (api.Server).
	Exec  Executor
	Store eventstore.Store
	// Workers run communities side by side (default DefaultWorkers).
	Workers int
	// Window is how many items are read and grouped at a time (default
	// DefaultWindow).
	Window int
	// Progress, when set, receives a progress line now and then.
	Progress func(Progress)
	// ProgressEvery is how often Progress is called (default 500ms).
	ProgressEvery time.Duration
}

// Progress is where an import stands.
type Progress struct {
	Phase string // "users", "items", "done"
	// Total is the items the file's meta line announces (0: none).
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
	// Read is how long running waited for the file: it is read, parsed
	// and grouped while the users are created and then while the previous
	// window runs, so this is only what reading did not hide.
	Read         time.Duration
	Took         time.Duration // users and items, reading included
	EventsPerSec float64       // Events / Took
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

// entry is one item, as the line it is in its window: entries hold no
// pointers, so the garbage collector never scans the hundreds of thousands
// of them (it did, and spent a third of the import doing so). The line is
// parsed again when the item runs.
type entry struct {
	line int64 // from 1
	off  int64 // in the window's data
	n    int64 // length
}

// Run imports the backlog read from r. The head (meta and user lines) is
// read first; items are then read a window at a time. A line that does not
// parse stops the import before its window runs: what came before it is
// written, and a run of the mended file writes only the rest.
func Run(ctx context.Context, cfg Config, r io.Reader) (Report, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 500 * time.Millisecond
	}
	rep := Report{RefusedBy: map[string]int{}}
	start := time.Now()
	src := newSource(r)
	if err := src.readHead(); err != nil {
		return rep, err
	}
	users := userList(src.head)
	rep.Users = len(users)
	total := 0
	if m := src.head.Meta(); m != nil {
		total = m.Items
	}

	before, err := cfg.Store.Head(ctx)
	if err != nil {
		return rep, err
	}
	run := &runner{cfg: cfg, rep: &rep}
	stopProgress := run.progress(ctx, before, total)
	defer stopProgress()
	defer run.releasing(ctx)()
	// The first window is read while the users are created.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	windows, readErr := src.read(ctx, cfg.Window)
	// On an early return the reader is stopped and waited for, so that
	// nothing reads the file after Run returns.
	defer func() {
		cancel()
		for range windows {
		}
	}()
	run.phase.Store("users")
	actors, err := run.users(ctx, users)
	if err != nil {
		return rep, err
	}
	run.phase.Store("items")
	if err := run.items(ctx, src, windows, actors); err != nil {
		return rep, err
	}
	if err := readErr(); err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		// The reader stopped early, not at the end of the file.
		return rep, err
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
		cfg.Progress(Progress{Phase: "done", Done: rep.Items, Total: max(total, rep.Items), Events: rep.Events, Elapsed: rep.Took})
	}
	return rep, nil
}

// items runs the windows in order, each as its segments in order.
func (run *runner) items(ctx context.Context, src *source, windows <-chan *window, actors map[string]app.Actor) error {
	for {
		waited := time.Now()
		w, ok := <-windows
		run.rep.Read += time.Since(waited)
		if !ok {
			return nil
		}
		run.data = w.data
		run.rep.Items += w.items
		for _, seg := range w.segments {
			if err := run.segment(ctx, seg, actors); err != nil {
				return err
			}
		}
		src.recycle(w)
	}
}

// memoryReleaser is a store that can drop its file's pages from this
// process's resident memory (boltstore): without it an import's RSS grows
// with the store's file.
type memoryReleaser interface{ ReleaseMemory() }

// The store's pages are released (memoryReleaser) once the files this
// process maps hold more than releaseAbove resident, checked every
// releaseCheck. Releasing on a fixed beat instead (every 200 ms, as before)
// kept the file's share of RSS near 40 MB but threw the hot top of the
// B+tree away five times a second, whatever it held: faulting pages back
// in was a fifth of the import's CPU on clea (bbolt's page check, the first
// touch of each page, 19% of the profile; never releasing, 2%, but RSS
// grows with the file). Measured on clea, the old beat and this budget
// alternated twice: 16,058-17,304 -> 18,948-19,850 events/s, 164-177 ->
// 142-147 s of CPU, peak RSS 1,124-1,152 -> 1,070-1,087 MB. The peak stays
// bounded by the heap, the budget and one check's growth.
const (
	releaseAbove = 256 << 20
	releaseCheck = 50 * time.Millisecond
)

// releasing releases the store's pages whenever the mapped files' resident
// share passes releaseAbove, until stopped, if the store can. Where that
// share cannot be read it releases at every check.
func (run *runner) releasing(ctx context.Context) (stop func()) {
	r, ok := run.cfg.Store.(memoryReleaser)
	if !ok {
		return func() {}
	}
	return every(ctx, releaseCheck, func() {
		if n, ok := mapped.FileResident(); !ok || n > releaseAbove {
			r.ReleaseMemory()
		}
	})
}

// every calls fn every period until ctx ends or stop is called (stop may be
// called more than once, and returns once fn is done).
func every(ctx context.Context, period time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				fn()
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// segment is a run of items that can go in parallel, community by
// community; an item no community can be told for stands alone between
// segments, after everything before it.
type segment struct {
	groups [][]entry // one per community, in file order
	alone  *entry
}

// window is a run of the file's items, grouped for running.
type window struct {
	data     []byte // the items' lines, back to back
	segments []segment
	items    int
	buffers
}

// buffers are a window's pointer-free memory, reused by the next window
// read once the window has run.
type buffers struct {
	data  []byte
	lines []entry // in file order
	flat  []entry // by group: the groups are slices of it
	refs  []groupRef
}

// groupRef is where a line of a window goes: group of segment seg (seg -1:
// it stands alone).
type groupRef struct{ seg, group int32 }

// source reads a backlog: the head once, then windows of items.
type source struct {
	sc   *bufio.Scanner
	line int
	head *backlog.Reader
	// first is the first item line, read with the head.
	first    []byte
	hasFirst bool
	part     *backlog.Partitioner
	// spare holds the buffers of a window that has run.
	spare chan buffers
	// items and bytes count what windows have read, for sizing the next.
	items, bytes int
}

func newSource(r io.Reader) *source {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), backlog.MaxLine)
	return &source{sc: sc, head: backlog.NewReader(nil), part: backlog.NewPartitioner(),
		spare: make(chan buffers, 1)}
}

// readHead reads the meta and user lines, up to the first item.
func (s *source) readHead() error {
	for s.sc.Scan() {
		s.line++
		_, isItem, err := s.head.Take(s.line, s.sc.Bytes())
		if err != nil {
			return err
		}
		if isItem {
			s.first, s.hasFirst = bytes.Clone(bytes.TrimSpace(s.sc.Bytes())), true
			return nil
		}
	}
	if err := s.sc.Err(); err != nil {
		return fmt.Errorf("after line %d: %w", s.line, err)
	}
	return nil
}

// read reads the windows of the file ahead of running them: one is read
// while the one before runs, and waits for it to be taken, so at most two
// are held. The channel closes at the end of the file, at the first error
// (then returned by readErr once the channel is closed) or when ctx ends.
// The first window is a quarter of the size, so that running starts early.
func (s *source) read(ctx context.Context, size int) (<-chan *window, func() error) {
	windows := make(chan *window)
	var readErr error
	go func() {
		defer close(windows)
		n := max(size/4, 1)
		for {
			w, err := s.next(n)
			if err != nil || w == nil {
				readErr = err
				return
			}
			select {
			case windows <- w:
			case <-ctx.Done():
				return
			}
			n = size
		}
	}()
	return windows, func() error { return readErr }
}

func (s *source) recycle(w *window) {
	select {
	case s.spare <- w.buffers:
	default:
	}
}

// next reads, parses and groups the next window of up to size items; nil
// at the end of the file. Every line of the window is checked before any
// of it runs.
func (s *source) next(size int) (*window, error) {
	var buf buffers
	select {
	case buf = <-s.spare:
	default:
	}
	// Sized once, from the lines read so far: a window grown by doubling
	// allocates twice its size, and large allocations are what the
	// collector charges most for.
	data, lines := buf.data[:0], buf.lines[:0]
	if s.items > 0 {
		if want := min(size*int(s.bytes/s.items+1)*9/8, maxWindowBytes+backlog.MaxLine); cap(data) < want {
			data = make([]byte, 0, want)
		}
	}
	if cap(lines) < size {
		lines = make([]entry, 0, min(size, 1<<20))
	}
	add := func(raw []byte) {
		lines = append(lines, entry{line: int64(s.line), off: int64(len(data)), n: int64(len(raw))})
		data = append(data, raw...)
	}
	if s.hasFirst {
		add(s.first)
		s.first, s.hasFirst = nil, false
	}
	for len(lines) < size && len(data) < maxWindowBytes && s.sc.Scan() {
		s.line++
		if raw := bytes.TrimSpace(s.sc.Bytes()); len(raw) > 0 {
			add(raw)
		}
	}
	if err := s.sc.Err(); err != nil {
		return nil, fmt.Errorf("after line %d: %w", s.line, err)
	}
	if len(lines) == 0 {
		return nil, nil
	}
	s.items, s.bytes = s.items+len(lines), s.bytes+len(data)
	// Each item is parsed here, on every core, only to check it and for
	// what it says about its community; it is parsed again when it runs.
	hints := make([]backlog.Hint, len(lines))
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
				e := lines[i]
				it, err := backlog.ParseItem(data[e.off : e.off+e.n])
				if err == nil && it.As != "" {
					if _, ok := s.head.Users[it.As]; !ok {
						err = fmt.Errorf("performed by %q, which no user line declares", it.As)
					}
				}
				if err != nil {
					errs[i] = fmt.Errorf("line %d: %w", e.line, err)
					continue
				}
				hints[i] = backlog.HintOf(it)
			}
		})
	}
	wg.Wait()
	if err := firstErrors(errs, 10); err != nil {
		return nil, err
	}

	// Which group of which segment each line goes to, in file order (the
	// partitioner learns records from the lines creating them); then the
	// groups are cut from one array, so that a window's entries stay
	// pointer-free and are allocated once.
	w := &window{data: data, items: len(lines)}
	refs := slices.Grow(buf.refs[:0], len(lines))[:len(lines)]
	var sizes [][]int32 // by segment, by group
	byCommunity := map[string]int32{}
	open := -1 // the segment taking groups
	for i, h := range hints {
		c := s.part.Resolve(h)
		if c == "" {
			e := lines[i]
			w.segments = append(w.segments, segment{alone: &e})
			sizes = append(sizes, nil)
			open = -1
			clear(byCommunity)
			refs[i] = groupRef{-1, -1}
			continue
		}
		if open < 0 {
			w.segments = append(w.segments, segment{})
			sizes = append(sizes, nil)
			open = len(w.segments) - 1
		}
		g, ok := byCommunity[c]
		if !ok {
			g = int32(len(sizes[open]))
			byCommunity[c] = g
			sizes[open] = append(sizes[open], 0)
		}
		sizes[open][g]++
		refs[i] = groupRef{int32(open), g}
	}
	flat := slices.Grow(buf.flat[:0], len(lines))[:len(lines)]
	at := 0
	for i := range w.segments {
		groups := make([][]entry, len(sizes[i]))
		for g, n := range sizes[i] {
			groups[g] = flat[at : at : at+int(n)]
			at += int(n)
		}
		w.segments[i].groups = groups
	}
	for i, r := range refs {
		if r.seg >= 0 {
			gs := w.segments[r.seg].groups
			gs[r.group] = append(gs[r.group], lines[i])
		}
	}
	// Big communities first: the last groups to start should be short, so
	// the workers finish together.
	for _, seg := range w.segments {
		sort.SliceStable(seg.groups, func(a, b int) bool { return len(seg.groups[a]) > len(seg.groups[b]) })
	}
	w.buffers = buffers{data: data, lines: lines, flat: flat, refs: refs}
	return w, nil
}

// firstErrors joins the first n errors of errs (nil if none): a file with
// a systematic fault would otherwise be reported a line per item.
func firstErrors(errs []error, n int) error {
	var out []error
	more := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case len(out) < n:
			out = append(out, err)
		default:
			more++
		}
	}
	if more > 0 {
		out = append(out, fmt.Errorf("and %d more lines", more))
	}
	return errors.Join(out...)
}

type runner struct {
	data  []byte // the window running
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
		res, err := run.execute(ctx, admin, backlog.Item{Key: u.Key(), Method: http.MethodPost, Path: "/v1/users", Body: u.Body()}, true)
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
	return run.execute(ctx, actor, it, false)
}

// progress calls cfg.Progress every ProgressEvery until stopped (stop may
// be called more than once).
func (run *runner) progress(ctx context.Context, before uint64, total int) (stop func()) {
	if run.cfg.Progress == nil {
		return func() {}
	}
	start := time.Now()
	return every(ctx, run.cfg.ProgressEvery, func() {
		head, _ := run.cfg.Store.Head(ctx)
		phase, _ := run.phase.Load().(string)
		run.cfg.Progress(Progress{Phase: phase, Done: int(run.done.Load()), Total: total, Events: head - before, Elapsed: time.Since(start)})
	})
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

// Command tailtrace reads a Go execution trace of a server under command load
// (scripts/commands-load.sh with TRACE set takes one) and says where the
// requests' time went: for the slowest requests and for the typical ones, how
// long each spent waiting for the store's writer, waiting for a core, running
// and in system calls; who ran on the cores (the requests, the read models,
// the writer, the collector); and, for the writer, how long its system calls
// took (the data sync and the meta sync of each commit apart).
//
//	go run ./scripts/tailtrace server.trace
//
// A request is what an HTTP connection's goroutine does between two waits on
// the network: it wakes with a request to read and goes back to the network
// once it has written the answer. Requests that were under way when the trace
// started or ended are left out, and a request that was already there when
// the one before it was answered counts with that one (the goroutine did not
// wait in between): the count is a little short of what was sent.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"golang.org/x/exp/trace"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tailtrace TRACE_FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	a, err := analyse(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tailtrace:", err)
		os.Exit(1)
	}
	a.report(os.Stdout)
}

// request is one request's time, by state.
type request struct {
	total trace.Time
	in    map[string]trace.Time
}

// conn follows one connection goroutine.
type conn struct {
	start  trace.Time // 0: not in a request
	since  trace.Time // when the goroutine entered state
	state  string
	reason string
	in     map[string]trace.Time
}

type analysis struct {
	requests []request
	// writer: time in each state, and each system call's durations by the
	// call that made it.
	writer   map[string]trace.Time
	syscalls map[string][]trace.Time
	span     trace.Time
	// running is the time goroutines of each role ran on a core.
	running map[string]trace.Time
}

// roles name goroutines by a function on a stack they were seen with (the
// function a goroutine starts in, when the trace saw it created): "conn" for
// net/http's connection goroutines and "writer" for the store's writer,
// which the report follows; the others only to say who ran on the cores.
var roles = []struct{ name, fn string }{
	{"conn", "net/http.(*conn).serve"},
	{"writer", "boltstore.(*Store).writer"},
	{"read models", "watermill/message.(*handler).handleMessage"},
	{"read models", "eventstore/pubsub.(*Subscriber).Subscribe"},
	{"read models", "watermill/message.(*handler).run"},
	{"read models", "projections.(*Engine)"},
	{"HTTP server (other)", "net/http."},
	{"collector", "runtime.gcBgMarkWorker"},
	{"collector", "runtime.bgsweep"},
	{"collector", "runtime.bgscavenge"},
}

// role names a goroutine from a stack it was seen with: the first of roles
// that any of its frames matches; "" when none does.
func role(s trace.Stack) string {
	for _, r := range roles {
		for f := range s.Frames() {
			if strings.Contains(f.Func, r.fn) {
				return r.name
			}
		}
	}
	return ""
}

// shown is how a role reads in the report.
func shown(role string) string {
	switch role {
	case "conn":
		return "requests"
	case "writer":
		return "the store's writer"
	case "":
		return "other"
	}
	return role
}

// caller names a system call by the first two frames above the syscall and
// os packages: bbolt's fdatasync called from Tx.write (the data) or from
// Tx.writeMeta (the meta page), a write of pages, and so on.
func caller(s trace.Stack) string {
	var names []string
	for f := range s.Frames() {
		if strings.HasPrefix(f.Func, "syscall.") || strings.HasPrefix(f.Func, "internal/") || strings.HasPrefix(f.Func, "os.") {
			continue
		}
		names = append(names, f.Func)
		if len(names) == 2 {
			break
		}
	}
	if len(names) == 0 {
		return "(no stack)"
	}
	return strings.Join(names, " ← ")
}

// site is the first function outside the runtime on a blocked goroutine's
// stack, without its package path: where a request waited.
func site(s trace.Stack) string {
	for f := range s.Frames() {
		if strings.HasPrefix(f.Func, "runtime.") || strings.HasPrefix(f.Func, "internal/") {
			continue
		}
		return f.Func[strings.LastIndex(f.Func, "/")+1:]
	}
	return ""
}

func stateName(s trace.GoState, reason string) string {
	switch s {
	case trace.GoRunning:
		return "running"
	case trace.GoRunnable:
		return "waiting for a core"
	case trace.GoSyscall:
		return "in a system call"
	case trace.GoWaiting:
		if reason == "" {
			return "blocked"
		}
		return "blocked: " + reason
	}
	return s.String()
}

func analyse(r io.Reader) (*analysis, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, err
	}
	a := &analysis{writer: map[string]trace.Time{}, syscalls: map[string][]trace.Time{}, running: map[string]trace.Time{}}
	roleOf := map[trace.GoID]string{}
	ranSince := map[trace.GoID]trace.Time{}
	conns := map[trace.GoID]*conn{}
	type writerG struct {
		since   trace.Time
		state   string
		syscall string
	}
	writers := map[trace.GoID]*writerG{}
	var first, last trace.Time
	for {
		ev, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		t := ev.Time()
		if first == 0 {
			first = t
		}
		last = t
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		g := st.Resource.Goroutine()
		from, to := st.Goroutine()
		if roleOf[g] == "" {
			roleOf[g] = role(st.Stack)
		}
		if from == trace.GoRunning {
			if since, ok := ranSince[g]; ok {
				a.running[roleOf[g]] += t - since
				delete(ranSince, g)
			}
		}
		if to == trace.GoRunning {
			ranSince[g] = t
		}
		switch roleOf[g] {
		case "writer":
			w := writers[g]
			if w == nil {
				w = &writerG{}
				writers[g] = w
			}
			if w.since != 0 {
				d := t - w.since
				a.writer[w.state] += d
				if w.state == "in a system call" {
					a.syscalls[w.syscall] = append(a.syscalls[w.syscall], d)
				}
			}
			w.since, w.state = t, stateName(to, st.Reason)
			if to == trace.GoSyscall {
				w.syscall = caller(st.Stack)
			}
		case "conn":
			c := conns[g]
			if c == nil {
				c = &conn{}
				conns[g] = c
			}
			if from == trace.GoWaiting && to == trace.GoWaiting && st.Reason == "" {
				// A state said again at a trace generation's start: the
				// wait goes on, for the reason already known.
				continue
			}
			if c.start != 0 {
				c.in[c.state] += t - c.since
			}
			if from == trace.GoWaiting && c.reason == "network" {
				c.start, c.in = t, map[string]trace.Time{}
			}
			if to == trace.GoWaiting && st.Reason == "network" && c.start != 0 {
				a.requests = append(a.requests, request{total: t - c.start, in: c.in})
				c.start = 0
			}
			c.since, c.state, c.reason = t, stateName(to, st.Reason), st.Reason
			if to == trace.GoWaiting {
				if at := site(st.Stack); at != "" {
					c.state += " in " + at
				}
			}
		}
	}
	a.span = last - first
	return a, nil
}

func ms(t trace.Time) string { return fmt.Sprintf("%.2f ms", float64(t)/1e6) }

func (a *analysis) report(w io.Writer) {
	fmt.Fprintf(w, "trace of %.1f s: %d requests\n", float64(a.span)/1e9, len(a.requests))
	if len(a.requests) < 100 {
		fmt.Fprintln(w, "too few requests for percentiles (is this a trace of a server under load?)")
		return
	}
	reqs := slices.Clone(a.requests)
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].total > reqs[j].total })
	n := len(reqs)
	fmt.Fprintln(w, "\nrequests, by how long they took (mean time a request spent in each state):")
	for _, band := range []struct {
		name     string
		from, to int
	}{
		{"slowest 1%", 0, n / 100},
		{"slowest 1–5%", n / 100, n / 20},
		{"middle (45–55%)", n * 45 / 100, n * 55 / 100},
	} {
		sum := map[string]trace.Time{}
		var total trace.Time
		for _, r := range reqs[band.from:band.to] {
			total += r.total
			for k, v := range r.in {
				sum[k] += v
			}
		}
		k := trace.Time(band.to - band.from)
		fmt.Fprintf(w, "  %s (%d, %s–%s): mean %s:", band.name, band.to-band.from, ms(reqs[band.to-1].total), ms(reqs[band.from].total), ms(total/k))
		for _, s := range byValue(sum) {
			if sum[s]/k >= 10_000 {
				fmt.Fprintf(w, " %s %s;", s, ms(sum[s]/k))
			}
		}
		fmt.Fprintln(w)
	}
	var ran trace.Time
	for _, d := range a.running {
		ran += d
	}
	fmt.Fprintf(w, "\nwho ran on the cores (%s of running in all):\n", ms(ran))
	for _, r := range byValue(a.running) {
		fmt.Fprintf(w, "  %s: %s (%.0f%%)\n", shown(r), ms(a.running[r]), 100*float64(a.running[r])/float64(ran))
	}
	fmt.Fprintln(w, "\nthe store's writer, time in each state:")
	for _, s := range byValue(a.writer) {
		fmt.Fprintf(w, "  %s: %s (%.0f%%)\n", s, ms(a.writer[s]), 100*float64(a.writer[s])/float64(a.span))
	}
	fmt.Fprintln(w, "\nthe writer's system calls, by caller:")
	calls := make([]string, 0, len(a.syscalls))
	for c := range a.syscalls {
		calls = append(calls, c)
	}
	sort.Slice(calls, func(i, j int) bool { return sum(a.syscalls[calls[i]]) > sum(a.syscalls[calls[j]]) })
	for _, c := range calls {
		d := slices.Clone(a.syscalls[c])
		slices.Sort(d)
		q := func(p float64) trace.Time { return d[int(p*float64(len(d)-1))] }
		fmt.Fprintf(w, "  %s: %d, total %s; p50 %s, p99 %s, p99.9 %s, max %s\n",
			c, len(d), ms(sum(d)), ms(q(.5)), ms(q(.99)), ms(q(.999)), ms(d[len(d)-1]))
	}
}

func sum(d []trace.Time) trace.Time {
	var s trace.Time
	for _, v := range d {
		s += v
	}
	return s
}

func byValue(m map[string]trace.Time) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	return keys
}

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

// goroutine is what analyse keeps of one goroutine: its role, the state it
// is in and since when, and for a connection the request under way.
type goroutine struct {
	role    string
	since   trace.Time
	state   string // stateName's, with where it blocked for a connection
	reason  string
	syscall string     // the writer's, while in one: who made it
	start   trace.Time // a connection's request under way; 0: none
	in      map[string]trace.Time
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

// calls are the functions on s, innermost first, without those whose name
// starts with one of skip.
func calls(s trace.Stack, skip ...string) []string {
	var out []string
	for f := range s.Frames() {
		if !slices.ContainsFunc(skip, func(p string) bool { return strings.HasPrefix(f.Func, p) }) {
			out = append(out, f.Func)
		}
	}
	return out
}

// caller names a system call by the first two functions above the syscall
// and os packages: bbolt's fdatasync called from Tx.write (the data) or from
// Tx.writeMeta (the meta page), a write of pages, and so on.
func caller(s trace.Stack) string {
	names := calls(s, "syscall.", "internal/", "os.")
	if len(names) == 0 {
		return "(no stack)"
	}
	return strings.Join(names[:min(2, len(names))], " ← ")
}

// site is the first function outside the runtime on a blocked goroutine's
// stack, without its package path: where a request waited.
func site(s trace.Stack) string {
	names := calls(s, "runtime.", "internal/")
	if len(names) == 0 {
		return ""
	}
	return names[0][strings.LastIndex(names[0], "/")+1:]
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
	gs := map[trace.GoID]*goroutine{}
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
		from, to := st.Goroutine()
		if from == trace.GoWaiting && to == trace.GoWaiting && st.Reason == "" {
			// A state said again at a trace generation's start: the wait
			// goes on, for the reason already known.
			continue
		}
		g := gs[st.Resource.Goroutine()]
		if g == nil {
			g = &goroutine{}
			gs[st.Resource.Goroutine()] = g
		}
		if g.role == "" {
			g.role = role(st.Stack)
		}
		// The time in the state g leaves, where the report counts it.
		if g.since != 0 {
			d := t - g.since
			if from == trace.GoRunning {
				a.running[g.role] += d
			}
			switch {
			case g.role == "writer":
				a.writer[g.state] += d
				if from == trace.GoSyscall {
					a.syscalls[g.syscall] = append(a.syscalls[g.syscall], d)
				}
			case g.role == "conn" && g.start != 0:
				g.in[g.state] += d
			}
		}
		if g.role == "conn" {
			if from == trace.GoWaiting && g.reason == "network" {
				g.start, g.in = t, map[string]trace.Time{}
			}
			if to == trace.GoWaiting && st.Reason == "network" && g.start != 0 {
				a.requests = append(a.requests, request{total: t - g.start, in: g.in})
				g.start = 0
			}
		}
		g.since, g.state, g.reason = t, stateName(to, st.Reason), st.Reason
		if g.role == "conn" && to == trace.GoWaiting {
			if at := site(st.Stack); at != "" {
				g.state += " in " + at
			}
		}
		if g.role == "writer" && to == trace.GoSyscall {
			g.syscall = caller(st.Stack)
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

// Command loadgen drives a running actionledger server for scripts/bench.sh
// and prints each measurement as a row of a markdown table:
//
//	loadgen commands --rate 500 --duration 10s   open-loop commands (visits), throughput and p50/p99
//	loadgen sync --phones 4 --batches 4          POST /v1/sync items per second
//	loadgen stats --rate 2000 --duration 10s     open-loop stats queries, p50/p99
//	loadgen lag --samples 300                    append → visible (min_position) lag, p50/p99
//	loadgen asof --at 2015-10-12                 national as-of query time
//	loadgen ready --since-ns N                   time from N (unix ns) until /readyz answers 200
//
// Open-loop means requests are sent on a fixed schedule whatever the
// answers, and latency is measured from when a request was due, not when it
// went out, so a slow server cannot hide its queue (no coordinated
// omission). loadgen runs on the same machine as the server and takes CPU
// from it; the bench says so.
//
// Every subcommand first makes (idempotently) what it needs through the
// admin token: a mobilizer in Kenema, a national coordinator and auditor,
// and a few hundred communities. Tokens are never printed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen commands|sync|stats|lag|asof|ready [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	server := fs.String("server", "http://127.0.0.1:8080", "base URL")
	rate := fs.Float64("rate", 200, "requests per second (commands, stats)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send (commands, stats)")
	communities := fs.Int("communities", 400, "communities to spread commands over")
	phones := fs.Int("phones", 4, "phones syncing side by side (sync)")
	batches := fs.Int("batches", 4, "batches of 500 items per phone (sync)")
	samples := fs.Int("samples", 300, "samples (lag)")
	path := fs.String("path", "/v1/stats/completion", "query (stats)")
	at := fs.String("at", "2015-10-12T00:00:00Z", "as-of time (asof)")
	runs := fs.Int("runs", 3, "repetitions (asof)")
	since := fs.Int64("since-ns", 0, "start time in unix nanoseconds (ready)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after (ready)")
	label := fs.String("label", "", "row label prefix")
	slow := fs.Duration("slow", 0, "report the calls slower than this, by when they were due (commands; 0: off)")
	_ = fs.Parse(os.Args[2:])

	g := &gen{base: strings.TrimRight(*server, "/"), admin: os.Getenv("ACTIONLEDGER_ADMIN_TOKEN"),
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2048, MaxIdleConns: 2048}},
		run:    fmt.Sprintf("%x", time.Now().UnixNano())}
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "ready":
		err = g.ready(*since, *timeout)
	case "commands":
		if err = g.setup(ctx, *communities); err == nil {
			err = g.commands(*rate, *duration, *slow, *label)
		}
	case "sync":
		if err = g.setup(ctx, *communities); err == nil {
			err = g.sync(*phones, *batches)
		}
	case "stats":
		if err = g.setup(ctx, 1); err == nil {
			err = g.stats(*rate, *duration, *path)
		}
	case "lag":
		if err = g.setup(ctx, *communities); err == nil {
			err = g.lag(*samples)
		}
	case "asof":
		if err = g.setup(ctx, 1); err == nil {
			err = g.asof(*at, *runs)
		}
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type gen struct {
	base, admin string
	client      *http.Client
	run         string // makes this run's idempotency keys new
	mob, coord  string
	auditor     string
	comms       []string
}

// do sends a request and returns the status and body.
func (g *gen) do(method, path, token, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, g.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// setup makes the users and n communities, idempotently.
func (g *gen) setup(ctx context.Context, n int) error {
	if g.admin == "" {
		return errors.New("set ACTIONLEDGER_ADMIN_TOKEN")
	}
	user := func(key string, body map[string]any) (string, error) {
		status, raw, err := g.do("POST", "/v1/users", g.admin, key, body)
		if err != nil {
			return "", err
		}
		var out struct{ Token string }
		if status != 201 || json.Unmarshal(raw, &out) != nil || out.Token == "" {
			return "", fmt.Errorf("creating a user: %d %s", status, raw)
		}
		return out.Token, nil
	}
	var err error
	if g.mob, err = user("bench/mobilizer", map[string]any{"name": "Bench mobilizer", "role": "mobilizer", "district": "Kenema"}); err != nil {
		return err
	}
	if g.coord, err = user("bench/coordinator", map[string]any{"name": "Bench coordinator", "role": "coordinator"}); err != nil {
		return err
	}
	if g.auditor, err = user("bench/auditor", map[string]any{"name": "Bench auditor", "role": "auditor"}); err != nil {
		return err
	}
	g.comms = make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		id := fmt.Sprintf("BENCH-%04d", i+1)
		g.comms[i] = id
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			status, raw, err := g.do("POST", "/v1/communities", g.admin, "bench/c/"+id, map[string]any{
				"id": id, "name": "Bench " + id, "district": "Kenema", "chiefdom": "Nongowa", "population": 500})
			if err == nil && status/100 != 2 {
				err = fmt.Errorf("registering %s: %d %s", id, status, raw)
			}
			if err == nil {
				status, raw, err = g.do("POST", "/v1/communities/"+id+"/triggering", g.mob, "bench/t/"+id, map[string]any{"attendance": 100})
				if err == nil && status/100 != 2 {
					err = fmt.Errorf("triggering %s: %d %s", id, status, raw)
				}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// openLoop calls fire rate times a second for d and returns the latencies
// of the successes, measured from when each call was due, and the failures.
// With slow > 0 it also reports on stderr the calls that took longer than
// slow, counted by the tenth of a second they were due in: bursts that
// line up with the server's collections (GODEBUG=gctrace=1, see
// scripts/commands-load.sh) or anything else periodic show as such.
func openLoop(rate float64, d, slow time.Duration, fire func(i int) error) (lat []time.Duration, failed int, took time.Duration) {
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	lat = make([]time.Duration, n)
	ok := make([]bool, n)
	var fails atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		wg.Go(func() {
			if err := fire(i); err != nil {
				fails.Add(1)
				return
			}
			lat[i], ok[i] = time.Since(due), true
		})
	}
	wg.Wait()
	took = time.Since(start)
	if slow > 0 {
		reportSlow(start, interval, lat, ok, slow)
	}
	out := lat[:0]
	for i := range lat {
		if ok[i] {
			out = append(out, lat[i])
		}
	}
	return out, int(fails.Load()), took
}

// reportSlow writes to stderr how many calls took longer than slow, and
// when they were due: by tenths of a second since start (a unix time, to
// line up with the server's own clock), with the slowest of each tenth.
func reportSlow(start time.Time, interval time.Duration, lat []time.Duration, ok []bool, slow time.Duration) {
	type tenth struct {
		n   int
		max time.Duration
	}
	var tenths []tenth
	n, done := 0, 0
	for i := range lat {
		if !ok[i] {
			continue
		}
		done++
		if lat[i] <= slow {
			continue
		}
		n++
		t := int(time.Duration(i) * interval / (100 * time.Millisecond))
		for len(tenths) <= t {
			tenths = append(tenths, tenth{})
		}
		tenths[t].n++
		tenths[t].max = max(tenths[t].max, lat[i])
	}
	fmt.Fprintf(os.Stderr, "slower than %s: %d of %d calls; by when they were due, from %.3f (unix seconds):\n", slow, n, done, float64(start.UnixNano())/1e9)
	for t, b := range tenths {
		if b.n > 0 {
			fmt.Fprintf(os.Stderr, "  +%.1fs: %d, slowest %s\n", float64(t)/10, b.n, ms(b.max))
		}
	}
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// visitRoute is the visits route as the server's metrics label it.
const visitRoute = "/v1/communities/{id}/visits"

func (g *gen) commands(rate float64, d, slow time.Duration, label string) error {
	var firstErr atomic.Value
	before, _ := g.serverHistogram(visitRoute, "POST", "201")
	lat, failed, took := openLoop(rate, d, slow, func(i int) error {
		c := g.comms[i%len(g.comms)]
		status, raw, err := g.do("POST", "/v1/communities/"+c+"/visits", g.mob, fmt.Sprintf("bench/%s/v/%d", g.run, i),
			map[string]any{"kind": "follow_up", "trust_rating": 1 + i%5})
		if err == nil && status != 201 {
			err = fmt.Errorf("%d %s", status, raw)
		}
		if err != nil {
			firstErr.CompareAndSwap(nil, err.Error())
		}
		return err
	})
	achieved := float64(len(lat)) / took.Seconds()
	note := ""
	if failed > 0 {
		note = fmt.Sprintf("; %d failed (first: %s)", failed, cell(fmt.Sprint(firstErr.Load())))
	}
	// The server's own histogram times a request from its handler's start
	// to its answer: beside the client's figures, it says how much of the
	// tail is the server's and how much the queue before it and the load
	// generator sharing its cores.
	after, _ := g.serverHistogram(visitRoute, "POST", "201")
	sp99, within, counted := serverP99(before, after, 0.005)
	fmt.Printf("| HTTP commands (visits), %.0f/s offered for %s%s | %.0f/s done; p50 %s, p99 %s%s; in the server (its histogram, %d answered 201) p99 %s, %s within 5 ms | |\n",
		rate, d, label, achieved, ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), note, counted, sp99, within)
	return nil
}

func (g *gen) sync(phones, batches int) error {
	type item struct {
		Key    string         `json:"key"`
		Method string         `json:"method"`
		Path   string         `json:"path"`
		Body   map[string]any `json:"body"`
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, phones)
	start := time.Now()
	for p := range phones {
		wg.Go(func() {
			for b := range batches {
				var req struct {
					Items []item `json:"items"`
				}
				for i := range 500 {
					c := g.comms[(p*7919+b*500+i)%len(g.comms)]
					req.Items = append(req.Items, item{Key: fmt.Sprintf("bench/%s/s/%d/%d/%d", g.run, p, b, i), Method: "POST",
						Path: "/v1/communities/" + c + "/visits", Body: map[string]any{"kind": "follow_up", "trust_rating": 1 + i%5}})
				}
				status, raw, err := g.do("POST", "/v1/sync", g.mob, "", req)
				if err == nil && status != 200 {
					err = fmt.Errorf("%d %s", status, raw)
				}
				if err != nil {
					errs[p] = err
					return
				}
				var out struct{ Results []struct{ Status int } }
				if err := json.Unmarshal(raw, &out); err != nil {
					errs[p] = err
					return
				}
				for _, r := range out.Results {
					if r.Status == 201 {
						total.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Printf("| POST /v1/sync, %d phones × %d batches of 500 visits | %.0f items/s (%d written in %s) | |\n",
		phones, batches, float64(total.Load())/took.Seconds(), total.Load(), took.Round(time.Millisecond))
	return nil
}

// serverHistogram reads the server's own latency histogram of one route,
// method and status code (actionledger_http_request_duration_seconds):
// bucket bound -> count.
func (g *gen) serverHistogram(route, method, code string) (map[float64]float64, error) {
	resp, err := g.client.Get(g.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[float64]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "actionledger_http_request_duration_seconds_bucket{") || !strings.Contains(line, `route="`+route+`"`) ||
			!strings.Contains(line, `code="`+code+`"`) || !strings.Contains(line, `method="`+method+`"`) {
			continue
		}
		i := strings.Index(line, `le="`)
		j := strings.Index(line[i+4:], `"`)
		var le, n float64
		if line[i+4:i+4+j] == "+Inf" {
			le = 1e9
		} else if _, err := fmt.Sscan(line[i+4:i+4+j], &le); err != nil {
			continue
		}
		if _, err := fmt.Sscan(strings.TrimSpace(line[strings.LastIndex(line, " "):]), &n); err != nil {
			continue
		}
		out[le] = n
	}
	return out, nil
}

// serverP99 is the upper bound of the bucket holding the 99th percentile of
// the requests between two scrapes, the share answered within bound
// (seconds; one of the histogram's bucket bounds), and how many there were.
func serverP99(before, after map[float64]float64, bound float64) (p99, within string, n int) {
	bounds := make([]float64, 0, len(after))
	for le := range after {
		bounds = append(bounds, le)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 {
		return "?", "?", 0
	}
	total := after[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]]
	if total <= 0 {
		return "?", "?", 0
	}
	p99 = "?"
	for _, le := range bounds {
		if (after[le]-before[le])/total >= 0.99 {
			p99 = fmt.Sprintf("≤ %g ms", le*1000)
			break
		}
	}
	within = "?"
	if _, ok := after[bound]; ok {
		within = fmt.Sprintf("%.2f%%", 100*(after[bound]-before[bound])/total)
	}
	return p99, within, int(total)
}

func (g *gen) stats(rate float64, d time.Duration, path string) error {
	route, _, _ := strings.Cut(path, "?")
	before, _ := g.serverHistogram(route, "GET", "200")
	lat, failed, took := openLoop(rate, d, 0, func(int) error {
		status, raw, err := g.do("GET", path, g.coord, "", nil)
		if err == nil && status != 200 {
			err = fmt.Errorf("%d %s", status, raw)
		}
		return err
	})
	note := ""
	if failed > 0 {
		note = fmt.Sprintf("; %d failed", failed)
	}
	after, _ := g.serverHistogram(route, "GET", "200")
	sp99, within, _ := serverP99(before, after, 0.002)
	fmt.Printf("| GET %s (national), %.0f/s offered for %s | %.0f/s done; at the client (same cores) p50 %s, p99 %s%s; in the server (its histogram) p99 %s, %s within 2 ms | p99 ≤ 2 ms |\n",
		path, rate, d, float64(len(lat))/took.Seconds(), ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), note, sp99, within)
	return nil
}

// lag writes a visit, then asks for the indicators with min_position set to
// the write's position: the answer comes once the read models reflect it.
func (g *gen) lag(n int) error {
	var lat []time.Duration
	for i := range n {
		c := g.comms[i%len(g.comms)]
		status, raw, err := g.do("POST", "/v1/communities/"+c+"/visits", g.mob, fmt.Sprintf("bench/%s/lag/%d", g.run, i),
			map[string]any{"kind": "follow_up", "trust_rating": 3})
		if err != nil || status != 201 {
			return fmt.Errorf("write: %d %s %v", status, raw, err)
		}
		acked := time.Now()
		var w struct{ Position uint64 }
		if err := json.Unmarshal(raw, &w); err != nil {
			return err
		}
		status, raw, err = g.do("GET", fmt.Sprintf("/v1/stats/completion?community_id=%s&min_position=%d", c, w.Position), g.coord, "", nil)
		if err != nil || status != 200 {
			return fmt.Errorf("read: %d %s %v", status, raw, err)
		}
		lat = append(lat, time.Since(acked))
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("| append → visible lag (write acknowledged → read with min_position answers), %d samples | p50 %s, p99 %s | p99 ≤ 20 ms |\n",
		n, ms(pct(lat, 0.5)), ms(pct(lat, 0.99)))
	return nil
}

func (g *gen) asof(at string, runs int) error {
	// Occurred basis at the given time (the end of the campaign); recorded
	// basis now, which replays the whole log: an imported history was
	// recorded when it was imported.
	now := time.Now().UTC().Format(time.RFC3339)
	for _, basis := range []string{"occurred", "recorded"} {
		at := at
		if basis == "recorded" {
			at = now
		}
		var lat []time.Duration
		for range runs {
			t0 := time.Now()
			status, raw, err := g.do("GET", "/v1/audit/as-of?basis="+basis+"&at="+at, g.auditor, "", nil)
			if err != nil || status != 200 {
				return fmt.Errorf("as-of: %d %.300s %v", status, raw, err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		fmt.Printf("| GET /v1/audit/as-of national, basis=%s at %s, %d runs | %s – %s | ≤ 1 s |\n",
			basis, at, runs, ms(lat[0]), ms(lat[len(lat)-1]))
	}
	return nil
}

func (g *gen) ready(since int64, timeout time.Duration) error {
	start := time.Unix(0, since)
	if since == 0 {
		start = time.Now()
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := g.client.Get(g.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				fmt.Printf("%.0f\n", float64(time.Since(start))/float64(time.Millisecond))
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s", timeout)
}

// cell makes s fit in one markdown table cell: one line, no column
// separator, short (an error's answer body ends with a newline and would
// break the table).
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:160]) + "…"
	}
	return s
}

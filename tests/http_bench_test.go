package tests_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHTTPCommandLatency drives single commands over real HTTP at a
// fixed rate (open loop: requests are sent on schedule whether or not the
// previous ones have answered, as independent phones would) and reports the
// latency percentiles. Each command is a durable write (fsync before the
// answer). Run with -benchtime=1x: every run sends rate×seconds commands.
//
//	go test -run '^$' -bench HTTPCommandLatency -benchtime=1x ./tests/
func BenchmarkHTTPCommandLatency(b *testing.B) {
	for _, rate := range []int{200, 500, 1000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			e := startBench(b)
			const seconds = 4
			n := rate * seconds
			// Spread the writes over many action points, as many phones would.
			const aps = 200
			for i := range aps {
				e.must(http.StatusCreated, req{method: "POST", path: "/v1/action-points", token: "mob", body: map[string]any{
					"id": fmt.Sprintf("AP-%d", i), "community_id": "KEN-1", "title": "t", "category": "hygiene", "kind": "continuous"}})
			}
			lat := make([]time.Duration, n)
			failed := 0
			var mu sync.Mutex
			var wg sync.WaitGroup
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
			b.ResetTimer()
			start := time.Now()
			interval := time.Second / time.Duration(rate)
			for i := range n {
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := []byte(`{"note":"visit"}`)
					req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/v1/action-points/AP-%d/progress", e.base, i%aps), bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+e.tokens["mob"])
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", i))
					t0 := time.Now()
					resp, err := client.Do(req)
					d := time.Since(t0)
					if err == nil {
						resp.Body.Close()
					}
					mu.Lock()
					defer mu.Unlock()
					lat[i] = d
					if err != nil || resp.StatusCode != http.StatusOK {
						failed++
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if failed > 0 {
				b.Fatalf("%d of %d commands failed", failed, n)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[n-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(float64(n)/elapsed.Seconds(), "commands/s")
		})
	}
}

// startBench boots the real wiring for a benchmark, with a community and a
// mobilizer ready.
func startBench(b *testing.B) *env {
	b.Helper()
	e := startIn(b, b.TempDir())
	e.staff()
	e.community("KEN-1")
	return e
}

// BenchmarkHTTPCommand is one command (a visit with an Idempotency-Key,
// durably appended before the answer) through the server's whole handler:
// router, middleware, authentication, decoding, the application's write
// path, the store's fsync and the read models folding the event in behind
// it. allocs/op counts every allocation in the process per command, the
// server's background work included; the client is not in it (the handler
// is called in process). "serial" is one command at a time, so ns/op is
// dominated by the fsync; "parallel" keeps 64 in flight, as phones would,
// and commits them in groups.
//
//	go test -run '^$' -bench 'HTTPCommand$' -benchmem -count 2 ./tests/
func BenchmarkHTTPCommand(b *testing.B) {
	for _, mode := range []string{"serial", "parallel"} {
		b.Run(mode, func(b *testing.B) {
			e := startBench(b)
			const comms = 64
			for i := 2; i <= comms; i++ {
				e.community(fmt.Sprintf("KEN-%d", i))
			}
			h, token := e.main.API(), "Bearer "+e.tokens["mob"]
			var seq atomic.Int64
			send := func(b *testing.B) {
				i := seq.Add(1)
				body := fmt.Sprintf(`{"kind":"follow_up","trust_rating":%d}`, 1+i%5)
				// http.NewRequest, not httptest's: that one allocates a 4 KB
				// reader per request, which is the client's cost, not the server's.
				r, err := http.NewRequest(http.MethodPost, fmt.Sprintf("/v1/communities/KEN-%d/visits", 1+i%comms), strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				r.Header.Set("Authorization", token)
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%s-%d", mode, i))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusCreated {
					b.Errorf("visit answered %d: %s", w.Code, w.Body)
				}
			}
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			if mode == "serial" {
				for b.Loop() {
					send(b)
				}
			} else {
				b.SetParallelism(32) // 64 in flight on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						send(b)
					}
				})
			}
			b.StopTimer()
			// CPU time, unlike ns/op, hardly depends on the disk or on what
			// else runs on the machine.
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

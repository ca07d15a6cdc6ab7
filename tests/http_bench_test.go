package tests_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
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

package tests_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/backlog"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/actionledger/actionledger/services/syncclient"
)

// flakyProxy forwards HTTP/1.1 requests to a server and breaks the
// connection on every nth request, alternately before the server saw the
// request and after it handled it (the client's answer is lost, which is
// the case idempotency keys exist for).
type flakyProxy struct {
	t        *testing.T
	ln       net.Listener
	backend  *url.URL
	every    int
	requests atomic.Int64
	before   atomic.Int64 // dropped before forwarding
	after    atomic.Int64 // dropped after the server answered
	wg       sync.WaitGroup
	tr       *http.Transport
	mu       sync.Mutex
	conns    map[net.Conn]bool
	closed   bool
}

func newFlakyProxy(t *testing.T, backend string, every int) *flakyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{t: t, ln: ln, backend: u, every: every, tr: &http.Transport{}, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		// Clients keep idle connections open; end them rather than wait.
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
		p.tr.CloseIdleConnections()
	})
	return p
}

func (p *flakyProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *flakyProxy) serve() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = conn.Close()
			return
		}
		p.conns[conn] = true
		p.mu.Unlock()
		p.wg.Go(func() { p.conn(conn) })
	}
}

// conn serves one client connection, request by request (keep-alive).
func (p *flakyProxy) conn(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		n := p.requests.Add(1)
		drop := n%int64(p.every) == 0
		if drop && (n/int64(p.every))%2 == 1 {
			p.before.Add(1)
			return // the server never sees it
		}
		req.URL.Scheme, req.URL.Host, req.RequestURI = p.backend.Scheme, p.backend.Host, ""
		resp, err := p.tr.RoundTrip(req)
		if err != nil {
			return
		}
		var body bytes.Buffer
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			return
		}
		if drop {
			p.after.Add(1)
			return // handled, but the client hears nothing
		}
		resp.Body = nopCloser{&body}
		resp.ContentLength = int64(body.Len())
		resp.TransferEncoding = nil
		if err := resp.Write(c); err != nil {
			return
		}
	}
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

// phoneBacklog is what a Kenema mobilizer's phone queued over some weeks in
// the communities given: triggering sessions, weekly visits, action points
// and their steps, referrals and feedback. It returns the items and the
// counts the indicators must show once they are all in.
type phoneCounts struct {
	apByStatus     map[string]int
	referrals      int
	feedback       int
	visits         int
	communities    int
	itemsPerRecord map[string]int
}

func phoneBacklog(communities []string, n int, seed uint64) ([]backlog.Item, phoneCounts) {
	r := rand.New(rand.NewPCG(seed, 42))
	start := time.Now().UTC().Add(-60 * 24 * time.Hour).Truncate(time.Minute)
	var items []backlog.Item
	counts := phoneCounts{apByStatus: map[string]int{}}
	type ap struct {
		id     string
		status string
		rev    int
	}
	aps := map[string][]*ap{}
	at := start
	add := func(path string, ifMatch string, body map[string]any) {
		at = at.Add(time.Duration(5+r.IntN(120)) * time.Minute)
		body["occurred_at"] = at.Format(time.RFC3339)
		raw, _ := json.Marshal(body)
		items = append(items, backlog.Item{Key: fmt.Sprintf("phone-%04d", len(items)+1), Method: "POST", Path: path, IfMatch: ifMatch, Body: raw})
	}
	for _, c := range communities {
		add("/v1/communities/"+c+"/triggering", "", map[string]any{"attendance": 50 + r.IntN(200)})
		counts.communities++
	}
	for len(items) < n {
		c := communities[r.IntN(len(communities))]
		switch x := r.IntN(100); {
		case x < 40:
			add("/v1/communities/"+c+"/visits", "", map[string]any{"kind": "follow_up", "trust_rating": 1 + r.IntN(5)})
			counts.visits++
		case x < 55:
			id := fmt.Sprintf("%s-AP%d", c, len(aps[c])+1)
			add("/v1/action-points", "", map[string]any{"id": id, "community_id": c, "title": "Chlorine buckets", "category": "hygiene", "kind": "continuous"})
			aps[c] = append(aps[c], &ap{id: id, status: "open", rev: 1})
		case x < 80:
			list := aps[c]
			if len(list) == 0 {
				continue
			}
			a := list[r.IntN(len(list))]
			var step, next string
			body := map[string]any{}
			switch a.status {
			case "open":
				step, next = "start", "in_progress"
			case "in_progress":
				if r.IntN(4) == 0 {
					step, next = "achieve", "achieved"
				} else if r.IntN(6) == 0 {
					step, next, body["reason"] = "drop", "dropped", "Moved away"
				} else {
					step, next, body["note"] = "progress", "in_progress", "Going well"
				}
			default:
				step, next, body["reason"] = "reopen", "in_progress", "Needed again"
			}
			add("/v1/action-points/"+a.id+"/"+step, fmt.Sprintf(`"%d"`, a.rev), body)
			a.status = next
			a.rev++
		case x < 90:
			add("/v1/referrals", "", map[string]any{"id": fmt.Sprintf("%s-R%d", c, len(items)), "community_id": c, "kind": "death_alert", "channel": "mobilizer"})
			counts.referrals++
		default:
			add("/v1/feedback", "", map[string]any{"id": fmt.Sprintf("%s-F%d", c, len(items)), "community_id": c, "type": "rumour", "text": "They say the chlorine spreads it"})
			counts.feedback++
		}
	}
	for _, list := range aps {
		for _, a := range list {
			counts.apByStatus[a.status]++
		}
	}
	return items, counts
}

// TestWeakLink syncs 1,000 reports from a phone through a link that drops
// every 50th request — half of them before the server sees the request,
// half after it has handled it — and checks that every report is stored
// exactly once and the indicators count each once.
func TestWeakLink(t *testing.T) {
	if testing.Short() {
		t.Skip("syncs a thousand durable writes")
	}
	e := start(t)
	e.staff()
	comms := []string{"KEN-W1", "KEN-W2", "KEN-W3", "KEN-W4"}
	for _, c := range comms {
		e.must(http.StatusCreated, req{method: "POST", path: "/v1/communities", token: "coord",
			body: map[string]any{"id": c, "name": "Village " + c, "district": "Kenema", "chiefdom": "Nongowa", "population": 500,
				"occurred_at": rfc(time.Now().AddDate(-1, 0, 0))}})
	}
	items, want := phoneBacklog(comms, 1000, 1)
	var file bytes.Buffer
	w := backlog.NewWriter(&file)
	for _, it := range items {
		if err := w.Item(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	proxy := newFlakyProxy(t, e.base, 50)
	client, err := syncclient.New(syncclient.Config{BaseURL: proxy.URL(), Token: e.tokens["mob"], BatchSize: 5,
		RetryWait: 5 * time.Millisecond, MaxRetryWait: 50 * time.Millisecond, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := client.SyncFile(context.Background(), bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if proxy.before.Load() == 0 || proxy.after.Load() == 0 {
		t.Fatalf("the proxy dropped %d requests before and %d after the server; the test proves little", proxy.before.Load(), proxy.after.Load())
	}
	if sum.Refused != 0 || sum.Written+sum.AlreadyThere != len(items) {
		for _, r := range sum.Results {
			if r.Outcome == syncclient.Refused {
				t.Errorf("line %d %s %s: %d %s %s", r.Line, r.Method, r.Path, r.Status, r.Code, r.Detail)
			}
		}
		t.Fatalf("summary: %d written, %d already there, %d refused of %d", sum.Written, sum.AlreadyThere, sum.Refused, len(items))
	}
	// Items answered "already there" are those of batches whose first
	// answer was lost after the server handled them.
	if sum.AlreadyThere != sum.ConfirmedOnRetry || sum.Retries == 0 {
		t.Errorf("%d already there, %d of them on a resend, %d resends", sum.AlreadyThere, sum.ConfirmedOnRetry, sum.Retries)
	}

	// The indicators count every report once.
	head := e.head()
	q := fmt.Sprintf("?min_position=%d", head)
	var comp struct{ Total, Open, InProgress, Achieved, Dropped int }
	var compRaw struct {
		Total      int `json:"total"`
		Open       int `json:"open"`
		InProgress int `json:"in_progress"`
		Achieved   int `json:"achieved"`
		Dropped    int `json:"dropped"`
	}
	mustDecode(t, e.must(http.StatusOK, req{method: "GET", path: "/v1/stats/completion" + q + "&district=Kenema", token: "coord"}).raw, &compRaw)
	comp = struct{ Total, Open, InProgress, Achieved, Dropped int }(compRaw)
	apTotal := 0
	for _, n := range want.apByStatus {
		apTotal += n
	}
	if comp.Total != apTotal || comp.Open != want.apByStatus["open"] || comp.InProgress != want.apByStatus["in_progress"] ||
		comp.Achieved != want.apByStatus["achieved"] || comp.Dropped != want.apByStatus["dropped"] {
		t.Errorf("completion %+v, want %d in all, %v", comp, apTotal, want.apByStatus)
	}
	var refs struct {
		Total int `json:"total"`
	}
	mustDecode(t, e.must(http.StatusOK, req{method: "GET", path: "/v1/stats/referrals" + q, token: "coord"}).raw, &refs)
	if refs.Total != want.referrals {
		t.Errorf("referrals %d, want %d", refs.Total, want.referrals)
	}
	var fb struct {
		Received int `json:"received"`
	}
	mustDecode(t, e.must(http.StatusOK, req{method: "GET", path: "/v1/stats/feedback" + q, token: "coord"}).raw, &fb)
	if fb.Received != want.feedback {
		t.Errorf("feedback received %d, want %d", fb.Received, want.feedback)
	}

	// The store holds each report exactly once.
	e.stop()
	store, err := boltstore.Open(filepath.Join(e.dataDir, "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	count := map[string]int{}
	var after uint64
	for {
		page, err := store.ReadAll(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if ev.Meta.IdempotencyKey != "" {
				count[ev.Meta.IdempotencyKey]++
			}
		}
		after = page[len(page)-1].Position
	}
	for _, it := range items {
		if count[it.Key] != 1 {
			t.Errorf("report %s (%s) stored %d times", it.Key, it.Path, count[it.Key])
		}
	}
	if len(count) != len(items) {
		t.Errorf("%d keys stored, %d reports sent", len(count), len(items))
	}
	t.Logf("%d requests through the proxy, %d dropped before the server, %d after; %d batches, %d resent; %d visits, %d referrals, %d feedback, action points %v",
		proxy.requests.Load(), proxy.before.Load(), proxy.after.Load(), sum.Batches, sum.Retries, want.visits, want.referrals, want.feedback, want.apByStatus)
}

func mustDecode(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
}

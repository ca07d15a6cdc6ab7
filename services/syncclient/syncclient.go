// Package syncclient sends a backlog (services/backlog) to an actionledger
// server through POST /v1/sync, as a phone coming back online does: in
// batches of at most 500 items, in order, resending a batch whose answer was
// lost in transit. Every item carries its idempotency key, so a resent batch
// writes nothing twice: the server answers the items it already has as
// replays.
//
// A phone's own backlog (items without "as") is sent with the one token it
// is given. A file that declares its users (a national history) is sent
// with the admin's token: the client first creates each user under the
// user's own idempotency key, which answers the same token every time, and
// then sends each user's items with that user's token. Tokens live in memory
// only and are never written anywhere, logs included.
package syncclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionledger/actionledger/services/backlog"
)

// MaxBatch is the most items the server takes in one batch.
const MaxBatch = 500

// Config tunes a Client.
type Config struct {
	// BaseURL of the server, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Token is the bearer token items are sent with; for a file that
	// declares users, the admin's.
	Token string
	// HTTPClient defaults to one with a 2-minute timeout.
	HTTPClient *http.Client
	// BatchSize is the items per batch (default and at most MaxBatch).
	BatchSize int
	// NoGzip sends batches uncompressed.
	NoGzip bool
	// Parallel is how many communities' items are sent side by side (default
	// 1: the file's order exactly). Items keep their order within a
	// community, which is the order that matters; an item that names no
	// community waits for everything before it.
	Parallel int
	// Attempts bounds the tries of one batch (default 10), with exponential
	// backoff from RetryWait (default 250ms) up to MaxRetryWait (default
	// 15s), with jitter.
	Attempts     int
	RetryWait    time.Duration
	MaxRetryWait time.Duration
	// Progress, when set, is called after every batch.
	Progress func(Progress)
}

// Progress is where a sync stands.
type Progress struct {
	Done, Total int
	Batches     int
	Retries     int
	Elapsed     time.Duration
}

// Outcomes of an item.
const (
	Written      = "written"       // the server wrote it now
	AlreadyThere = "already_there" // the server had it (same key, same request) and wrote nothing
	Refused      = "refused"       // the server refused it; Code and Detail say why
)

// ItemResult is what became of one item.
type ItemResult struct {
	Line   int    `json:"line"`
	As     string `json:"as,omitempty"`
	Key    string `json:"key"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	// Outcome is Written, AlreadyThere or Refused.
	Outcome string `json:"outcome"`
	// Retried is true when the batch was sent again after its answer was
	// lost: an item "already there" then was most likely written by the
	// lost attempt.
	Retried bool   `json:"retried,omitempty"`
	Code    string `json:"code,omitempty"`
	Field   string `json:"field,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// Body is the server's answer for the item.
	Body json.RawMessage `json:"body,omitempty"`
}

// Summary is what a sync did.
type Summary struct {
	Items, Written, AlreadyThere, Refused int
	// ConfirmedOnRetry counts items answered "already there" in a batch
	// resent after a lost answer.
	ConfirmedOnRetry int
	RefusedBy        map[string]int
	Users            int
	Batches, Retries int
	Took             time.Duration
	Results          []ItemResult // in file order
}

// ErrItemsRefused is matched by Summary.Err when the server refused at least
// one item: the backlog did not all get through, and a script or an operator
// running sync must see that as a failure, not a success with small print.
var ErrItemsRefused = errors.New("items refused")

// Err is nil when no item was refused, else an ErrItemsRefused naming how
// many were and why (their codes). Refused items are not remembered by the
// server: fixed and sent again, they are tried again; written ones are not
// written twice (same keys).
func (s Summary) Err() error {
	if s.Refused == 0 {
		return nil
	}
	codes := make([]string, 0, len(s.RefusedBy))
	for c, n := range s.RefusedBy {
		codes = append(codes, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(codes)
	return fmt.Errorf("%w: %d of %d items were refused (%s)", ErrItemsRefused, s.Refused, s.Items, strings.Join(codes, ", "))
}

// Client syncs backlogs.
type Client struct {
	cfg Config
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("syncclient: no server URL")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 2 * time.Minute}
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > MaxBatch {
		cfg.BatchSize = MaxBatch
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 10
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 250 * time.Millisecond
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 15 * time.Second
	}
	return &Client{cfg: cfg}, nil
}

// entry is an item and its line.
type entry struct {
	line int
	item backlog.Item
}

// SyncFile reads a backlog from r and sends it.
func (c *Client) SyncFile(ctx context.Context, r io.Reader) (Summary, error) {
	start := time.Now()
	br := backlog.NewReader(r)
	var items []entry
	for {
		it, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Summary{}, err
		}
		items = append(items, entry{line: br.Line(), item: it})
	}
	sum := Summary{Items: len(items), RefusedBy: map[string]int{}, Results: make([]ItemResult, len(items))}
	tokens := map[string]string{}
	if len(br.Order) > 0 {
		var err error
		if tokens, err = c.users(ctx, br); err != nil {
			return sum, err
		}
		sum.Users = len(br.Order)
	}
	// An item without "as" is the token holder's own (the reader has
	// checked that every "as" names a declared user).
	tokens[""] = c.cfg.Token
	run := &run{c: c, tokens: tokens, items: items, sum: &sum, start: start}
	if err := run.all(ctx); err != nil {
		sum.Took = time.Since(start)
		return sum, err
	}
	for _, res := range sum.Results {
		switch res.Outcome {
		case Written:
			sum.Written++
		case AlreadyThere:
			sum.AlreadyThere++
			if res.Retried {
				sum.ConfirmedOnRetry++
			}
		case Refused:
			sum.Refused++
			sum.RefusedBy[res.Code]++
		}
	}
	sum.Took = time.Since(start)
	return sum, nil
}

// users creates the file's users as the admin and returns their tokens.
func (c *Client) users(ctx context.Context, br *backlog.Reader) (map[string]string, error) {
	tokens := make(map[string]string, len(br.Order))
	for _, ref := range br.Order {
		u := br.Users[ref]
		var out struct {
			Token string `json:"token"`
		}
		var retries atomic.Int64
		status, body, _, err := c.retry(ctx, &retries, func() (int, []byte, error) {
			return c.post(ctx, "/v1/users", c.cfg.Token, u.Key(), u.Body(), false)
		}, func(int, []byte) bool { return true })
		if err != nil {
			return nil, fmt.Errorf("creating user %q: %w", ref, err)
		}
		if status != http.StatusCreated {
			return nil, fmt.Errorf("creating user %q: the server answered %d %s (a file that declares users is sent with the admin's token)", ref, status, problemText(body))
		}
		if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
			return nil, fmt.Errorf("creating user %q: no token in the answer", ref)
		}
		tokens[ref] = out.Token
	}
	return tokens, nil
}

type run struct {
	c      *Client
	tokens map[string]string
	items  []entry
	sum    *Summary
	start  time.Time

	mu      sync.Mutex
	done    int
	batches atomic.Int64
	retries atomic.Int64
}

// all sends every item: in file order with Parallel 1, else community by
// community on Parallel lanes, with barriers at items that name none.
func (r *run) all(ctx context.Context) error {
	if r.c.cfg.Parallel <= 1 {
		idx := make([]int, len(r.items))
		for i := range idx {
			idx[i] = i
		}
		return r.lane(ctx, idx)
	}
	part := backlog.NewPartitioner()
	lanes := make([][]int, r.c.cfg.Parallel)
	laneOf := map[string]int{}
	flush := func() error {
		var wg sync.WaitGroup
		errs := make([]error, len(lanes))
		for l := range lanes {
			if len(lanes[l]) == 0 {
				continue
			}
			wg.Go(func() { errs[l] = r.lane(ctx, lanes[l]) })
		}
		wg.Wait()
		for l := range lanes {
			lanes[l] = nil
		}
		return errors.Join(errs...)
	}
	for i, e := range r.items {
		comm := part.Community(e.item)
		if comm == "" {
			if err := flush(); err != nil {
				return err
			}
			if err := r.lane(ctx, []int{i}); err != nil {
				return err
			}
			continue
		}
		l, ok := laneOf[comm]
		if !ok {
			l = len(laneOf) % len(lanes)
			laneOf[comm] = l
		}
		lanes[l] = append(lanes[l], i)
	}
	return flush()
}

// lane sends the items idx in order, in batches of consecutive items of one
// user.
func (r *run) lane(ctx context.Context, idx []int) error {
	for len(idx) > 0 {
		as := r.items[idx[0]].item.As
		n := 1
		for n < len(idx) && n < r.c.cfg.BatchSize && r.items[idx[n]].item.As == as {
			n++
		}
		if err := r.batch(ctx, as, idx[:n]); err != nil {
			return err
		}
		idx = idx[n:]
	}
	return nil
}

// wireItem is an item as POST /v1/sync takes it.
type wireItem struct {
	Key     string          `json:"key"`
	Method  string          `json:"method"`
	Path    string          `json:"path"`
	IfMatch string          `json:"if_match,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
}

type wireResult struct {
	Key      string          `json:"key"`
	Status   int             `json:"status"`
	Body     json.RawMessage `json:"body"`
	Replayed bool            `json:"replayed"`
}

// batch sends one batch until it gets an answer, and records its results.
func (r *run) batch(ctx context.Context, as string, idx []int) error {
	var req struct {
		Items []wireItem `json:"items"`
	}
	for _, i := range idx {
		it := r.items[i].item
		req.Items = append(req.Items, wireItem{Key: it.Key, Method: it.Method, Path: it.Path, IfMatch: it.IfMatch, Body: it.Body})
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return err
	}
	results, retried, err := r.c.send(ctx, r.tokens[as], raw, len(idx), &r.retries)
	if err != nil {
		first := r.items[idx[0]]
		return fmt.Errorf("batch from line %d (%d items): %w", first.line, len(idx), err)
	}
	r.batches.Add(1)
	for k, i := range idx {
		e := r.items[i]
		res := results[k]
		out := ItemResult{Line: e.line, As: e.item.As, Key: e.item.Key, Method: e.item.Method, Path: e.item.Path,
			Status: res.Status, Body: res.Body, Retried: retried}
		switch {
		case res.Status/100 == 2 && res.Replayed:
			out.Outcome = AlreadyThere
		case res.Status/100 == 2:
			out.Outcome = Written
		default:
			out.Outcome = Refused
			var p struct{ Code, Field, Detail string }
			_ = json.Unmarshal(res.Body, &p)
			out.Code, out.Field, out.Detail = p.Code, p.Field, p.Detail
			if out.Code == "" {
				out.Code = strconv.Itoa(res.Status)
			}
		}
		r.sum.Results[i] = out
	}
	r.mu.Lock()
	r.done += len(idx)
	p := Progress{Done: r.done, Total: len(r.items), Batches: int(r.batches.Load()), Retries: int(r.retries.Load()), Elapsed: time.Since(r.start)}
	r.sum.Batches, r.sum.Retries = p.Batches, p.Retries
	if r.c.cfg.Progress != nil {
		r.c.cfg.Progress(p)
	}
	r.mu.Unlock()
	return nil
}

// ErrBatchRefused is a batch the server refused as a whole (a malformed
// batch, a bad token): resending it cannot help.
var ErrBatchRefused = errors.New("the server refused the batch")

// send posts a batch until it is answered. It reports whether any attempt
// before the answer may have reached the server.
func (c *Client) send(ctx context.Context, token string, batch []byte, n int, retries *atomic.Int64) ([]wireResult, bool, error) {
	var out struct {
		Results []wireResult `json:"results"`
	}
	status, body, retried, err := c.retry(ctx, retries, func() (int, []byte, error) {
		return c.post(ctx, "/v1/sync", token, "", batch, !c.cfg.NoGzip)
	}, func(status int, body []byte) bool {
		// A truncated or mangled answer is an answer lost.
		out.Results = nil
		return status != http.StatusOK || json.Unmarshal(body, &out) == nil && len(out.Results) == n
	})
	switch {
	case err != nil:
		return nil, retried, err
	case status != http.StatusOK:
		return nil, retried, fmt.Errorf("%w: %d %s", ErrBatchRefused, status, problemText(body))
	}
	return out.Results, retried, nil
}

// retry runs do until it gets an answer that is final: a transport error,
// a gateway error, a 503 or 429, or an answer complete says is not whole,
// is tried again with exponential backoff and jitter; anything else is
// returned, whatever its status. retried says whether an earlier attempt
// may have reached the server.
func (c *Client) retry(ctx context.Context, retries *atomic.Int64, do func() (int, []byte, error), complete func(int, []byte) bool) (int, []byte, bool, error) {
	wait := c.cfg.RetryWait
	retried := false
	var last error
	for attempt := 1; attempt <= c.cfg.Attempts; attempt++ {
		if attempt > 1 {
			retried = true
			retries.Add(1)
			// Jitter: phones that lost the same tower do not come back in
			// step.
			d := time.Duration(rand.Int64N(int64(wait)) + int64(wait)/2)
			select {
			case <-ctx.Done():
				return 0, nil, retried, ctx.Err()
			case <-time.After(d):
			}
			wait = min(2*wait, c.cfg.MaxRetryWait)
		}
		status, body, err := do()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return 0, nil, retried, ctx.Err()
			}
			last = err
		case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests ||
			status == http.StatusBadGateway || status == http.StatusGatewayTimeout || status == http.StatusRequestTimeout:
			last = fmt.Errorf("the server answered %d %s", status, problemText(body))
		case !complete(status, body):
			last = fmt.Errorf("unreadable answer (%d bytes)", len(body))
		default:
			return status, body, retried, nil
		}
	}
	return 0, nil, retried, fmt.Errorf("no answer after %d attempts: %w", c.cfg.Attempts, last)
}

// post sends one request and reads the whole answer.
func (c *Client) post(ctx context.Context, path, token, key string, body []byte, compress bool) (int, []byte, error) {
	payload := body
	if compress {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return 0, nil, err
		}
		if err := zw.Close(); err != nil {
			return 0, nil, err
		}
		payload = buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if compress {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, out, nil
}

// problemText renders a problem answer briefly, for an error message.
func problemText(body []byte) string {
	var p struct{ Code, Field, Detail string }
	if json.Unmarshal(body, &p) != nil || p.Code == "" {
		if len(body) > 200 {
			body = body[:200]
		}
		return strings.TrimSpace(string(body))
	}
	s := p.Code
	if p.Field != "" {
		s += " (" + p.Field + ")"
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

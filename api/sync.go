package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"go.uber.org/zap"
)

// Offline sync (PRODUCT.md "Offline sync"): POST /v1/sync replays a phone's
// queued writes in one call. Each item is dispatched as an internal request
// through this server's own router, so it meets exactly the route, the
// middleware, the body decoding, the validation and the command handler it
// would meet alone; there is no second implementation of any command here,
// only the envelope around them.

// MaxSyncItems is the most items one batch may carry.
const MaxSyncItems = 500

// maxSyncBody bounds a batch, after decompression. 500 items of a typical
// 1 KiB leave plenty of room; a phone with more sends several batches. Each
// item's own body is still held to maxBody by its route.
const maxSyncBody = 16 << 20

// syncRoute is the path of the batch route, which an item may not name.
const syncRoute = "/v1/sync"

// What one batch may cost, whatever it holds. A write answers about 100
// bytes ({id, revision, position}) and a refusal well under 1 KiB, so these
// bounds never touch a real phone's batch; they stop a batch from being
// turned into a way to hold the server's memory or a connection.
const (
	// DefaultSyncDeadline is how long one batch may run, all items
	// together (a batch of 500 writes takes well under a second): well
	// inside the server's write timeout (5 minutes), so the answer always
	// gets out, with the items not reached marked for a resend.
	DefaultSyncDeadline = 60 * time.Second
	// maxSyncItemAnswer bounds what one item's answer may hold.
	maxSyncItemAnswer = 64 << 10
	// maxSyncAnswer bounds the answers of a batch together.
	maxSyncAnswer = 4 << 20
)

// codeSyncNotRun: an item of a well-formed batch was not run because the
// batch used up its time or answer budget; sending it again is safe.
const codeSyncNotRun domain.Code = "sync_item_not_run"

func (s *Server) mountSync(v1 v1Routes) {
	v1.handle(http.MethodPost, "/sync", s.sync)
}

// syncRequest is the batch as sent. Items are decoded one by one so that an
// error names the item (items[3].key).
type syncRequest struct {
	Items []json.RawMessage `json:"items"`
	// OccurredAt is when the phone assembled the batch, by its own clock. It
	// changes nothing about the items (each carries its own field time); the
	// answer reports how far the phone's clock is off, the usual reason for
	// items refused as "in the future".
	OccurredAt *string `json:"occurred_at"`
}

// SyncItem is one queued write of a batch.
type SyncItem struct {
	Key     string          `json:"key"`
	Method  string          `json:"method"`
	Path    string          `json:"path"`
	IfMatch string          `json:"if_match,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
}

// SyncResult is what the route answered one item.
type SyncResult struct {
	Key    string `json:"key"`
	Status int    `json:"status"`
	// Body is the route's own answer: {id, revision, position} for a write,
	// a problem for a refusal.
	Body json.RawMessage `json:"body"`
	// ETag is the route's ETag header, when it sent one.
	ETag string `json:"etag,omitempty"`
	// Replayed is true when the route answered from an earlier request with
	// the same key (its Idempotent-Replayed header): nothing was written.
	Replayed bool `json:"replayed,omitempty"`
}

// SyncResponse is the answer to a well-formed batch.
type SyncResponse struct {
	Results []SyncResult `json:"results"`
	// ClockSkewSeconds is the phone's clock (occurred_at of the batch) minus
	// the server's, when the batch said what its clock read.
	ClockSkewSeconds *float64 `json:"clock_skew_seconds,omitempty"`
}

// sync handles POST /v1/sync.
func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The batch is read before the role is checked, as every write route
	// reads its body before its handler checks the role.
	items, skew, err := readSyncBatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := app.RequireRole(actorFrom(r.Context()), "sync; mobilizers and coordinators may", domain.RoleMobilizer, domain.RoleCoordinator); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Items run on a context of their own: the outer request's carries its
	// request id and actor, and an item must be instrumented, authenticated
	// and logged as a request in its own right. It still ends with the
	// outer request, so a client that hangs up stops the batch (every item
	// is idempotent; the client resends).
	// One deadline covers the whole batch: items share it rather than
	// each getting its own wait. It is checked before each item, not
	// imposed on one under way: a write cut in the middle would answer an
	// error though it may have landed, where an item not started is simply
	// not run. The margin to the server's write timeout (5 minutes) covers
	// the item under way.
	deadline := start.Add(s.syncDeadline)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(r.Context(), cancel)()
	// The batch's refused items are kept in one write at its end.
	refusals := &refusalSink{}
	ctx = context.WithValue(ctx, keyRefusals, refusals)
	defer func() { s.keepRefusals(ctx, refusals.rs) }()

	outerID := requestID(r.Context())
	corr := correlationID(r)
	res := SyncResponse{Results: make([]SyncResult, 0, len(items)), ClockSkewSeconds: skew}
	var written, replayed, refused, notRun, answered int
	for i, it := range items {
		if r.Context().Err() != nil {
			s.log.Info("sync stopped: the client went away", zap.String("request_id", outerID), zap.Int("done", i), zap.Int("items", len(items)))
			return
		}
		var out SyncResult
		switch {
		case it.Method != http.MethodPost:
			// Sync replays queued writes; a read in a batch would make
			// the batch's answer as large as the reads asked for.
			out = syncProblem(it, domain.FieldError("items["+strconv.Itoa(i)+"].method",
				"is %s; a sync batch replays writes (POST) only: read with the route itself", it.Method))
			// Never dispatched, so no route kept it: the batch does.
			refusals.rs = append(refusals.rs, app.Refusal{UserID: actorFrom(r.Context()).ID, At: s.app.Activity.Clock().UTC(), Status: out.Status})
		case time.Now().After(deadline):
			out = syncProblem(it, domain.Errorf(codeSyncNotRun, "not run: the batch reached its %s deadline; send this item again", s.syncDeadline))
		case answered > maxSyncAnswer:
			out = syncProblem(it, domain.Errorf(codeSyncNotRun, "not run: the batch's answers reached %d bytes; send this item again", maxSyncAnswer))
		default:
			out = s.dispatch(ctx, r, it, itemRequestID(outerID, i), corr)
		}
		switch {
		case domain.Code(problemCode(out)) == codeSyncNotRun:
			notRun++
		case out.Status/100 != 2:
			refused++
		case out.Replayed:
			replayed++
		default:
			written++
		}
		answered += len(out.Body) + len(out.Key) + len(out.ETag) + 64
		res.Results = append(res.Results, out)
	}
	// One line per batch, beside the one per item: counts only, never keys,
	// paths or bodies.
	s.log.Info("sync batch", zap.String("request_id", outerID), zap.String("actor_id", actorFrom(r.Context()).ID),
		zap.Int("items", len(items)), zap.Int("written", written), zap.Int("replayed", replayed),
		zap.Int("refused", refused), zap.Int("not_run", notRun), zap.Duration("took", time.Since(start)))
	if len(items) > 0 && replayed == len(items) {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, res)
}

// executed is what a route answered one in-process write.
type executed struct {
	Status int
	// Body is the route's own answer: {id, revision, position} for a write,
	// a problem for a refusal.
	Body []byte
	// ETag is the route's ETag header, when it sent one.
	ETag string
	// Replayed is true when the route answered from an earlier request with
	// the same key (its Idempotent-Replayed header): nothing was written.
	Replayed bool
}

// Execute runs one write as actor through the very route its path names,
// in process: the same body checks, handlers, answers and logs as the
// request over HTTP, with its Idempotency-Key and If-Match. It is how a
// sync batch runs its items and how the importer loads a history, so that
// neither holds a second copy of any route.
func (s *Server) Execute(ctx context.Context, actor app.Actor, method, path, key, ifMatch string, body []byte) (status int, answer []byte, replayed bool) {
	out := s.execute(ctx, actor, nil, SyncItem{Key: key, Method: method, Path: path, IfMatch: ifMatch, Body: body}, "", "")
	return out.Status, out.Body, out.Replayed
}

// tokenHash is the hash of the token the actor signed in with (nil: none,
// an in-process tool): the route refuses the write if it no longer works.
func (s *Server) execute(ctx context.Context, actor app.Actor, tokenHash []byte, it SyncItem, reqID, corr string) executed {
	u, err := url.Parse(it.Path)
	if err != nil || u.Scheme != "" || u.Host != "" || path.Clean(u.Path) == syncRoute {
		// readSyncBatch refuses these with the field named; Execute's other
		// callers get the router's own answer for a path it has no write for.
		u = &url.URL{Path: "/v1/not-a-write-route"}
	}
	req := (&http.Request{
		Method:     it.Method,
		URL:        u,
		RequestURI: u.RequestURI(),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        make(http.Header, 5), // the most set below: no map growth
		Body:          io.NopCloser(bytes.NewReader(it.Body)),
		ContentLength: int64(len(it.Body)),
	}).WithContext(context.WithValue(ctx, keyTrusted, trusted{actor: actor, tokenHash: tokenHash}))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", it.Key)
	if it.IfMatch != "" {
		req.Header.Set("If-Match", it.IfMatch)
	}
	if reqID != "" {
		req.Header.Set("X-Request-ID", reqID)
	}
	if corr != "" {
		req.Header.Set("X-Correlation-ID", corr)
	}

	rec := newItemRecorder()
	defer rec.release()
	s.router.ServeHTTP(rec, req)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if rec.overflow {
		// No write answers this much; the route's answer is dropped
		// rather than held.
		p := problemFor(domain.Errorf(domain.CodeInternal, "answer larger than %d bytes", maxSyncItemAnswer), u.Path)
		s.log.Error("sync item answer too large", zap.String("request_id", reqID), zap.Int("status", status))
		body, _ := json.Marshal(p)
		return executed{Status: p.Status, Body: body}
	}
	// The answer is copied out: the recorder goes back to its pool.
	return executed{Status: status, Body: bytes.Clone(bytes.TrimSpace(rec.body.Bytes())), ETag: rec.header.Get("ETag"),
		Replayed: rec.header.Get("Idempotent-Replayed") == "true"}
}

// syncProblem answers an item that was not dispatched with err as the
// problem its route would have sent.
func syncProblem(it SyncItem, err error) SyncResult {
	instance, _, _ := strings.Cut(it.Path, "?")
	p := problemFor(err, instance)
	body, _ := json.Marshal(p)
	return SyncResult{Key: it.Key, Status: p.Status, Body: body}
}

// problemCode is the code of a problem answer, "" for anything else.
func problemCode(r SyncResult) string {
	if r.Status < 400 {
		return ""
	}
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
}

// dispatch runs one item of a batch as the batch's own actor, already
// authenticated, and records what the route answered.
func (s *Server) dispatch(ctx context.Context, outer *http.Request, it SyncItem, reqID, corr string) SyncResult {
	hash := tokenHashFrom(outer.Context())
	out := s.execute(ctx, actorFrom(outer.Context()), hash, it, reqID, corr)
	body := out.Body
	if !json.Valid(body) {
		// Every route answers JSON; anything else is kept as a string
		// rather than breaking the whole answer.
		body, _ = json.Marshal(string(body))
	}
	return SyncResult{Key: it.Key, Status: out.Status, Body: body, ETag: out.ETag, Replayed: out.Replayed}
}

// itemRequestID gives item i the batch's request id with its index, so the
// item's log line and its events' causation id lead back to the batch.
func itemRequestID(outer string, i int) string {
	id := outer + "." + strconv.Itoa(i)
	if outer == "" || len(id) > 64 {
		return "" // the middleware makes one
	}
	return id
}

// readSyncBatch reads, decompresses and checks a batch. Every error names
// the field at fault; a batch it returns is well-formed, whatever its items
// will answer.
func readSyncBatch(r *http.Request) ([]SyncItem, *float64, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || strings.HasPrefix(mt, "multipart/") || strings.HasSuffix(mt, "xml") {
			return nil, nil, domain.Errorf(codeUnsupportedMedia, "send the batch as application/json")
		}
	}
	raw, err := readSyncBody(r)
	if err != nil {
		return nil, nil, err
	}
	var batch syncRequest
	if err := decodeJSON(raw, &batch); err != nil {
		return nil, nil, err
	}
	var skew *float64
	if batch.OccurredAt != nil {
		t, err := parseTime("occurred_at", batch.OccurredAt)
		if err != nil {
			return nil, nil, err
		}
		if !t.IsZero() {
			v := t.Sub(time.Now()).Round(time.Second).Seconds()
			skew = &v
		}
	}
	if batch.Items == nil {
		return nil, nil, domain.FieldError("items", "is required: a list of {key, method, path, if_match, body}")
	}
	if n := len(batch.Items); n > MaxSyncItems {
		return nil, nil, domain.FieldError("items", "has %d items; at most %d per batch", n, MaxSyncItems)
	}
	items := make([]SyncItem, len(batch.Items))
	seen := make(map[string]int, len(batch.Items))
	for i, rawItem := range batch.Items {
		at := "items[" + strconv.Itoa(i) + "]"
		it, err := parseSyncItem(at, rawItem)
		if err != nil {
			return nil, nil, err
		}
		if j, dup := seen[it.Key]; dup {
			return nil, nil, domain.FieldError(at+".key", "is also the key of items[%d]; each write of a batch needs its own key", j)
		}
		seen[it.Key] = i
		items[i] = it
	}
	return items, skew, nil
}

// readSyncBody reads the batch, inflating a gzip body, and refuses one that
// is larger than maxSyncBody either way (a small gzip body can inflate to
// gigabytes).
func readSyncBody(r *http.Request) ([]byte, error) {
	tooLarge := domain.Errorf(codeBodyTooLarge, "the batch is larger than %d bytes (after decompression); send fewer items per batch", maxSyncBody)
	var src io.Reader = http.MaxBytesReader(nil, r.Body, maxSyncBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge
			}
			return nil, domain.FieldError("body", "is not gzip, though Content-Encoding says so")
		}
		defer zr.Close()
		src = zr
	default:
		return nil, domain.Errorf(codeUnsupportedMedia, "Content-Encoding %q is not supported; send gzip or nothing", enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, maxSyncBody+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || len(body) > maxSyncBody:
		return nil, tooLarge
	case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, domain.FieldError("body", "is truncated or damaged gzip")
	case err != nil:
		return nil, domain.FieldError("body", "could not be read: %v", err)
	}
	return body, nil
}

// parseSyncItem decodes and checks one item; at is its place in the batch,
// e.g. items[3].
func parseSyncItem(at string, raw json.RawMessage) (SyncItem, error) {
	var it SyncItem
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return it, domain.FieldError(at, "must be an object {key, method, path, if_match, body}")
	}
	if err := decodeJSON(raw, &it); err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			field := at
			if de.Field != "" && de.Field != "body" {
				field += "." + de.Field
			}
			return it, domain.FieldError(field, "%s", de.Message)
		}
		return it, err
	}
	if it.Key == "" {
		return it, domain.FieldError(at+".key", "is required: the item's Idempotency-Key")
	}
	if len(it.Key) > maxKey || strings.ContainsFunc(it.Key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return it, domain.FieldError(at+".key", "must be 1 to %d visible ASCII characters", maxKey)
	}
	if it.Method == "" {
		return it, domain.FieldError(at+".method", "is required, e.g. POST")
	}
	// Methods are case-sensitive on the wire, but every client sends them in
	// upper case; so does a sync item once normalised, which also keeps its
	// request fingerprint equal to the single route's.
	it.Method = strings.ToUpper(it.Method)
	if !isToken(it.Method) {
		return it, domain.FieldError(at+".method", "is not an HTTP method")
	}
	if it.Path == "" {
		return it, domain.FieldError(at+".path", "is required, e.g. /v1/action-points")
	}
	u, err := url.Parse(it.Path)
	// "//…" is a reference to another host, even with an empty one ("///"
	// parses as the path "/"): never a path on this server.
	if err != nil || strings.HasPrefix(it.Path, "//") || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || u.Fragment != "" {
		return it, domain.FieldError(at+".path", "must be a path on this server, e.g. /v1/action-points")
	}
	if path.Clean(u.Path) == syncRoute {
		return it, domain.FieldError(at+".path", "a batch may not contain a batch")
	}
	if bytes.Equal(bytes.TrimSpace(it.Body), []byte("null")) {
		it.Body = nil
	}
	return it, nil
}

// isToken reports whether s is an RFC 9110 token, what a method must be.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// itemRecorder is the in-memory ResponseWriter an item is answered into. It
// keeps at most maxSyncItemAnswer bytes and notes an overflow.
type itemRecorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

// itemRecorders are reused: an import answers millions of items, and a
// recorder's header map and buffer were a good part of what each allocated.
var itemRecorders = sync.Pool{New: func() any { return &itemRecorder{header: http.Header{}} }}

func newItemRecorder() *itemRecorder { return itemRecorders.Get().(*itemRecorder) }

// release resets r and returns it to the pool; nothing may use it after.
func (r *itemRecorder) release() {
	if r.body.Cap() > 64<<10 {
		return // an unusually large answer: let its buffer go
	}
	clear(r.header)
	r.status, r.overflow = 0, false
	r.body.Reset()
	itemRecorders.Put(r)
}

func (r *itemRecorder) Header() http.Header { return r.header }

func (r *itemRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *itemRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.overflow || r.body.Len()+len(b) > maxSyncItemAnswer {
		r.overflow = true
		return len(b), nil
	}
	return r.body.Write(b)
}

package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type ctxKey int

const (
	// keyInfo carries the request's *requestInfo.
	keyInfo ctxKey = iota
	// keyTrusted carries an in-process write's trusted (Execute): only this
	// package can set it, so no HTTP request can claim one.
	keyTrusted
	// keyRefusals collects a sync batch's refused items, kept in one write
	// when the batch ends.
	keyRefusals
)

// requestInfo is what the middleware learns about a request on its way in,
// kept in one context value and filled in place. A context value and a
// copy of the request for each fact (its id, the slot for the log's actor,
// the actor, the token's hash) cost about a kilobyte a request: measured
// on an import of clea, 15% of all it allocated went to copying requests.
// Only the request's own goroutine touches it.
type requestInfo struct {
	id string
	// actor is who the bearer token (or an in-process write's caller)
	// says sent the request; zero until authenticate has run.
	actor app.Actor
	// tokenHash is the hash of the token the request signed in with: each
	// item of a sync batch asks again whether it still works.
	tokenHash []byte
	// signedIn is who the log line and the refused-write count name: the
	// API's actor, or the console's signed-in user.
	signedIn app.Actor
	rec      statusRecorder
}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(keyInfo).(*requestInfo)
	return info
}

// trusted is an in-process write's caller, already authenticated, and the
// hash of the token it signed in with (nil: an in-process tool).
type trusted struct {
	actor     app.Actor
	tokenHash []byte
}

// refusalSink gathers refused writes to keep them together.
type refusalSink struct {
	mu sync.Mutex
	rs []app.Refusal
}

// noteRefusal keeps a refused write of actor: into the batch's sink when the
// request is an item of one, else at once. A refusal not kept is logged and
// the request's answer stands (it was sent already).
func (s *Server) noteRefusal(r *http.Request, actor app.Actor, status int) {
	if actor.ID == "" || actor.Role == domain.RoleAdmin || !app.IsRefusal(status) {
		return
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return
	}
	ref := app.Refusal{UserID: actor.ID, At: s.app.Activity.Clock().UTC(), Status: status}
	if sink, ok := r.Context().Value(keyRefusals).(*refusalSink); ok {
		sink.mu.Lock()
		sink.rs = append(sink.rs, ref)
		sink.mu.Unlock()
		return
	}
	s.keepRefusals(r.Context(), []app.Refusal{ref})
}

func (s *Server) keepRefusals(ctx context.Context, rs []app.Refusal) {
	if err := s.app.Activity.RecordRefusals(context.WithoutCancel(ctx), rs); err != nil {
		s.log.Error("keeping refused writes failed", zap.Int("refusals", len(rs)), zap.Error(err))
	}
}

type httpMetrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	shed     prometheus.Counter
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "actionledger", Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route template, method and status code.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "actionledger", Name: "http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "actionledger", Name: "http_requests_shed_total",
			Help: "HTTP requests answered 503 overloaded: no room among the requests in flight within the queue wait.",
		}),
	}
	for _, c := range []prometheus.Collector{m.duration, m.inFlight, m.shed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// statusRecorder remembers what a handler answered, for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument gives each request an id, recovers panics as 500 problems, and
// logs and measures it. The log line has the route template, never the raw
// path's ids beyond it, and never headers or bodies: tokens and personal data
// stay out of the logs.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if infoFrom(r.Context()) != nil {
			next.ServeHTTP(w, r) // already instrumented (404/405 handlers)
			return
		}
		start := time.Now()
		info := &requestInfo{id: incomingRequestID(r)}
		id := info.id
		r = r.WithContext(context.WithValue(r.Context(), keyInfo, info))
		w.Header().Set("X-Request-ID", id)
		rec := &info.rec
		rec.ResponseWriter = w
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			if p := recover(); p != nil {
				s.log.Error("panic serving request", zap.String("request_id", id), zap.Any("panic", p), zap.Stack("stack"))
				if rec.status == 0 {
					s.writeError(rec, r, errorf(domain.CodeInternal, "panic"))
				}
			}
			route := routeTemplate(r)
			took := time.Since(start)
			s.metrics.duration.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Observe(took.Seconds())
			// Checked first: below info level (as benchmarks and busy
			// servers run) the line's fields are never built.
			if ce := s.log.Check(zapcore.InfoLevel, "http request"); ce != nil {
				fields := []zap.Field{
					zap.String("request_id", id), zap.String("method", r.Method), zap.String("route", route),
					zap.Int("status", rec.status), zap.Duration("latency", took), zap.Int("bytes", rec.bytes),
				}
				if info.signedIn.ID != "" {
					fields = append(fields, zap.String("actor_id", info.signedIn.ID), zap.String("actor_role", info.signedIn.Role))
				}
				ce.Write(fields...)
			}
			actor := info.signedIn
			if t, ok := r.Context().Value(keyTrusted).(trusted); ok && actor.ID == "" {
				// A sync item the router turned away before authenticating
				// it (no such route) is still its sender's refused item.
				actor = t.actor
			}
			s.noteRefusal(r, actor, rec.status)
		}()
		next.ServeHTTP(rec, r)
	})
}

// checkQuery parses the query string once for every route and refuses one
// that does not parse. Go's URL.Query() drops its parse error and answers
// what it could read (nothing at all past 10,000 parameters), so a request
// would be answered for the caller's default scope instead of what it
// asked: a bad escape, a ';' separator or too many parameters is a 400.
func (s *Server) checkQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
				s.writeError(w, r, domain.FieldError("query", "the query string does not parse: %s", queryProblem(err)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// queryProblem words a query parse error without echoing more than a short
// piece of what the caller sent.
func queryProblem(err error) string {
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return strings.ToValidUTF8(msg, "?")
}

func routeTemplate(r *http.Request) string {
	if route := mux.CurrentRoute(r); route != nil {
		if t, err := route.GetPathTemplate(); err == nil {
			return t
		}
	}
	return "unmatched"
}

// authenticate resolves the bearer token to an actor for every /v1 route
// except the OpenAPI document; an in-process write (Execute) comes with its
// actor already known.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var actor app.Actor
		var hash []byte
		if t, ok := ctx.Value(keyTrusted).(trusted); ok {
			// Authenticated when its batch began; ask again, so an item
			// that runs after the user was switched off is refused.
			if err := s.app.Auth.Recheck(t.actor, t.tokenHash); err != nil {
				s.writeError(w, r, err)
				return
			}
			actor, hash = t.actor, t.tokenHash
		} else {
			token, ok := bearer(r.Header.Get("Authorization"))
			if !ok {
				s.writeError(w, r, domain.Errorf(domain.CodeUnauthenticated, "send Authorization: Bearer <token>"))
				return
			}
			// Hashed once, for the lookup and for the items of a sync
			// batch to check again.
			hash = app.HashToken(token)
			var err error
			if actor, err = s.app.Auth.AuthenticateHash(ctx, hash); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		// Every route is instrumented (Router.Use); a handler mounted
		// without it would find no actor and refuse, never act as anyone.
		if info := infoFrom(ctx); info != nil {
			info.actor, info.tokenHash, info.signedIn = actor, hash, actor
		}
		next.ServeHTTP(w, r)
	})
}

func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func actorFrom(ctx context.Context) app.Actor {
	if info := infoFrom(ctx); info != nil {
		return info.actor
	}
	return app.Actor{}
}

func requestID(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// tokenHashFrom is the hash of the token the request signed in with.
func tokenHashFrom(ctx context.Context) []byte {
	if info := infoFrom(ctx); info != nil {
		return info.tokenHash
	}
	return nil
}

// incomingRequestID keeps a caller's X-Request-ID when it is a sane token, so
// a request can be followed across systems, and makes one otherwise.
func incomingRequestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')
	}) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func correlationID(r *http.Request) string {
	if id := r.Header.Get("X-Correlation-ID"); id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return id
	}
	return requestID(r.Context())
}

func errorf(code domain.Code, format string, args ...any) error {
	return domain.Errorf(code, format, args...)
}

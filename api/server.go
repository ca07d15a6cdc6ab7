// Package api is actionledger's HTTP interface: JSON over HTTP under /v1,
// served by gorilla/mux, one file per resource.
//
// Every error leaves through writeError as RFC 9457 problem+json, and the
// status comes from the one code→status table in errors.go, so a code means
// the same status on every route. Handlers translate HTTP to application
// commands and back; they hold no business rules.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Config wires a Server.
type Config struct {
	App *app.Application
	// Read runs the read models (admin routes, as-of, exports); nil leaves
	// those routes unmounted. The indicators and lists are asked of
	// App.Reads; nil leaves their routes unmounted.
	Read ReadModels
	// Ready reports whether the service can take traffic (/readyz).
	Ready    func(ctx context.Context) error
	Logger   *zap.Logger
	Registry *prometheus.Registry
	// Indicators gathers the per-district indicator gauges, served only at
	// GET /v1/stats/metrics (area data never goes on the open /metrics);
	// nil leaves that route unmounted.
	Indicators prometheus.Gatherer
	// Backup copies the store while it serves (GET /v1/admin/backup); nil
	// leaves that route unmounted.
	Backup eventstore.Backupper
	// SyncDeadline bounds one /v1/sync batch; zero is DefaultSyncDeadline.
	SyncDeadline time.Duration
	// SessionSecret signs the web console's session cookies: the token
	// secret, which replicas share. Nil: a random key of this process.
	SessionSecret []byte
	// MaxInFlight bounds the requests served at once (0:
	// DefaultMaxInFlight); one more waits up to QueueWait (0:
	// DefaultQueueWait) for a slot, then is answered 503 overloaded.
	// In-process calls (Execute, the importer) are not counted.
	MaxInFlight int
	QueueWait   time.Duration
}

// Server is the HTTP handler of actionledger.
type Server struct {
	app     *app.Application
	read    ReadModels
	ready   func(ctx context.Context) error
	log     *zap.Logger
	router  *mux.Router
	metrics *httpMetrics
	// syncDeadline bounds one sync batch, all items together.
	syncDeadline  time.Duration
	sessionSecret []byte
	slots         chan struct{}
	queueWait     time.Duration
}

// New returns the server with every route mounted.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Ready == nil {
		cfg.Ready = func(context.Context) error { return nil }
	}
	m, err := newHTTPMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	if cfg.SyncDeadline <= 0 {
		cfg.SyncDeadline = DefaultSyncDeadline
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	s := &Server{app: cfg.App, read: cfg.Read, ready: cfg.Ready, log: cfg.Logger, router: mux.NewRouter(), metrics: m, syncDeadline: cfg.SyncDeadline,
		sessionSecret: cfg.SessionSecret, slots: make(chan struct{}, cfg.MaxInFlight), queueWait: cfg.QueueWait}
	r := s.router
	notFound := s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(codeRouteNotFound, "no route %s %s", r.Method, r.URL.Path))
	}))
	methodNotAllowed := s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(codeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
	}))
	r.NotFoundHandler, r.MethodNotAllowedHandler = notFound, methodNotAllowed
	r.Use(s.instrument, s.checkQuery)

	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry})).Methods(http.MethodGet)
	r.HandleFunc("/v1/openapi.json", s.openapi).Methods(http.MethodGet)

	// Routes under /v1 are mounted on the root router, not a subrouter:
	// mux answers a wrong method on a subrouter's path with 404 instead of
	// 405.
	v1 := v1Routes{router: r, s: s}
	s.mountUsers(v1)
	s.mountPlaces(v1)
	s.mountCommunities(v1)
	s.mountActionPoints(v1)
	s.mountReferrals(v1)
	s.mountFeedback(v1)
	s.mountAudit(v1)
	s.mountSync(v1)
	s.mountMe(v1)
	if err := s.mountApp(); err != nil {
		return nil, err
	}
	if s.app.Reads != nil {
		s.mountStats(v1)
	}
	if s.read != nil {
		if s.app.Rebuilds == nil {
			return nil, errors.New("api: App.Rebuilds must be set when Read is (app.NewRebuilds over the read models)")
		}
		s.mountAdmin(v1)
		// The web console at / and /assets/ (api/console).
		if err := s.mountConsole(r); err != nil {
			return nil, err
		}
	}
	if cfg.Indicators != nil {
		s.mountIndicatorMetrics(v1, cfg.Indicators)
	}
	if cfg.Backup != nil {
		s.mountBackup(v1, cfg.Backup)
	}
	return s, nil
}

// ReadModels is what the API needs of the read side.
type ReadModels interface {
	TrustStats(f projections.Filter) (projections.TrustStats, uint64)
	Poisoned() ([]projections.Poisoned, error)
}

// v1Routes mounts authenticated routes under /v1.
type v1Routes struct {
	router *mux.Router
	s      *Server
}

func (v v1Routes) handle(method, path string, h http.HandlerFunc) {
	v.router.Handle("/v1"+path, v.s.authenticate(h)).Methods(method)
}

// ServeHTTP implements http.Handler: the network's way in, where the
// requests in flight are bounded.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	release, ok := s.admit(w, r)
	if !ok {
		return
	}
	defer release()
	s.router.ServeHTTP(w, r)
}

// Router exposes the routes, for the OpenAPI conformance test.
func (s *Server) Router() *mux.Router { return s.router }

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeResult is the answer of every successful command: {id, revision,
// position} with the new ETag; 201 for a create.
type writeResponse struct {
	ID       string `json:"id"`
	Revision uint64 `json:"revision"`
	Position uint64 `json:"position"`
	Token    string `json:"token,omitempty"`
}

func writeResult(w http.ResponseWriter, res app.Result, location string) {
	w.Header().Set("ETag", etag(res.Revision))
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
		if location != "" {
			w.Header().Set("Location", location)
		}
	}
	writeJSON(w, status, writeResponse{ID: res.ID, Revision: res.Revision, Position: res.Position, Token: res.Token})
}

// writeView answers an aggregate's state with its ETag.
func writeView(w http.ResponseWriter, rev uint64, v any) {
	w.Header().Set("ETag", etag(rev))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		// The reason goes to the log; the unauthenticated answer only says
		// "not ready", as it may name stores or hosts.
		s.log.Info("not ready", zap.Error(err))
		s.writeError(w, r, errorf(codeNotReady, "not ready"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

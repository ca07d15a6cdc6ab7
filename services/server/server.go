// Package server wires actionledger together — store, application, HTTP API —
// and runs it until its context ends. The binary (services/actionledger) and
// the end-to-end tests both boot it through Main, so the tests exercise the
// real wiring on a temporary data dir and a free port.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore"
	"github.com/actionledger/actionledger/services/places"
	"github.com/actionledger/actionledger/services/refusals"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
)

// DefaultMaxInFlight is the API's bound on the requests served at once.
const DefaultMaxInFlight = api.DefaultMaxInFlight

// Config is everything the server needs; the binary fills it from flags and
// ACTIONLEDGER_* variables.
type Config struct {
	// Addr to listen on; ":0" or "127.0.0.1:0" picks a free port.
	Addr string
	// DataDir holds the embedded store and the generated secrets.
	DataDir string
	// AdminToken is the admin's bearer token; empty means read or create
	// <DataDir>/admin.token.
	AdminToken string
	// TokenSecret keys tokens derived for repeated user creations; empty
	// means read or create <DataDir>/token.secret. Replicas sharing a store
	// must share it.
	TokenSecret string
	// Demo loads the demo data set at start (idempotent).
	Demo bool
	// ShutdownTimeout bounds how long in-flight requests may finish.
	ShutdownTimeout time.Duration
	// MaxInFlight bounds the requests served at once (0:
	// DefaultMaxInFlight); the excess waits up to a second, then gets 503
	// overloaded.
	MaxInFlight int
	// Clock is server time; nil is time.Now (tests inject their own).
	Clock func() time.Time
	// RebuildProjections rebuilds every read model from the first event
	// after start, while the stored ones keep serving.
	RebuildProjections bool
	// DebugAddr, when set, serves Go's profiler (net/http/pprof) on its own
	// listener — keep it on loopback: profiles show internals. While it
	// listens, lock contention and blocking are sampled too (the mutex and
	// block profiles).
	DebugAddr string
	// SnapshotEvery and SnapshotEvents say when a changed read model is
	// saved (0: the defaults; see projections.Config).
	SnapshotEvery  time.Duration
	SnapshotEvents int
	// TrustWeights weigh T1..T4 (zero: the defaults).
	TrustWeights [4]float64
	// TrustMinVisits is how many visits each of the two weeks "falling"
	// compares must rest on (zero: projections.DefaultTrustMinVisits).
	TrustMinVisits int
	// Store selects the event store: StoreBolt (the default: the embedded
	// store in DataDir, one process) or StoreKurrentDB (KurrentDBURL, shared
	// by any number of replicas).
	Store string
	// KurrentDBURL is the esdb:// connection string for StoreKurrentDB. It
	// may hold a password: it is never logged (see Masked).
	KurrentDBURL string
	// PlacesFile is a places list (services/places format) to check places
	// against instead of Sierra Leone's; empty: Sierra Leone's.
	PlacesFile string
}

// Event store kinds for Config.Store.
const (
	StoreBolt      = "bolt"
	StoreKurrentDB = "kurrentdb"
)

// Masked returns the config as log fields with secrets hidden.
func (c Config) Masked() []zap.Field {
	mask := func(s string) string {
		if s == "" {
			return "(from data dir)"
		}
		return "(set, masked)"
	}
	return []zap.Field{
		zap.String("addr", c.Addr), zap.String("data_dir", c.DataDir),
		zap.String("admin_token", mask(c.AdminToken)), zap.String("token_secret", mask(c.TokenSecret)),
		zap.Bool("demo", c.Demo), zap.Duration("shutdown_timeout", c.ShutdownTimeout),
		zap.Bool("rebuild_projections", c.RebuildProjections), zap.Float64s("trust_weights", c.TrustWeights[:]),
		zap.Int("trust_min_visits", c.TrustMinVisits),
		zap.String("store", c.storeKind()), zap.String("kurrentdb_url", kurrentstore.MaskURL(c.KurrentDBURL)),
		zap.String("places", c.PlacesFile),
	}
}

func (c Config) storeKind() string {
	if c.Store == "" {
		return StoreBolt
	}
	return c.Store
}

// OpenStore opens the event store cfg selects (Store, DataDir,
// KurrentDBURL), for the server and for tools that work on the log.
func OpenStore(ctx context.Context, cfg Config, log *zap.Logger) (eventstore.Store, error) {
	switch cfg.storeKind() {
	case StoreBolt:
		return boltstore.Open(filepath.Join(cfg.DataDir, "events.db"), boltstore.Options{Clock: cfg.Clock, OpenTimeout: 2 * time.Second})
	case StoreKurrentDB:
		if cfg.KurrentDBURL == "" {
			return nil, errors.New("the kurrentdb store needs a connection string (ACTIONLEDGER_KURRENTDB_URL)")
		}
		// recorded_at comes from the KurrentDB leader's clock, not cfg.Clock.
		return kurrentstore.Open(ctx, cfg.KurrentDBURL, kurrentstore.Options{Logger: log})
	}
	return nil, fmt.Errorf("unknown store %q: use %q or %q", cfg.Store, StoreBolt, StoreKurrentDB)
}

// LoadPlaces reads the places list at path, or returns Sierra Leone's when
// path is empty.
func LoadPlaces(path string) (*places.Catalogue, error) {
	if path == "" {
		return places.Default(), nil
	}
	return places.LoadFile(path)
}

// minSecret is the shortest admin token or token secret accepted from the
// environment: the admin token guards user creation, and the token secret
// keys every token issued with an Idempotency-Key.
const minSecret = 16

// validate refuses configurations that would run but fail users later.
func (c Config) validate() error {
	if c.AdminToken != "" && len(c.AdminToken) < minSecret {
		return fmt.Errorf("ACTIONLEDGER_ADMIN_TOKEN is shorter than %d characters", minSecret)
	}
	if c.TokenSecret != "" && len(c.TokenSecret) < minSecret {
		return fmt.Errorf("ACTIONLEDGER_TOKEN_SECRET is shorter than %d characters", minSecret)
	}
	// Replicas on a shared store must share both: a secret generated into
	// each replica's own data dir would make tokens differ between them.
	if c.storeKind() == StoreKurrentDB && (c.AdminToken == "" || c.TokenSecret == "") {
		return errors.New("the kurrentdb store is shared by replicas: set ACTIONLEDGER_ADMIN_TOKEN and ACTIONLEDGER_TOKEN_SECRET, the same on every replica")
	}
	return nil
}

// Main is a running actionledger.
type Main struct {
	cfg      Config
	log      *zap.Logger
	store    eventstore.Store
	app      *app.Application
	read     *projections.Engine
	refusals *refusals.Bolt
	api      *api.Server
	registry *prometheus.Registry
	http     *http.Server
	listener net.Listener
	// DemoTokens holds the demo users' tokens after Open with Demo set.
	DemoTokens []DemoUser
	// DemoLoadedAt is when the demo was first loaded into this store: its
	// field times run from DemoDays days before it to it.
	DemoLoadedAt time.Time
}

// Open opens the store, builds the application and binds the listener. It
// does not serve yet: Serve does.
func Open(ctx context.Context, cfg Config, log *zap.Logger) (*Main, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// A bad places file stops the start before anything is written.
	pl, err := LoadPlaces(cfg.PlacesFile)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	m := &Main{cfg: cfg, log: log, registry: prometheus.NewRegistry()}
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ok := false
	defer func() {
		if !ok {
			_ = m.Close()
		}
	}()

	adminToken, err := secretFile(cfg.AdminToken, filepath.Join(cfg.DataDir, "admin.token"), log)
	if err != nil {
		return nil, err
	}
	tokenSecret, err := secretFile(cfg.TokenSecret, filepath.Join(cfg.DataDir, "token.secret"), log)
	if err != nil {
		return nil, err
	}
	// The read models are restored from their snapshots while the store
	// opens and loads its index: the two are independent and were most of
	// a restart, one after the other.
	type loaded struct {
		read *projections.Engine
		err  error
	}
	loading := make(chan loaded, 1)
	go func() {
		read, err := projections.Load(projections.Config{
			Path: filepath.Join(cfg.DataDir, "projections.db"), TrustWeights: cfg.TrustWeights, TrustMinVisits: cfg.TrustMinVisits,
			SnapshotEvery: cfg.SnapshotEvery, SnapshotEvents: cfg.SnapshotEvents, Logger: log, Registerer: m.registry, Clock: cfg.Clock,
		})
		loading <- loaded{read, err}
	}()
	// Whatever happens below, the engine is Main's to close once loaded.
	readLoaded := false
	waitRead := func() error {
		if readLoaded {
			return nil
		}
		readLoaded = true
		l := <-loading
		m.read = l.read
		if l.err != nil {
			return fmt.Errorf("opening the read models: %w", l.err)
		}
		return nil
	}
	defer func() { _ = waitRead() }()
	store, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("opening the event store: %w", err)
	}
	m.store = store
	// The demo load's per-command lines go at debug (see quietCore).
	var demoLoading atomic.Bool
	appLog := log
	if cfg.Demo {
		demoLoading.Store(true)
		appLog = quietWhile(log, &demoLoading)
	}
	// Refused writes are kept beside the log, in a file of this server's
	// own: with replicas (kurrentdb) each counts the refusals it answered.
	if m.refusals, err = refusals.Open(filepath.Join(cfg.DataDir, "refusals.db")); err != nil {
		return nil, err
	}
	m.app, err = app.New(app.Config{
		Store: store, Clock: cfg.Clock, AdminTokenHash: app.HashToken(adminToken),
		TokenSecret: []byte(tokenSecret), Logger: appLog, Registerer: m.registry, Places: pl,
		Refusals: m.refusals,
	})
	if err != nil {
		return nil, err
	}
	if err := m.app.Auth.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("loading users: %w", err)
	}
	if cfg.Demo {
		demo, err := LoadDemo(ctx, m.app, cfg.Clock())
		demoLoading.Store(false)
		if err != nil {
			return nil, fmt.Errorf("loading the demo data set: %w", err)
		}
		m.DemoTokens = demo.Users
		if m.DemoLoadedAt, err = demoLoadedAt(ctx, store, demo.FirstPosition); err != nil {
			return nil, fmt.Errorf("dating the demo data set: %w", err)
		}
		log.Info("demo data set loaded", zap.Time("first_loaded_at", m.DemoLoadedAt))
	}
	if err := waitRead(); err != nil {
		return nil, err
	}
	// The head the models must reach before /readyz says ready is taken
	// here, after the demo's writes, as before.
	if err := m.read.Attach(ctx, store); err != nil {
		return nil, fmt.Errorf("opening the read models: %w", err)
	}
	// The one query service over the read models, for the API and the
	// console.
	m.app.Reads = app.NewReads(m.read, cfg.Clock)
	m.app.Activity.Reads = m.read
	m.app.Rebuilds = app.NewRebuilds(m.read, cfg.Clock, log)
	// Reads check place names against the same list as the writes.
	m.app.Reads.ResolveNames = func(a domain.Area) (domain.Area, error) {
		return m.app.Places.ResolveArea(a.District, a.Chiefdom)
	}
	// Completion and trust per district, for dashboards (computed when
	// scraped). They are area data, so they live on a registry of their own
	// that only an authorised route serves, never on the open /metrics.
	m.api, err = api.New(api.Config{App: m.app, Read: m.read, Logger: log, Registry: m.registry, Ready: m.ready,
		Indicators: projections.NewIndicatorRegistry(m.read), Backup: backupper(store), SessionSecret: []byte(tokenSecret),
		MaxInFlight: cfg.MaxInFlight})
	if err != nil {
		return nil, err
	}
	m.listener, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	m.http = &http.Server{
		Handler:           m.api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      5 * time.Minute, // exports stream for a while
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	ok = true
	return m, nil
}

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// URL is the base URL of the server.
func (m *Main) URL() string { return "http://" + m.Addr() }

// App exposes the application, for in-process tools (import, demo).
func (m *Main) App() *app.Application { return m.app }

// API exposes the HTTP interface, whose Execute runs writes in process.
func (m *Main) API() *api.Server { return m.api }

// Store exposes the event store.
func (m *Main) Store() eventstore.Store { return m.store }

// Read exposes the read models.
func (m *Main) Read() *projections.Engine { return m.read }

// Serve serves HTTP and feeds the read models until ctx is done, then shuts
// down gracefully: the listener closes, in-flight requests get
// ShutdownTimeout to finish, the read models save, and only then (in Close)
// does the store close.
func (m *Main) Serve(ctx context.Context) error {
	if m.cfg.DebugAddr != "" {
		ln, err := net.Listen("tcp", m.cfg.DebugAddr)
		if err != nil {
			return fmt.Errorf("debug listener: %w", err)
		}
		// Lock contention and blocking are sampled only while the
		// profiler listens: /debug/pprof/mutex and /debug/pprof/block then
		// show where requests wait (a stream lock, a read model's lock, the
		// store's queue), not only where they burn CPU. One contention
		// event in mutexFraction and about one blocked interval per
		// blockRate of blocking are recorded, cheap enough to leave on
		// under load.
		const mutexFraction, blockRate = 10, int(100 * time.Microsecond)
		prevFraction := runtime.SetMutexProfileFraction(mutexFraction)
		runtime.SetBlockProfileRate(blockRate)
		defer func() {
			runtime.SetMutexProfileFraction(prevFraction)
			runtime.SetBlockProfileRate(0)
		}()
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		dbg := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = dbg.Serve(ln) }()
		defer dbg.Close()
		m.log.Info("profiler listening", zap.String("debug_addr", ln.Addr().String()))
	}
	// The directory follows the users stream while serving, so a user
	// switched off through another replica is refused here within a second.
	authCtx, stopAuth := context.WithCancel(context.Background())
	authDone := make(chan struct{})
	go func() {
		defer close(authDone)
		m.app.Auth.Follow(authCtx, 0)
	}()
	readCtx, stopRead := context.WithCancel(context.Background())
	readDone := make(chan error, 1)
	go func() { readDone <- m.read.Run(readCtx) }()
	if m.cfg.RebuildProjections {
		go func() {
			if _, err := m.read.Rebuild(readCtx); err != nil && readCtx.Err() == nil {
				m.log.Error("rebuilding read models", zap.Error(err))
			}
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- m.http.Serve(m.listener) }()
	m.log.Info("serving", zap.String("addr", m.Addr()))
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("http server: %w", err)
	case err := <-readDone:
		readDone <- err
		serveErr = fmt.Errorf("read models stopped: %w", err)
	case <-ctx.Done():
	}
	m.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
	defer cancel()
	if err := m.http.Shutdown(sctx); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("shutting down http: %w", err)
	}
	stopAuth()
	<-authDone
	stopRead()
	if err := <-readDone; err != nil && serveErr == nil && !errors.Is(err, context.Canceled) {
		serveErr = fmt.Errorf("read models: %w", err)
	}
	return serveErr
}

// Close releases everything Open acquired. Safe to call more than once.
func (m *Main) Close() error {
	var errs []error
	if m.listener != nil {
		if err := m.listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if m.app != nil && m.app.Rebuilds != nil {
		m.app.Rebuilds.Close()
	}
	if m.read != nil {
		errs = append(errs, m.read.Close())
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	if m.refusals != nil {
		errs = append(errs, m.refusals.Close())
	}
	return errors.Join(errs...)
}

func (m *Main) ready(ctx context.Context) error {
	if _, err := m.store.Head(ctx); err != nil {
		return err
	}
	return m.read.Ready()
}

// secretFile returns value when set; otherwise the content of path, creating
// it with a random secret (mode 0600) on first start.
func secretFile(value, path string, log *zap.Logger) (string, error) {
	if value != "" {
		return value, nil
	}
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%s is empty", path)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	s := "alt_" + base64.RawURLEncoding.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	log.Info("generated a secret; keep the file private", zap.String("file", path))
	return s, nil
}

// backupper is the store's online backup, when it has one (the embedded
// store; KurrentDB is backed up by its own tools).
func backupper(s eventstore.Store) eventstore.Backupper {
	b, _ := s.(eventstore.Backupper)
	return b
}

// Package console is actionledger's web console for coordinators, auditors
// and admins: server-rendered HTML beside the JSON API, on the same
// application layer and read models.
//
// It is an HTTP adapter only. Who a token belongs to is the application's
// Authenticator's answer, what a user may read is the JSON API's own scoping
// (the Reads the api package hands in), and every number is a read model's:
// the console formats, it decides nothing. Pages work with JavaScript off,
// use html/template's contextual escaping for everything they show, and take
// their text from one table of strings per language (text.go).
//
// A signed-in browser holds a self-contained session cookie, signed with a
// key derived from the server's token secret: user id, a keyed fingerprint
// of their token's hash, issue and expiry times and the CSRF secret. Any
// replica sharing the secret reads it, and a restart keeps it. On every
// request the Authenticator says whether that user is still active and
// still signs in with that token, so a user deactivated or given a new
// token is signed out at their next click. Sign-out clears the cookie and
// this server refuses that cookie from then on; a copy of it taken before
// works on other replicas (or after a restart) until it expires, unless the
// token is replaced.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/gorilla/mux"
	"go.uber.org/zap"
)

// Authenticator resolves a token, or the hash of one, to the user it
// belongs to (app.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (app.Actor, error)
	AuthenticateHash(ctx context.Context, hash []byte) (app.Actor, error)
	// SessionActor is the user a session stands for, if still active and
	// still signing in with the token match accepts the hash of.
	SessionActor(ctx context.Context, id string, match func(tokenHash []byte) bool) (app.Actor, error)
}

// Reads are the indicators, scoped exactly as the JSON API scopes its stats
// routes: asked is the area the page asks for (zero: the actor's own), and a
// read outside the actor's role or area is a forbidden error.
type Reads interface {
	Completion(ctx context.Context, actor app.Actor, asked domain.Area) (projections.CompletionStats, uint64, error)
	Trust(ctx context.Context, actor app.Actor, asked domain.Area) (projections.TrustStats, uint64, error)
	// ChildTrust is the latest trust week of each place one level below.
	ChildTrust(ctx context.Context, actor app.Actor, asked domain.Area) ([]projections.PlaceTrust, uint64, error)
}

// Config wires a Console.
type Config struct {
	Auth  Authenticator
	Reads Reads
	// StatusOf maps an error to its HTTP status: the JSON API's one table,
	// so a code means the same status on a page as in a problem.
	StatusOf func(error) int
	Logger   *zap.Logger
	// Clock is server time; nil is time.Now.
	Clock func() time.Time
	// SessionTTL is how long a sign-in lasts (default 12 h: a working day).
	SessionTTL time.Duration
	// SessionSecret signs the session cookies: the server's token secret,
	// which replicas share, so that a sign-in works on every replica and
	// across restarts. Nil: a random key of this process only.
	SessionSecret []byte
	// MaxSignedOut bounds the signed-out cookies remembered until they
	// expire (default 100,000).
	MaxSignedOut int
	// App is the application the JSON API serves: every page reads through
	// its queries (app.Reads, Queries, Audit) and acts through its command
	// handlers — the very ones the JSON API calls, so that every rule and
	// every refusal is the application's. Nil: only sign-in and This week
	// are served.
	App *app.Application
	// Ops is what those pages need of the read side; required with App.
	Ops Ops
	// Meta starts a command's metadata for a request (correlation and
	// causation ids as the JSON API sets them); nil: the actor alone.
	Meta func(r *http.Request, actor app.Actor) app.Meta
	// SignedIn, when set, is told who a request's user is once the session
	// is checked (the API's request log names the actor with it).
	SignedIn func(r *http.Request, actor app.Actor)
}

// Console serves the web console's pages.
type Console struct {
	cfg      Config
	log      *zap.Logger
	sessions *sessionCodec
	pages    pages
	assets   map[string]asset
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// New returns the console; Mount serves it.
func New(cfg Config) (*Console, error) {
	if cfg.Auth == nil || cfg.Reads == nil {
		return nil, errors.New("console: Auth and Reads are required")
	}
	if cfg.App != nil && cfg.Ops == nil {
		return nil, errors.New("console: Ops is required with App")
	}
	if cfg.Meta == nil {
		cfg.Meta = func(_ *http.Request, actor app.Actor) app.Meta { return app.Meta{Actor: actor} }
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.StatusOf == nil {
		cfg.StatusOf = func(error) int { return http.StatusInternalServerError }
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.MaxSignedOut <= 0 {
		cfg.MaxSignedOut = 100_000
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, log: cfg.Logger, pages: p, assets: map[string]asset{},
		sessions: newSessionCodec(cfg.Clock, cfg.SessionTTL, cfg.SessionSecret, cfg.MaxSignedOut)}
	err = fs.WalkDir(assetFS, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		c.assets[path.Base(name)] = asset{body: b, ctype: mime.TypeByExtension(path.Ext(name)),
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Mount adds the console's routes to r. They carry no method matcher: each
// page answers a wrong method itself, as a page, and the JSON API's route
// table (and its OpenAPI document) stays the API's alone.
func (c *Console) Mount(r *mux.Router) {
	r.Handle("/", c.methods(c.home, http.MethodGet, http.MethodHead))
	r.Handle("/sign-in", c.methods(c.signIn, http.MethodPost))
	r.Handle("/sign-out", c.methods(c.signOut, http.MethodPost))
	c.mountCoordinator(r)
	r.Handle("/assets/{name}", c.methods(c.asset, http.MethodGet, http.MethodHead))
	if c.cfg.App != nil {
		c.mountPeople(r)
		c.mountAudit(r)
	}
}

// methods answers 405 for any method not in allowed.
func (c *Console) methods(h http.HandlerFunc, allowed ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		c.notice(w, r, nil, http.StatusMethodNotAllowed, "error_method")
	})
}

func (c *Console) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := c.assets[mux.Vars(r)["name"]]
	if !ok {
		c.notice(w, r, nil, http.StatusNotFound, "error_not_found")
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Revalidated on each use (a cheap 304): a new release's stylesheet is
	// never hidden behind an old one.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// home is "/": the sign-in form for a stranger, the page of their role for a
// signed-in user.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if s == nil {
		c.signInForm(w, r, http.StatusOK, "")
		return
	}
	v := c.view(r, "week", s, actor)
	if actor.Role == domain.RoleMobilizer {
		v.Page = "mobilizer"
		c.render(w, r, http.StatusOK, v)
		return
	}
	week, err := c.thisWeek(r.Context(), actor)
	if err != nil {
		status := c.cfg.StatusOf(err)
		if status == http.StatusForbidden {
			v.Page, v.Message = "notice", "error_role_no_indicators"
			c.render(w, r, http.StatusOK, v)
			return
		}
		c.notice(w, r, s, status, "")
		c.logFailure(r, status, err)
		return
	}
	v.Data = week
	c.render(w, r, http.StatusOK, v)
}

func (c *Console) logFailure(r *http.Request, status int, err error) {
	if status >= 500 && !errors.Is(err, context.Canceled) {
		c.log.Error("console page failed", zap.String("path", r.URL.Path), zap.Error(err))
	}
}

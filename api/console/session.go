package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"go.uber.org/zap"
)

// Cookie names. The session cookie holds a random id, nothing else; the
// sign-in cookie is the double-submitted CSRF token of the sign-in form,
// which comes before any session (so that no other site can sign a browser
// in as someone else).
const (
	sessionCookie = "al_session"
	signInCookie  = "al_signin"
	csrfField     = "csrf"
	maxFormBytes  = 16 << 10
)

// session is one signed-in browser. It keeps the hash of the token, never
// the token: the Authenticator checks the hash again on every request.
type session struct {
	userID    string
	tokenHash []byte
	csrf      string
	expires   time.Time
}

// sessions are kept by the SHA-256 of their id, so that the map holds
// nothing a cookie could be rebuilt from.
type sessions struct {
	clock func() time.Time
	ttl   time.Duration
	max   int

	mu sync.Mutex
	m  map[[32]byte]*session
}

func newSessions(clock func() time.Time, ttl time.Duration, max int) *sessions {
	return &sessions{clock: clock, ttl: ttl, max: max, m: map[[32]byte]*session{}}
}

func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session and returns its id.
func (ss *sessions) create(userID string, tokenHash []byte) (string, *session) {
	id := randomID()
	s := &session{userID: userID, tokenHash: tokenHash, csrf: randomID(), expires: ss.clock().Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= ss.max {
		ss.sweepLocked()
	}
	ss.m[sha256.Sum256([]byte(id))] = s
	return id, s
}

// sweepLocked drops expired sessions and, if that frees nothing, the one
// closest to expiry: a flood of sign-ins cannot grow memory without bound.
func (ss *sessions) sweepLocked() {
	now := ss.clock()
	var oldest [32]byte
	var oldestAt time.Time
	for k, s := range ss.m {
		if !now.Before(s.expires) {
			delete(ss.m, k)
			continue
		}
		if oldestAt.IsZero() || s.expires.Before(oldestAt) {
			oldest, oldestAt = k, s.expires
		}
	}
	if len(ss.m) >= ss.max && !oldestAt.IsZero() {
		delete(ss.m, oldest)
	}
}

// get returns the live session of id, or nil.
func (ss *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[k]
	if !ok {
		return nil
	}
	if !ss.clock().Before(s.expires) {
		delete(ss.m, k)
		return nil
	}
	return s
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sha256.Sum256([]byte(id)))
}

// setCookie writes a cookie the console's way: HttpOnly, SameSite=Strict,
// Secure under TLS, for the whole site.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, ttl time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
	if ttl > 0 {
		c.MaxAge = int(ttl / time.Second)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// signedIn resolves the request's session. It answers (nil, _, true) for a
// stranger, and writes the answer itself and reports false when the
// session's user could not be checked. A session whose token no longer
// authenticates — deactivated, replaced — is ended here.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request) (*session, app.Actor, bool) {
	id := cookieValue(r, sessionCookie)
	s := c.sessions.get(id)
	if s == nil {
		if id != "" {
			setCookie(w, r, sessionCookie, "", 0)
		}
		return nil, app.Actor{}, true
	}
	actor, err := c.cfg.Auth.AuthenticateHash(r.Context(), s.tokenHash)
	if err == nil && actor.ID != s.userID {
		err = domain.Errorf(domain.CodeUnauthenticated, "the token now belongs to someone else")
	}
	if err != nil {
		if domain.ErrorCode(err) != domain.CodeUnauthenticated {
			status := c.cfg.StatusOf(err)
			c.logFailure(r, status, err)
			c.notice(w, r, nil, status, "")
			return nil, app.Actor{}, false
		}
		c.sessions.drop(id)
		setCookie(w, r, sessionCookie, "", 0)
		c.log.Info("console session ended: the user no longer authenticates", zap.String("actor_id", s.userID))
		c.signInForm(w, r, http.StatusOK, "signed_out_no_access")
		return nil, app.Actor{}, false
	}
	if c.cfg.SignedIn != nil {
		c.cfg.SignedIn(r, actor)
	}
	return s, actor, true
}

// readForm parses a small url-encoded form; anything else is refused.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/x-www-form-urlencoded" {
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm() == nil
}

// sameToken compares CSRF tokens in constant time.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// signInForm shows the sign-in form with a fresh CSRF token, and msg (a
// text key) when set.
func (c *Console) signInForm(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := randomID()
	setCookie(w, r, signInCookie, token, time.Hour)
	v := c.view(r, "signin", nil, app.Actor{})
	v.CSRF, v.Message = token, msg
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="actionledger"`)
	}
	c.render(w, r, status, v)
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		c.notice(w, r, nil, http.StatusBadRequest, "error_bad_form")
		return
	}
	if !sameToken(r.PostForm.Get(csrfField), cookieValue(r, signInCookie)) {
		c.signInForm(w, r, http.StatusForbidden, "error_form_expired")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		c.signInForm(w, r, http.StatusBadRequest, "error_token_required")
		return
	}
	actor, err := c.cfg.Auth.Authenticate(r.Context(), token)
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeUnauthenticated {
			c.log.Info("console sign-in refused")
			c.signInForm(w, r, http.StatusUnauthorized, "error_token_refused")
			return
		}
		status := c.cfg.StatusOf(err)
		c.logFailure(r, status, err)
		c.notice(w, r, nil, status, "")
		return
	}
	// A new id on every sign-in: an id planted before it (session fixation)
	// is worth nothing after it.
	if old := cookieValue(r, sessionCookie); old != "" {
		c.sessions.drop(old)
	}
	id, _ := c.sessions.create(actor.ID, app.HashToken(token))
	setCookie(w, r, sessionCookie, id, c.cfg.SessionTTL)
	setCookie(w, r, signInCookie, "", 0)
	c.log.Info("console sign-in", zap.String("actor_id", actor.ID), zap.String("actor_role", actor.Role))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	id := cookieValue(r, sessionCookie)
	s := c.sessions.get(id)
	if s == nil {
		setCookie(w, r, sessionCookie, "", 0)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !c.checkCSRF(w, r, s) {
		return
	}
	c.sessions.drop(id)
	setCookie(w, r, sessionCookie, "", 0)
	c.log.Info("console sign-out", zap.String("actor_id", s.userID))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// checkCSRF refuses a state-changing form whose synchronizer token is not
// the session's, with 403; it reports whether the request may go on.
func (c *Console) checkCSRF(w http.ResponseWriter, r *http.Request, s *session) bool {
	if !readForm(w, r) {
		c.notice(w, r, s, http.StatusBadRequest, "error_bad_form")
		return false
	}
	if !sameToken(r.PostForm.Get(csrfField), s.csrf) {
		c.notice(w, r, s, http.StatusForbidden, "error_csrf")
		return false
	}
	return true
}

package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"go.uber.org/zap"
)

// Cookie names. The session cookie is self-contained and signed (see
// sessionCodec); the sign-in cookie is the double-submitted CSRF token of
// the sign-in form, which comes before any session (so that no other site
// can sign a browser in as someone else).
const (
	sessionCookie = "al_session"
	signInCookie  = "al_signin"
	csrfField     = "csrf"
	maxFormBytes  = 16 << 10
)

// session is one signed-in browser, as its cookie says. It holds no token
// and no token hash: fingerprint is a keyed hash of the hash of the token
// the user signed in with, which the Authenticator's current one must match
// on every request.
type session struct {
	userID      string
	fingerprint []byte
	csrf        string
	issued      time.Time
	expires     time.Time
	// cookie is the cookie's value, which sign-out remembers.
	cookie string
}

// sessionVersion is the first byte of every session cookie; a cookie of
// another layout is a stranger's.
const sessionVersion = 1

// Sizes in a session cookie.
const (
	fingerprintLen = 16
	csrfLen        = 16
)

// sessionCodec makes and reads session cookies. A cookie is
// base64url(payload || HMAC-SHA256(key, payload)), the payload being the
// version, issue and expiry times (Unix seconds), the token fingerprint,
// the CSRF secret and the user id. The key is derived from the server's
// token secret, which every replica shares: any replica (and the same one
// after a restart) reads a cookie another made, and no one without the
// secret can make or alter one. It keeps nothing per session but the
// cookies signed out on this server, until they would have expired.
type sessionCodec struct {
	clock func() time.Time
	ttl   time.Duration
	key   []byte
	fpKey []byte

	mu         sync.Mutex
	signedOut  map[[32]byte]time.Time // SHA-256 of the cookie -> its expiry
	maxRevoked int
}

// newSessionCodec derives the cookie keys from secret (nil: a random one,
// which no other process shares and a restart forgets).
func newSessionCodec(clock func() time.Time, ttl time.Duration, secret []byte, maxRevoked int) *sessionCodec {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret) // crypto/rand.Read never fails (Go 1.24+)
	}
	return &sessionCodec{clock: clock, ttl: ttl, key: derive(secret, "actionledger console session cookie v1"),
		fpKey: derive(secret, "actionledger console token fingerprint v1"), signedOut: map[[32]byte]time.Time{}, maxRevoked: maxRevoked}
}

// derive separates the cookie's keys from every other use of the secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// fingerprint is the keyed fingerprint of a token hash a cookie carries.
func (sc *sessionCodec) fingerprint(tokenHash []byte) []byte {
	m := hmac.New(sha256.New, sc.fpKey)
	m.Write(tokenHash)
	return m.Sum(nil)[:fingerprintLen]
}

// create starts a session for userID, signed in with the token whose hash
// is tokenHash, and returns its cookie value.
func (sc *sessionCodec) create(userID string, tokenHash []byte) string {
	now := sc.clock()
	var secret [csrfLen]byte
	_, _ = rand.Read(secret[:])
	p := make([]byte, 0, 1+16+fingerprintLen+csrfLen+len(userID))
	p = append(p, sessionVersion)
	p = binary.BigEndian.AppendUint64(p, uint64(now.Unix()))
	p = binary.BigEndian.AppendUint64(p, uint64(now.Add(sc.ttl).Unix()))
	p = append(p, sc.fingerprint(tokenHash)...)
	p = append(p, secret[:]...)
	p = append(p, userID...)
	m := hmac.New(sha256.New, sc.key)
	m.Write(p)
	return base64.RawURLEncoding.EncodeToString(m.Sum(p))
}

// get reads a cookie: nil unless it is one this secret signed, unexpired
// and not signed out here.
func (sc *sessionCodec) get(cookie string) *session {
	if cookie == "" || len(cookie) > 1024 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cookie)
	const fixed = 1 + 16 + fingerprintLen + csrfLen
	if err != nil || len(b) < fixed+1+sha256.Size {
		return nil
	}
	p, mac := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	m := hmac.New(sha256.New, sc.key)
	m.Write(p)
	if !hmac.Equal(mac, m.Sum(nil)) || p[0] != sessionVersion {
		return nil
	}
	s := &session{
		issued:      time.Unix(int64(binary.BigEndian.Uint64(p[1:9])), 0),
		expires:     time.Unix(int64(binary.BigEndian.Uint64(p[9:17])), 0),
		fingerprint: p[17 : 17+fingerprintLen],
		csrf:        base64.RawURLEncoding.EncodeToString(p[17+fingerprintLen : fixed]),
		userID:      string(p[fixed:]),
		cookie:      cookie,
	}
	now := sc.clock()
	if !now.Before(s.expires) || s.issued.After(now.Add(time.Minute)) {
		return nil
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if _, out := sc.signedOut[sha256.Sum256([]byte(cookie))]; out {
		return nil
	}
	return s
}

// matches reports whether the token hash is the one s signed in with.
func (sc *sessionCodec) matches(s *session) func(tokenHash []byte) bool {
	return func(tokenHash []byte) bool { return hmac.Equal(sc.fingerprint(tokenHash), s.fingerprint) }
}

// signOut remembers a signed-out cookie until it would have expired, so
// that a copy of it is refused here. Other replicas, and this one after a
// restart, do not know of it: there the copy works until it expires, unless
// the user's token is replaced. The list is bounded; past the bound, the
// entries closest to expiry go first.
func (sc *sessionCodec) signOut(s *session) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	now := sc.clock()
	if len(sc.signedOut) >= sc.maxRevoked {
		var oldest [32]byte
		var oldestAt time.Time
		for k, exp := range sc.signedOut {
			if !now.Before(exp) {
				delete(sc.signedOut, k)
			} else if oldestAt.IsZero() || exp.Before(oldestAt) {
				oldest, oldestAt = k, exp
			}
		}
		if len(sc.signedOut) >= sc.maxRevoked && !oldestAt.IsZero() {
			delete(sc.signedOut, oldest)
		}
	}
	sc.signedOut[sha256.Sum256([]byte(s.cookie))] = s.expires
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
// stranger (no cookie, or one this server's secret did not sign, expired or
// signed out), and writes the answer itself and reports false when the
// session's user could not be checked. A session whose user no longer
// authenticates — deactivated, or given a new token — is ended here, on
// every request.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request) (*session, app.Actor, bool) {
	cookie := cookieValue(r, sessionCookie)
	s := c.sessions.get(cookie)
	if s == nil {
		if cookie != "" {
			setCookie(w, r, sessionCookie, "", 0)
		}
		return nil, app.Actor{}, true
	}
	actor, err := c.cfg.Auth.SessionActor(r.Context(), s.userID, c.sessions.matches(s))
	if err != nil {
		if code := domain.ErrorCode(err); code != domain.CodeUnauthenticated && code != domain.CodeUserDeactivated {
			status := c.cfg.StatusOf(err)
			c.logFailure(r, status, err)
			c.notice(w, r, nil, status, "")
			return nil, app.Actor{}, false
		}
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
	// A new cookie on every sign-in, with a new CSRF secret: a cookie
	// planted before it (session fixation) is replaced.
	setCookie(w, r, sessionCookie, c.sessions.create(actor.ID, app.HashToken(token)), c.cfg.SessionTTL)
	setCookie(w, r, signInCookie, "", 0)
	c.log.Info("console sign-in", zap.String("actor_id", actor.ID), zap.String("actor_role", actor.Role))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	s := c.sessions.get(cookieValue(r, sessionCookie))
	if s == nil {
		setCookie(w, r, sessionCookie, "", 0)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !c.checkCSRF(w, r, s) {
		return
	}
	c.sessions.signOut(s)
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

package app

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
)

// AdminActorID is the actor id recorded for the admin token.
const AdminActorID = "admin"

// tokenPrefix marks actionledger tokens so that a leaked one is recognisable
// (secret scanners key on prefixes).
const tokenPrefix = "alt_"

// HashToken returns the SHA-256 of a bearer token. Tokens are 256 random
// bits, so a fast hash is enough: there is nothing to brute-force.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewToken returns a fresh random bearer token.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// derivedToken is the token of a user created with an idempotency key: a
// keyed hash of (creator, key), so that a repeat of the creation answers the
// same token without the token ever being stored.
func derivedToken(secret []byte, actorID, key string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(actorID + "\x00" + key))
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Authenticator resolves bearer tokens to actors. It keeps the user
// directory in memory and re-reads the tail of the users stream when it meets
// a token it does not know, so a user created through another replica can
// sign in at once.
type Authenticator struct {
	store     eventstore.Store
	adminHash []byte

	refreshMu sync.Mutex // one refresh at a time

	mu       sync.RWMutex
	tokens   float64 // refresh bucket, see refreshOnMiss
	lastFill time.Time
	dir      *domain.Directory
	byHash   map[string]domain.User
}

func newAuthenticator(store eventstore.Store, adminHash []byte) *Authenticator {
	dir, _ := domain.LoadDirectory(nil)
	return &Authenticator{store: store, adminHash: adminHash, dir: dir, byHash: map[string]domain.User{}}
}

// Authenticate returns the actor a token belongs to, or ErrUnauthenticated.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Actor, error) {
	if token == "" {
		return Actor{}, domain.Errorf(domain.CodeUnauthenticated, "missing bearer token")
	}
	return a.AuthenticateHash(ctx, HashToken(token))
}

// AuthenticateHash is Authenticate for a token known only by its hash
// (HashToken): the web console keeps the hash of a signed-in user's token,
// never the token, and checks it again on every request, so a user who can
// no longer sign in is signed out at once.
func (a *Authenticator) AuthenticateHash(ctx context.Context, h []byte) (Actor, error) {
	if len(a.adminHash) > 0 && subtle.ConstantTimeCompare(h, a.adminHash) == 1 {
		return Actor{ID: AdminActorID, Role: domain.RoleAdmin}, nil
	}
	if u, ok := a.lookup(h); ok {
		return u, nil
	}
	if err := a.refreshOnMiss(ctx); err != nil {
		return Actor{}, err
	}
	if u, ok := a.lookup(h); ok {
		return u, nil
	}
	return Actor{}, domain.Errorf(domain.CodeUnauthenticated, "invalid bearer token")
}

func (a *Authenticator) lookup(h []byte) (Actor, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	u, ok := a.byHash[string(h)]
	if !ok {
		return Actor{}, false
	}
	return Actor{ID: u.ID, Role: u.Role, Area: u.Area}, true
}

// tokenIs reports whether user id signs in with token.
func (a *Authenticator) tokenIs(id, token string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	u, ok := a.byHash[string(HashToken(token))]
	return ok && u.ID == id
}

// Unknown tokens make the authenticator re-read the users stream, so that a
// user created through another replica signs in at once. A token bucket
// bounds those reads: a burst of refreshBurst, then refreshRate a second;
// beyond that, junk tokens are answered 401 from memory and cost the store
// nothing.
const (
	refreshBurst = 5
	refreshRate  = 20 // per second
)

// refreshOnMiss refreshes if the bucket allows it.
func (a *Authenticator) refreshOnMiss(ctx context.Context) error {
	a.mu.Lock()
	now := time.Now()
	a.tokens = min(refreshBurst, a.tokens+now.Sub(a.lastFill).Seconds()*refreshRate)
	a.lastFill = now
	allowed := a.tokens >= 1
	if allowed {
		a.tokens--
	}
	a.mu.Unlock()
	if !allowed {
		return nil
	}
	return a.Refresh(ctx)
}

// Refresh folds users created since the last refresh into the directory.
func (a *Authenticator) Refresh(ctx context.Context) error {
	a.refreshMu.Lock()
	defer a.refreshMu.Unlock()

	a.mu.RLock()
	after := a.dir.Revision()
	a.mu.RUnlock()
	for {
		page, err := a.store.ReadStream(ctx, domain.UsersStream, after, readPage)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		events, err := decodeAll(page)
		if err != nil {
			return err
		}
		a.mu.Lock()
		err = a.dir.Apply(events)
		if err == nil {
			for _, u := range a.dir.Users() {
				a.byHash[string(u.TokenHash)] = u
			}
		}
		a.mu.Unlock()
		if err != nil {
			return err
		}
		after = page[len(page)-1].Revision
	}
}

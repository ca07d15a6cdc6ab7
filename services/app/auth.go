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
	"go.uber.org/zap"
)

// AdminActorID is the actor id recorded for the admin token.
const AdminActorID = domain.AdminUserID

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
// directory in memory and follows the users stream (Follow), so that a user
// switched off or given a new token through any replica is refused on this
// one within a poll interval; it also re-reads the tail of the stream when it
// meets a token it does not know, so a user created through another replica
// can sign in at once.
type Authenticator struct {
	store     eventstore.Store
	adminHash []byte
	log       *zap.Logger

	refreshMu sync.Mutex // one refresh at a time

	mu       sync.RWMutex
	tokens   float64 // refresh bucket, see refreshOnMiss
	lastFill time.Time
	dir      *domain.Directory
	byHash   map[string]string // token hash -> user id
	meta     map[string]*userMeta
	seq      int32
}

// userMeta is what the directory does not hold because it comes from the
// events' envelopes: when things happened, and in which order users came.
type userMeta struct {
	seq           int32 // creation order, 1-based: the users list pages by it
	createdAt     time.Time
	deactivatedAt time.Time
	deactivatedBy string
}

func newAuthenticator(store eventstore.Store, adminHash []byte, log *zap.Logger) *Authenticator {
	dir, _ := domain.LoadDirectory(nil)
	return &Authenticator{store: store, adminHash: adminHash, log: log, dir: dir,
		byHash: map[string]string{}, meta: map[string]*userMeta{}}
}

// Authenticate returns the actor a token belongs to, or an error: a
// *domain.DeactivatedError for a user who was switched off (it says why),
// ErrUnauthenticated for anything else.
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
	if u, ok, err := a.lookup(h); ok {
		return u, err
	}
	if err := a.refreshOnMiss(ctx); err != nil {
		return Actor{}, err
	}
	if u, ok, err := a.lookup(h); ok {
		return u, err
	}
	return Actor{}, domain.Errorf(domain.CodeUnauthenticated, "invalid bearer token")
}

func (a *Authenticator) lookup(h []byte) (Actor, bool, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	id, ok := a.byHash[string(h)]
	if !ok {
		return Actor{}, false, nil
	}
	u, _ := a.dir.User(id)
	if u.Deactivated {
		return Actor{}, true, &domain.DeactivatedError{UserID: u.ID, Reason: u.DeactivateReason, Wipe: u.Wipe}
	}
	return Actor{ID: u.ID, Role: u.Role, Area: u.Area}, true, nil
}

// Recheck tells whether an actor authenticated earlier may still act now: a
// sync batch is authenticated once, and each of its items asks again, so an
// item that runs after its user was switched off (or their token replaced)
// is refused. tokenHash is the hash of the token the actor signed in with,
// nil when the actor came from an in-process tool and no token. Actors the
// directory does not hold (the admin token) are left as they are.
func (a *Authenticator) Recheck(actor Actor, tokenHash []byte) error {
	if actor.ID == AdminActorID {
		return nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	u, ok := a.dir.User(actor.ID)
	switch {
	case !ok:
		return nil
	case u.Deactivated:
		return &domain.DeactivatedError{UserID: u.ID, Reason: u.DeactivateReason, Wipe: u.Wipe}
	case tokenHash != nil && subtle.ConstantTimeCompare(tokenHash, u.TokenHash) != 1:
		return domain.Errorf(domain.CodeUnauthenticated, "this token was replaced by a new one")
	}
	return nil
}

// SessionActor answers the actor a signed-in browser stands for: user id,
// if they are still active and match accepts the hash of their current
// token. The console keeps no token and no hash, only a keyed fingerprint
// of the hash it signed in with, which match compares, so that a new token
// ends every session of the old one. A deactivated user is a
// *domain.DeactivatedError, a replaced token or an unknown user
// ErrUnauthenticated.
func (a *Authenticator) SessionActor(ctx context.Context, id string, match func(tokenHash []byte) bool) (Actor, error) {
	if id == AdminActorID {
		if len(a.adminHash) > 0 && match(a.adminHash) {
			return Actor{ID: AdminActorID, Role: domain.RoleAdmin}, nil
		}
		return Actor{}, domain.Errorf(domain.CodeUnauthenticated, "the admin token was changed")
	}
	u, ok := a.user(id)
	if !ok {
		// Signed in through another replica a moment ago.
		if err := a.refreshOnMiss(ctx); err != nil {
			return Actor{}, err
		}
		if u, ok = a.user(id); !ok {
			return Actor{}, domain.Errorf(domain.CodeUnauthenticated, "no such user")
		}
	}
	switch {
	case u.Deactivated:
		return Actor{}, &domain.DeactivatedError{UserID: u.ID, Reason: u.DeactivateReason, Wipe: u.Wipe}
	case !match(u.TokenHash):
		return Actor{}, domain.Errorf(domain.CodeUnauthenticated, "this token was replaced by a new one")
	}
	return Actor{ID: u.ID, Role: u.Role, Area: u.Area}, nil
}

func (a *Authenticator) user(id string) (domain.User, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.dir.User(id)
}

// tokenIs reports whether user id, active, signs in with token.
func (a *Authenticator) tokenIs(id, token string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	uid, ok := a.byHash[string(HashToken(token))]
	if !ok || uid != id {
		return false
	}
	u, _ := a.dir.User(id)
	return !u.Deactivated
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

// FollowEvery is how often Follow polls the users stream: a user switched
// off on another replica is refused here within about this long (PRODUCT.md
// promises a second). An empty read of one stream is cheap for either store.
const FollowEvery = 200 * time.Millisecond

// Follow keeps the directory in step with the users stream until ctx ends,
// polling every interval (FollowEvery when zero). A failed poll is logged
// once and retried; the directory keeps answering from memory meanwhile.
func (a *Authenticator) Follow(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = FollowEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := a.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			a.log.Warn("following the users stream failed; deactivations made elsewhere wait until it works again", zap.Error(err))
		case err == nil && failing:
			failing = false
			a.log.Info("following the users stream again")
		}
	}
}

// Refresh folds users stream events written since the last refresh into the
// directory.
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
		ids, known := userIDsOf(events)
		before := map[string][]byte{}
		for _, id := range ids {
			if u, ok := a.dir.User(id); ok {
				before[id] = u.TokenHash
			}
		}
		err = a.dir.Apply(events)
		if err == nil {
			a.noteEnvelopes(page, events)
			if known {
				// Only the users the page names changed: their old token
				// hashes go (a replaced token must stop signing in) and their
				// current ones come in. Rebuilding the whole map instead cost
				// a copy of every user per refresh, so creating n users took
				// time in n² (25,000 at ten times CLEA: most of an import).
				for id, h := range before {
					if a.byHash[string(h)] == id {
						delete(a.byHash, string(h))
					}
				}
				for _, id := range ids {
					if u, ok := a.dir.User(id); ok {
						a.byHash[string(u.TokenHash)] = u.ID
					}
				}
			} else {
				clear(a.byHash)
				for _, u := range a.dir.Users() {
					a.byHash[string(u.TokenHash)] = u.ID
				}
			}
		}
		a.mu.Unlock()
		if err != nil {
			return err
		}
		after = page[len(page)-1].Revision
	}
}

// userIDsOf returns the users events name; known is false when one of
// them is of a kind this does not know, so the caller rebuilds everything.
func userIDsOf(events []domain.Event) (ids []string, known bool) {
	for _, e := range events {
		switch e := e.(type) {
		case *domain.UserCreated:
			ids = append(ids, e.ID)
		case *domain.UserDeactivated:
			ids = append(ids, e.ID)
		case *domain.UserTokenIssued:
			ids = append(ids, e.ID)
		default:
			return nil, false
		}
	}
	return ids, true
}

// noteEnvelopes keeps the times and order the events' envelopes carry.
func (a *Authenticator) noteEnvelopes(page []eventstore.RecordedEvent, events []domain.Event) {
	for i, e := range events {
		switch e := e.(type) {
		case *domain.UserCreated:
			a.seq++
			a.meta[e.ID] = &userMeta{seq: a.seq, createdAt: page[i].RecordedAt}
		case *domain.UserDeactivated:
			if m := a.meta[e.ID]; m != nil {
				m.deactivatedAt, m.deactivatedBy = page[i].RecordedAt, page[i].Meta.ActorID
			}
		}
	}
}

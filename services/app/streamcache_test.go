package app_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

// The write path keeps streams it loaded decoded and reads only their tail
// afterwards. These tests hold it to the store: what another replica (or
// process) appended in between is seen, at once, by the next command.
func TestStreamCacheSeesOtherWriters(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	b, _ := f.replica(t)
	ctx := context.Background()
	seed(t, a)
	visit := func(x *app.Application, key string, rating int) app.Result {
		t.Helper()
		h := sha256.Sum256([]byte(fmt.Sprint(rating)))
		res, err := x.RecordVisit.Handle(ctx, app.RecordVisit{Meta: app.Meta{Actor: mobilizer, IdempotencyKey: key, RequestHash: h[:]},
			CommunityID: "C1", Kind: "follow_up", TrustRating: ptr(rating)})
		if err != nil {
			t.Fatalf("visit %s: %v", key, err)
		}
		return res
	}
	steps := []struct {
		name     string
		on       *app.Application
		key      string
		revision uint64
		replayed bool
	}{
		{"a writes", a, "k1", 3, false},
		{"b writes after a", b, "k2", 4, false},
		{"a writes after b", a, "k3", 5, false},
		{"a replays what b wrote", a, "k2", 4, true},
		{"b replays what a wrote", b, "k3", 5, true},
		{"b writes again", b, "k4", 6, false},
	}
	for _, s := range steps {
		res := visit(s.on, s.key, 3)
		if res.Revision != s.revision || res.Replayed != s.replayed {
			t.Errorf("%s: revision %d replayed %v, want %d %v", s.name, res.Revision, res.Replayed, s.revision, s.replayed)
		}
	}
	// The same key with another request is refused, whoever wrote it.
	h := sha256.Sum256([]byte("other"))
	_, err := a.RecordVisit.Handle(ctx, app.RecordVisit{Meta: app.Meta{Actor: mobilizer, IdempotencyKey: "k4", RequestHash: h[:]},
		CommunityID: "C1", Kind: "follow_up", TrustRating: ptr(1)})
	if domain.ErrorCode(err) != domain.CodeIdempotencyMismatch {
		t.Errorf("reused key: %v", err)
	}
	// A community created by one replica can take action points raised on
	// the other.
	must(t)(b.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: app.Meta{Actor: mobilizer}, ID: "AP2", CommunityID: "C1",
		Title: "Soap", Category: "hygiene", Kind: "continuous"}))
}

// TestStreamCacheConcurrentWriters drives many commands on a few streams
// from two replicas at once: every command lands exactly once, at a
// revision of its own.
func TestStreamCacheConcurrentWriters(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	b, _ := f.replica(t)
	seed(t, a)
	ctx := context.Background()
	const n = 40
	revs := make([]uint64, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		x := a
		if i%2 == 1 {
			x = b
		}
		wg.Go(func() {
			res, err := x.RecordVisit.Handle(ctx, app.RecordVisit{Meta: app.Meta{Actor: mobilizer, IdempotencyKey: fmt.Sprintf("c%d", i)},
				CommunityID: "C1", Kind: "follow_up", TrustRating: ptr(1 + i%5)})
			if err != nil {
				t.Errorf("visit %d: %v", i, err)
				return
			}
			revs[i] = res.Revision
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i, r := range revs {
		if r < 3 || r > 2+2*n || seen[r] {
			t.Errorf("visit %d at revision %d", i, r)
		}
		seen[r] = true
	}
}

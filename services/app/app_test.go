package app_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	coordinator = app.Actor{ID: "u-coord", Role: domain.RoleCoordinator, Area: domain.Area{District: "Kenema"}}
	mobilizer   = app.Actor{ID: "u-mob", Role: domain.RoleMobilizer, Area: domain.Area{District: "Kenema"}}
)

type fixture struct {
	store eventstore.Store
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{store: s, now: time.Date(2015, 2, 10, 12, 0, 0, 0, time.UTC)}
}

// replica builds an Application on the fixture's store, as a second
// actionledger process on a shared store would.
func (f *fixture) replica(t *testing.T) (*app.Application, *prometheus.Registry) {
	t.Helper()
	return f.replicaOver(t, f.store)
}

// replicaOver is replica over s, which is (or wraps) the fixture's store.
func (f *fixture) replicaOver(t *testing.T, s eventstore.Store) (*app.Application, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	a, err := app.New(app.Config{Store: s, Clock: func() time.Time { return f.now }, Registerer: reg, TokenSecret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	return a, reg
}

func seed(t *testing.T, a *app.Application) {
	t.Helper()
	ctx := context.Background()
	must(t)(a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: app.Meta{Actor: coordinator}, ID: "C1", Name: "Kpayama",
		Place: domain.Place{District: "Kenema", Chiefdom: "Nongowa"}}))
	must(t)(a.TriggerCommunity.Handle(ctx, app.TriggerCommunity{Meta: app.Meta{Actor: mobilizer}, CommunityID: "C1", Attendance: ptr(10)}))
	must(t)(a.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: app.Meta{Actor: mobilizer}, ID: "AP1", CommunityID: "C1",
		Title: "Buckets", Category: "hygiene", Kind: "continuous"}))
	must(t)(a.StartActionPoint.Handle(ctx, app.StartActionPoint{Meta: app.Meta{Actor: mobilizer}, ID: "AP1"}))
}

func must(t *testing.T) func(app.Result, error) app.Result {
	return func(r app.Result, err error) app.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// Two replicas writing to one aggregate without If-Match: every note lands,
// because a loser re-reads and re-decides.
func TestReplicasRetryConflicts(t *testing.T) {
	f := newFixture(t)
	a, regA := f.replica(t)
	b, _ := f.replica(t)
	seed(t, a)
	const perReplica = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica)
	for _, r := range []*app.Application{a, b} {
		for range perReplica {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := r.NoteProgress.Handle(context.Background(), app.NoteProgress{Meta: app.Meta{Actor: mobilizer}, ID: "AP1", Note: "n"})
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("note: %v", err)
		}
	}
	v, err := a.Queries.ActionPoint(context.Background(), mobilizer, "AP1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Revision != 2+2*perReplica || v.ProgressNotes != 2*perReplica {
		t.Fatalf("revision %d, notes %d; want %d and %d", v.Revision, v.ProgressNotes, 2+2*perReplica, 2*perReplica)
	}
	if got := counter(t, regA, "actionledger_events_appended_total"); got < 4 {
		t.Fatalf("appended counter %v", got)
	}
}

// With If-Match, a replica that lost the race answers ErrStaleRevision and
// writes nothing: no lost update. The change is a progress note, which the
// lifecycle allows any number of times, so only If-Match can refuse the
// loser: were it ignored, both notes would land.
func TestIfMatchAcrossReplicas(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	b, _ := f.replica(t)
	seed(t, a)
	ctx := context.Background()
	head := func() uint64 {
		t.Helper()
		h, err := f.store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	rev := uint64(2)
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i, r := range []*app.Application{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = r.NoteProgress.Handle(ctx, app.NoteProgress{Meta: app.Meta{Actor: mobilizer, IfMatch: &rev}, ID: "AP1", Note: "race"})
		}()
	}
	wg.Wait()
	ok, stale := 0, 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, domain.ErrStaleRevision):
			stale++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 || stale != 1 {
		t.Fatalf("%d successes, %d refusals; want 1 and 1", ok, stale)
	}
	v, _ := a.Queries.ActionPoint(ctx, mobilizer, "AP1")
	if v.Revision != 3 || v.ProgressNotes != 1 {
		t.Fatalf("revision %d with %d notes, want 3 with 1", v.Revision, v.ProgressNotes)
	}

	// A stale revision sent later, through the replica that did not write
	// it, is refused the same way and writes nothing at all.
	before := head()
	for _, r := range []*app.Application{b, a} {
		_, err := r.NoteProgress.Handle(ctx, app.NoteProgress{Meta: app.Meta{Actor: mobilizer, IfMatch: &rev}, ID: "AP1", Note: "late"})
		if !errors.Is(err, domain.ErrStaleRevision) {
			t.Fatalf("a note at revision %d on revision 3: %v, want ErrStaleRevision", rev, err)
		}
	}
	if h := head(); h != before {
		t.Fatalf("the log grew from %d to %d on refused writes", before, h)
	}
	v, _ = b.Queries.ActionPoint(ctx, mobilizer, "AP1")
	if v.Revision != 3 || v.ProgressNotes != 1 {
		t.Fatalf("after refused writes: revision %d with %d notes, want 3 with 1", v.Revision, v.ProgressNotes)
	}
	// The current revision is accepted.
	cur := uint64(3)
	must(t)(b.NoteProgress.Handle(ctx, app.NoteProgress{Meta: app.Meta{Actor: mobilizer, IfMatch: &cur}, ID: "AP1", Note: "current"}))
}

func TestOccurredAtBounds(t *testing.T) {
	f := newFixture(t)
	a, _ := f.replica(t)
	seed(t, a)
	// AP-OLD was raised a month ago in a community registered before (AP1
	// and C1 now).
	ctx, month := context.Background(), f.now.AddDate(0, 0, -30)
	must(t)(a.RegisterCommunity.Handle(ctx, app.RegisterCommunity{Meta: app.Meta{Actor: coordinator, OccurredAt: month.AddDate(0, 0, -1)},
		ID: "C-OLD", Name: "Kpayama", Place: domain.Place{District: "Kenema", Chiefdom: "Nongowa"}}))
	must(t)(a.RaiseActionPoint.Handle(ctx, app.RaiseActionPoint{Meta: app.Meta{Actor: mobilizer, OccurredAt: month},
		ID: "AP-OLD", CommunityID: "C-OLD", Title: "Buckets", Category: "hygiene", Kind: "continuous"}))
	cases := []struct {
		name    string
		id      string
		at      time.Time
		wantErr bool
	}{
		{"now", "AP1", f.now, false},
		{"days ago after an offline sync", "AP-OLD", f.now.Add(-9 * 24 * time.Hour), false},
		{"days before the action point was raised", "AP1", f.now.Add(-9 * 24 * time.Hour), true},
		{"four minutes ahead (phone clock drift)", "AP1", f.now.Add(4 * time.Minute), false},
		{"six minutes ahead", "AP1", f.now.Add(6 * time.Minute), true},
		{"before 2000", "AP1", time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.NoteProgress.Handle(context.Background(), app.NoteProgress{Meta: app.Meta{Actor: mobilizer, OccurredAt: c.at}, ID: c.id, Note: "n"})
			if c.wantErr {
				var de *domain.Error
				if !errors.As(err, &de) || de.Field != "occurred_at" {
					t.Fatalf("err %v, want a field error on occurred_at", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	// The stored envelope carries the client's field time.
	evs, err := f.store.ReadStream(context.Background(), domain.ActionPointStream("AP1"), 2, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("read: %v %d", err, len(evs))
	}
	if !evs[0].Meta.OccurredAt.Equal(f.now) || evs[0].Meta.ActorID != mobilizer.ID || evs[0].Meta.ActorRole != domain.RoleMobilizer {
		t.Fatalf("envelope %+v", evs[0].Meta)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func ptr[T any](v T) *T { return &v }

// RequestHash is the one fingerprint of the API, sync and import: whitespace in the body does not
// matter, the method, path and content do.
func TestRequestHash(t *testing.T) {
	a := app.RequestHash("POST", "/v1/x", []byte(`{"a": 1}`))
	if !bytes.Equal(a, app.RequestHash("POST", "/v1/x", []byte(`{"a":1}`))) {
		t.Error("whitespace changed the hash")
	}
	for _, other := range [][]byte{
		app.RequestHash("POST", "/v1/y", []byte(`{"a":1}`)),
		app.RequestHash("PUT", "/v1/x", []byte(`{"a":1}`)),
		app.RequestHash("POST", "/v1/x", []byte(`{"a":2}`)),
	} {
		if bytes.Equal(a, other) {
			t.Error("different requests hash alike")
		}
	}
}

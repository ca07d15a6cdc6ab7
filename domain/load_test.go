package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// replay drives an aggregate through steps, keeping its view after each one,
// then checks that loading every prefix of the recorded history reproduces
// the view as it stood after that many events, with the revision being the
// number of events loaded; that an aggregate loaded from a shorter prefix
// and then given the rest (Apply, as the write path brings a kept aggregate
// up to date) is the same; and that the driven aggregate, once its changes
// are marked stored, is too.
type replay[A foldable, V any] struct {
	fresh func() A
	load  func([]domain.Event) (A, error)
	view  func(A) V
	rev   func(V) uint64
	steps []func(A) error
}

func (r replay[A, V]) run(t *testing.T) {
	t.Helper()
	a := r.fresh()
	views := []V{r.view(a)}
	for i, step := range r.steps {
		mustOK(t, step(a), "step")
		if got := len(a.Changes()); got != i+1 {
			t.Fatalf("after step %d: %d events recorded; want %d", i, got, i+1)
		}
		views = append(views, r.view(a))
	}
	history := a.Changes()
	for n := 0; n <= len(history); n++ {
		loaded, err := r.load(history[:n:n])
		mustOK(t, err, "load")
		got := r.view(loaded)
		if !reflect.DeepEqual(got, views[n]) {
			t.Errorf("loaded %d events: View() = %+v\nwant                   %+v", n, got, views[n])
		}
		if r.rev(got) != uint64(n) || loaded.Revision() != uint64(n) {
			t.Errorf("loaded %d events: View().Revision %d, Revision() %d", n, r.rev(got), loaded.Revision())
		}
		if len(loaded.Changes()) != 0 {
			t.Errorf("loaded %d events: %d changes; want none", n, len(loaded.Changes()))
		}
		for k := 0; k <= n; k++ {
			kept, err := r.load(history[:k:k])
			mustOK(t, err, "load")
			mustOK(t, kept.Apply(history[k:n:n]), "apply")
			if got := r.view(kept); !reflect.DeepEqual(got, views[n]) || kept.Revision() != uint64(n) || len(kept.Changes()) != 0 {
				t.Errorf("loaded %d events, then applied %d: revision %d, %d changes, View() = %+v\nwant %+v",
					k, n-k, kept.Revision(), len(kept.Changes()), got, views[n])
			}
		}
	}
	a.Stored()
	if got := r.view(a); !reflect.DeepEqual(got, views[len(history)]) || a.Revision() != uint64(len(history)) || len(a.Changes()) != 0 {
		t.Errorf("after Stored: revision %d, %d changes, View() = %+v\nwant %+v", a.Revision(), len(a.Changes()), got, views[len(history)])
	}
}

// foldable is an aggregate as the write path keeps it between commands.
type foldable interface {
	changes
	Apply([]domain.Event) error
	Stored()
}

func TestLoadReproducesView(t *testing.T) {
	c := triggeredCommunity(t)
	t.Run("community", func(t *testing.T) {
		replay[*domain.Community, domain.CommunityView]{
			fresh: func() *domain.Community { return &domain.Community{} },
			load:  domain.LoadCommunity,
			view:  (*domain.Community).View,
			rev:   func(v domain.CommunityView) uint64 { return v.Revision },
			steps: []func(*domain.Community) error{
				func(c *domain.Community) error { return c.Register(registerCmd()) },
				func(c *domain.Community) error { return c.Trigger(143) },
				func(c *domain.Community) error { return c.RecordVisit(visitCmd()) },
				func(c *domain.Community) error {
					return c.RecordVisit(domain.RecordVisit{Kind: "follow_up", TrustRating: 2})
				},
			},
		}.run(t)
	})
	t.Run("action_point", func(t *testing.T) {
		replay[*domain.ActionPoint, domain.ActionPointView]{
			fresh: func() *domain.ActionPoint { return &domain.ActionPoint{} },
			load:  domain.LoadActionPoint,
			view:  (*domain.ActionPoint).View,
			rev:   func(v domain.ActionPointView) uint64 { return v.Revision },
			steps: []func(*domain.ActionPoint) error{
				func(a *domain.ActionPoint) error { return a.Raise(raiseAPCmd(), c) },
				func(a *domain.ActionPoint) error { return a.NoteProgress("site chosen") },
				func(a *domain.ActionPoint) error { return a.Start("ground cleared") },
				func(a *domain.ActionPoint) error { return a.NoteProgress("bucket bought") },
				func(a *domain.ActionPoint) error { return a.Achieve("photo 17") },
				func(a *domain.ActionPoint) error { return a.Reopen("tap stolen") },
				func(a *domain.ActionPoint) error { return a.Drop("market moved") },
				func(a *domain.ActionPoint) error { return a.Reopen("market back") },
			},
		}.run(t)
	})
	t.Run("referral", func(t *testing.T) {
		replay[*domain.Referral, domain.ReferralView]{
			fresh: func() *domain.Referral { return &domain.Referral{} },
			load:  domain.LoadReferral,
			view:  (*domain.Referral).View,
			rev:   func(v domain.ReferralView) uint64 { return v.Revision },
			steps: []func(*domain.Referral) error{
				func(r *domain.Referral) error { return r.Raise(raiseReferralCmd(), c) },
				func(r *domain.Referral) error { return r.Acknowledge() },
				func(r *domain.Referral) error { return r.Complete(arrivedAt, "admitted") },
				func(r *domain.Referral) error { return r.Close() },
			},
		}.run(t)
	})
	t.Run("referral_cancelled", func(t *testing.T) {
		replay[*domain.Referral, domain.ReferralView]{
			fresh: func() *domain.Referral { return &domain.Referral{} },
			load:  domain.LoadReferral,
			view:  (*domain.Referral).View,
			rev:   func(v domain.ReferralView) uint64 { return v.Revision },
			steps: []func(*domain.Referral) error{
				func(r *domain.Referral) error { return r.Raise(raiseReferralCmd(), c) },
				func(r *domain.Referral) error { return r.Cancel("duplicate") },
			},
		}.run(t)
	})
	t.Run("feedback", func(t *testing.T) {
		replay[*domain.FeedbackItem, domain.FeedbackView]{
			fresh: func() *domain.FeedbackItem { return &domain.FeedbackItem{} },
			load:  domain.LoadFeedbackItem,
			view:  (*domain.FeedbackItem).View,
			rev:   func(v domain.FeedbackView) uint64 { return v.Revision },
			steps: []func(*domain.FeedbackItem) error{
				func(f *domain.FeedbackItem) error { return f.Receive(receiveCmd(), c) },
				func(f *domain.FeedbackItem) error { return f.Refer("DHMT") },
				func(f *domain.FeedbackItem) error { return f.Answer("It is safe.") },
				func(f *domain.FeedbackItem) error { return f.CloseLoop(toldAt, true) },
			},
		}.run(t)
	})
	t.Run("directory", func(t *testing.T) {
		users := []domain.CreateUser{
			createUserCmd(),
			{ID: "u-coord", Name: "Coordinator", Role: "coordinator", TokenHash: []byte{2}},
			{ID: "u-aud", Name: "Auditor", Role: "auditor", District: "Kenema", TokenHash: []byte{3}},
		}
		var steps []func(*domain.Directory) error
		for _, u := range users {
			steps = append(steps, func(d *domain.Directory) error { return d.Create(u) })
		}
		replay[*domain.Directory, directoryView]{
			fresh: func() *domain.Directory { d, _ := domain.LoadDirectory(nil); return d },
			load:  domain.LoadDirectory,
			view: func(d *domain.Directory) directoryView {
				return directoryView{sortedUsers(d), d.Revision() + uint64(len(d.Changes()))}
			},
			rev:   func(v directoryView) uint64 { return v.Revision },
			steps: steps,
		}.run(t)
	})
}

type directoryView struct {
	Users    []domain.User
	Revision uint64
}

// After loading, new commands continue from the loaded revision.
func TestLoadThenCommand(t *testing.T) {
	c := triggeredCommunity(t)
	a := newActionPoint(t, c)
	mustOK(t, a.Start(""), "start")
	loaded, err := domain.LoadActionPoint(a.Changes())
	mustOK(t, err, "load")
	mustOK(t, loaded.Achieve("done"), "achieve")
	if loaded.Revision() != 2 || loaded.View().Revision != 3 {
		t.Errorf("Revision() = %d, View().Revision = %d; want 2 and 3", loaded.Revision(), loaded.View().Revision)
	}
	wantEvents(t, loaded, "ActionPointAchieved.v1")

	d, err := domain.LoadDirectory(nil)
	mustOK(t, err, "load directory")
	mustOK(t, d.Create(createUserCmd()), "create")
	other, err := domain.LoadDirectory(nil)
	mustOK(t, err, "load directory")
	// Apply folds events appended by another replica.
	mustOK(t, other.Apply(d.Changes()), "apply")
	if other.Revision() != 1 || len(other.Users()) != 1 || other.Users()[0].ID != "u-mob-1" {
		t.Errorf("after Apply: revision %d, users %+v", other.Revision(), sortedUsers(other))
	}
	wantError(t, other.Create(createUserCmd()), domain.ErrAlreadyExists, "")
	mustOK(t, other.Apply(nil), "apply nothing")
	if other.Revision() != 1 {
		t.Errorf("Apply(nil) moved the revision to %d", other.Revision())
	}
}

// A stream holds one aggregate's events only: loading anything else fails.
func TestLoadRefusesForeignEvents(t *testing.T) {
	c := triggeredCommunity(t)
	ap := newActionPoint(t, c).Changes()
	ref := newReferral(t, c).Changes()
	fb := newFeedback(t, c).Changes()
	com := c.Changes()
	d, _ := domain.LoadDirectory(nil)
	mustOK(t, d.Create(createUserCmd()), "create user")
	usr := d.Changes()
	export := &domain.ExportRecorded{Format: "ndjson", From: raisedAt}

	loaders := []struct {
		name    string
		load    func([]domain.Event) error
		own     []domain.Event
		foreign []domain.Event
	}{
		{"community", func(h []domain.Event) error { _, err := domain.LoadCommunity(h); return err }, com,
			[]domain.Event{ap[0], ref[0], fb[0], usr[0], export, &domain.ActionPointStarted{}, &domain.ReferralAcknowledged{}}},
		{"action_point", func(h []domain.Event) error { _, err := domain.LoadActionPoint(h); return err }, ap,
			[]domain.Event{com[0], com[1], ref[0], fb[0], usr[0], export, &domain.ReferralClosed{}, &domain.FeedbackAnswered{}}},
		{"referral", func(h []domain.Event) error { _, err := domain.LoadReferral(h); return err }, ref,
			[]domain.Event{com[0], ap[0], fb[0], usr[0], export, &domain.ActionPointDropped{}, &domain.FeedbackLoopClosed{}}},
		{"feedback", func(h []domain.Event) error { _, err := domain.LoadFeedbackItem(h); return err }, fb,
			[]domain.Event{com[0], ap[0], ref[0], usr[0], export, &domain.ReferralCancelled{}, &domain.VisitRecorded{}}},
		{"directory", func(h []domain.Event) error { _, err := domain.LoadDirectory(h); return err }, usr,
			[]domain.Event{com[0], ap[0], ref[0], fb[0], export}},
	}
	for _, l := range loaders {
		mustOK(t, l.load(l.own), l.name+": own history")
		for _, e := range l.foreign {
			t.Run(l.name+"/"+e.EventType(), func(t *testing.T) {
				if err := l.load([]domain.Event{e}); err == nil {
					t.Errorf("loading %s as the only event succeeded", e.EventType())
				}
				mixed := append(append([]domain.Event{}, l.own...), e)
				if err := l.load(mixed); err == nil {
					t.Errorf("loading %s after a valid history succeeded", e.EventType())
				}
			})
		}
	}
	t.Run("directory_apply", func(t *testing.T) {
		d, _ := domain.LoadDirectory(nil)
		if err := d.Apply([]domain.Event{com[0]}); err == nil {
			t.Error("Directory.Apply of a community event succeeded")
		}
		if d.Revision() != 0 {
			t.Errorf("revision %d after a refused Apply", d.Revision())
		}
	})
}

// Loading reads field times back exactly (UTC), so a referral loaded from
// decoded events answers the same hours-to-complete as the one that recorded
// them.
func TestLoadDecodedHistory(t *testing.T) {
	c := triggeredCommunity(t)
	r := newReferral(t, c)
	mustOK(t, r.Acknowledge(), "acknowledge")
	mustOK(t, r.Complete(arrivedAt.In(time.FixedZone("X", 5*3600)), "admitted"), "complete")
	var decoded []domain.Event
	for _, e := range r.Changes() {
		typ, data := domain.Marshal(e)
		d, err := domain.Unmarshal(typ, data)
		mustOK(t, err, "unmarshal "+typ)
		decoded = append(decoded, d)
	}
	loaded, err := domain.LoadReferral(decoded)
	mustOK(t, err, "load")
	if got, want := loaded.View(), r.View(); !reflect.DeepEqual(got, want) {
		t.Errorf("view from decoded history = %+v\nwant                        %+v", got, want)
	}
}

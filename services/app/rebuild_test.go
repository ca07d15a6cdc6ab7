package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
)

// fakeRebuild is a rebuild that runs until the test ends it, with the
// progress the test sets.
type fakeRebuild struct {
	release  chan error
	calls    int
	progress projections.RebuildProgress
}

func (f *fakeRebuild) Rebuild(ctx context.Context) (projections.RebuildReport, error) {
	f.calls++
	select {
	case err := <-f.release:
		if err != nil {
			return projections.RebuildReport{}, err
		}
	case <-ctx.Done():
		return projections.RebuildReport{}, ctx.Err()
	}
	return projections.RebuildReport{Events: 1000, Position: 1000}, nil
}

func (f *fakeRebuild) RebuildProgress() projections.RebuildProgress { return f.progress }

func TestRebuilds(t *testing.T) {
	admin := app.Actor{ID: app.AdminActorID, Role: domain.RoleAdmin}
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Second)
	wait := func(t *testing.T, b *app.Rebuilds) app.RebuildStatus {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := b.Wait(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	cases := []struct {
		name      string
		end       error
		wantState string
		wantError string
	}{
		{"done", nil, app.RebuildDone, ""},
		{"failed", errors.New("disk gone"), app.RebuildFailed, "disk gone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRebuild{release: make(chan error), progress: projections.RebuildProgress{Running: true, Replayed: 250, Head: 1000, Started: t0}}
			b := app.NewRebuilds(f, func() time.Time { return now }, nil)
			if st, err := b.Status(admin); err != nil || st.State != app.RebuildIdle || st.StartedAt != nil {
				t.Fatalf("before any rebuild: %+v %v", st, err)
			}
			st, started, err := b.Start(admin)
			if err != nil || !started || st.State != app.RebuildRunning {
				t.Fatalf("start: %+v started=%v %v", st, started, err)
			}
			if st.EventsPerSecond != 25 || st.RemainingSeconds == nil || *st.RemainingSeconds != 30 || st.ElapsedSeconds != 10 {
				t.Errorf("running at 250 of 1000 after 10 s: %+v; want 25/s and 30 s left", st)
			}
			if _, again, _ := b.Start(admin); again {
				t.Error("a second start while one runs started another")
			}
			f.release <- tc.end
			f.progress.Running, f.progress.Replayed = false, 1000
			st = wait(t, b)
			if st.State != tc.wantState || st.Error != tc.wantError || st.RemainingSeconds != nil {
				t.Errorf("after it ended: %+v; want state %s, error %q", st, tc.wantState, tc.wantError)
			}
			if (st.Report != nil) != (tc.end == nil) {
				t.Errorf("report %+v after an end with error %v", st.Report, tc.end)
			}
			if f.calls != 1 {
				t.Errorf("%d rebuilds ran; want 1", f.calls)
			}
		})
	}
	t.Run("close_stops_a_running_rebuild", func(t *testing.T) {
		f := &fakeRebuild{release: make(chan error)}
		b := app.NewRebuilds(f, nil, nil)
		if _, started, err := b.Start(admin); err != nil || !started {
			t.Fatalf("start: %v %v", started, err)
		}
		b.Close() // returns once the rebuild has ended
		st, err := b.Status(admin)
		if err != nil || st.State != app.RebuildFailed || st.Error != context.Canceled.Error() {
			t.Errorf("after Close: %+v %v; want failed: %v", st, err, context.Canceled)
		}
		if _, started, _ := b.Start(admin); started {
			t.Error("a rebuild started after Close")
		}
	})
	t.Run("only_an_admin", func(t *testing.T) {
		b := app.NewRebuilds(&fakeRebuild{}, nil, nil)
		coord := app.Actor{ID: "c1", Role: domain.RoleCoordinator}
		if _, _, err := b.Start(coord); !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("a coordinator starts a rebuild: %v", err)
		}
		if _, err := b.Status(coord); !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("a coordinator reads the status: %v", err)
		}
	})
}

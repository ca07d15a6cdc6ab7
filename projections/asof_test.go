package projections_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// smallHistory generates a CLEA-shaped history of 64 communities over 40
// weeks (about 9,000 events: several replay pages) into a fresh store.
func smallHistory(t *testing.T) (*boltstore.Store, historySpec) {
	t.Helper()
	spec := cleaSpec(64)
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "events.db"), boltstore.Options{Clock: spec.clock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if n := generateHistory(t, s, spec); n < 8192 {
		t.Fatalf("only %d events: the replay would read a single page", n)
	}
	return s, spec
}

// At a time after everything, both bases see the whole log: as-of must then
// answer exactly what the live read models answer.
func TestAsOfAfterEverythingIsTheLiveAnswer(t *testing.T) {
	store, spec := smallHistory(t)
	end := spec.start.AddDate(0, 0, 7*spec.weeks+30)
	eng, err := projections.Open(context.Background(), projections.Config{Store: store, Path: filepath.Join(t.TempDir(), "p.db"),
		Clock: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	run(t, eng)
	head, _ := store.Head(context.Background())
	waitFor(t, eng, head)
	for _, basis := range []string{projections.BasisRecorded, projections.BasisOccurred} {
		for _, f := range []projections.Filter{{}, {District: "kenema"}, {District: "Kenema", Chiefdom: "Chiefdom 03"}, {CommunityID: "C00017"}} {
			t.Run(basis+"/"+f.District+f.Chiefdom+f.CommunityID, func(t *testing.T) {
				got, err := eng.AsOf(context.Background(), end, basis, f)
				if err != nil {
					t.Fatal(err)
				}
				f.Now = end
				comp, _ := eng.CompletionStats(f, false)
				refs, _ := eng.ReferralStats(f)
				fb, _ := eng.FeedbackStats(f, false)
				trust, _ := eng.TrustStats(f)
				if got.Position != head || comp.Total == 0 {
					t.Fatalf("position %d of %d, %d action points", got.Position, head, comp.Total)
				}
				for name, pair := range map[string][2]any{
					"completion": {got.Completion, comp}, "referrals": {got.Referrals, refs},
					"feedback": {got.Feedback, fb}, "trust": {got.Trust, trust},
				} {
					if !reflect.DeepEqual(pair[0], pair[1]) {
						t.Errorf("%s as of the end differs from the live model:\n as-of %+v\n live  %+v", name, pair[0], pair[1])
					}
				}
			})
		}
	}
}

// sparseStore numbers the global log in steps of 1,000, as KurrentDB's
// commit positions spread: a replay must not assume positions are
// contiguous.
type sparseStore struct {
	eventstore.Store
}

const sparseStep = 1000

func (s sparseStore) Head(ctx context.Context) (uint64, error) {
	h, err := s.Store.Head(ctx)
	return h * sparseStep, err
}

func (s sparseStore) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	recs, err := s.Store.ReadAll(ctx, after/sparseStep, limit)
	for i := range recs {
		recs[i].Position *= sparseStep
	}
	return recs, err
}

func TestAsOfOnASparseLog(t *testing.T) {
	store, spec := smallHistory(t)
	open := func(s eventstore.Store) *projections.Engine {
		eng, err := projections.Open(context.Background(), projections.Config{Store: s, Path: filepath.Join(t.TempDir(), "p.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		return eng
	}
	dense, sparse := open(store), open(sparseStore{store})
	for _, tc := range []struct {
		name  string
		at    time.Time
		basis string
	}{
		{"recorded_mid", spec.start.AddDate(0, 0, 7*17+3), projections.BasisRecorded},
		{"occurred_mid", spec.start.AddDate(0, 0, 7*17+3), projections.BasisOccurred},
		{"recorded_end", spec.start.AddDate(0, 0, 7*41), projections.BasisRecorded},
		{"occurred_before_everything", spec.start.AddDate(0, 0, -1), projections.BasisOccurred},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := dense.AsOf(context.Background(), tc.at, tc.basis, projections.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := sparse.AsOf(context.Background(), tc.at, tc.basis, projections.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Position != want.Position*sparseStep {
				t.Errorf("position %d, want %d", got.Position, want.Position*sparseStep)
			}
			got.Position = want.Position
			if !reflect.DeepEqual(got, want) {
				t.Errorf("sparse log answers\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// On the recorded basis the replay stops at the first event recorded after
// the time: its position is the last one recorded by then.
func TestAsOfRecordedStopsAtTheTime(t *testing.T) {
	store, spec := smallHistory(t)
	eng, err := projections.Open(context.Background(), projections.Config{Store: store, Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	all, err := store.ReadAll(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, week := range []int{0, 1, 9, 20, 39} {
		at := spec.start.AddDate(0, 0, 7*week+6).Add(19 * time.Hour) // after the week's writes
		var want uint64
		for _, r := range all {
			if !r.RecordedAt.After(at) {
				want = r.Position
			}
		}
		got, err := eng.AsOf(context.Background(), at, projections.BasisRecorded, projections.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Position != want || want == 0 {
			t.Errorf("week %d: position %d, want %d", week, got.Position, want)
		}
	}
}

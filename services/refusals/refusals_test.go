package refusals_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/refusals"
)

// The log counts a user's refusals from a time on, and keeps them across a
// reopen.
func TestCountsSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refusals.db")
	b, err := refusals.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	week := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	rs := []app.Refusal{
		{UserID: "mob-1", At: week.Add(-time.Second), Status: 409},
		{UserID: "mob-1", At: week, Status: 400},
		{UserID: "mob-1", At: week, Status: 400},
		{UserID: "mob-1", At: week.Add(50 * time.Hour), Status: 412},
		{UserID: "mob-2", At: week.Add(time.Hour), Status: 403},
	}
	if err := b.Record(context.Background(), rs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(context.Background(), rs[2:]); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := refusals.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reopened.Close() })
	for name, l := range map[string]app.RefusalLog{"reopened": reopened} {
		for _, tc := range []struct {
			name  string
			since time.Time
			want  map[string]int
		}{
			{"this_week_from_its_first_instant", week, map[string]int{"mob-1": 3, "mob-2": 1}},
			{"everything", time.Time{}, map[string]int{"mob-1": 4, "mob-2": 1}},
			{"after_all", week.Add(51 * time.Hour), map[string]int{}},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				got, err := l.CountsSince([]string{"mob-1", "mob-2", "mob-3"}, tc.since)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tc.want) {
					t.Errorf("counts %v; want %v", got, tc.want)
				}
				for id, n := range tc.want {
					if got[id] != n {
						t.Errorf("%s: %d; want %d", id, got[id], n)
					}
				}
			})
		}
	}
}

package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A bit flipped in a stored snapshot is never served: the engine drops the
// snapshot, says so, and rebuilds the model from the log. The damage is the
// one a review found: one bit turns "one_off" into "kne_off" in
// projections.db, and the stats served a kne_off bucket.
func TestDamagedSnapshotIsRebuiltFromTheLog(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, db []byte) int // returns how many places it damaged
	}{
		{"one bit of a kind flipped: one_off becomes kne_off", func(t *testing.T, db []byte) int {
			n := 0
			for i := 0; ; {
				j := bytes.Index(db[i:], []byte("one_off"))
				if j < 0 {
					return n
				}
				db[i+j] ^= 0x04 // 'o' (0x6f) -> 'k' (0x6b)
				i, n = i+j+1, n+1
			}
		}},
		{"one bit of a community id flipped in the trust model", func(t *testing.T, db []byte) int {
			n := 0
			for i := 0; ; {
				j := bytes.Index(db[i:], []byte("KEN-7"))
				if j < 0 {
					return n
				}
				db[i+j+4] ^= 0x01 // KEN-7 -> KEN-6
				i, n = i+j+1, n+1
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, now := savedWorld(t, 6)

			path := filepath.Join(w.dir, "projections.db")
			db, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.damage(t, db) == 0 {
				t.Fatal("the snapshot does not hold the bytes the damage needs")
			}
			if err := os.WriteFile(path, db, 0o600); err != nil {
				t.Fatal(err)
			}

			core, logs := observer.New(zapcore.WarnLevel)
			damaged := w.running(now, projections.Config{SnapshotEvery: time.Hour, Logger: zap.New(core)})
			fresh := w.running(now, projections.Config{Path: filepath.Join(w.dir, "fresh.db")})
			for _, f := range []projections.Filter{{}, {District: "Kenema"}, {CommunityID: "KEN-7"}} {
				got, _ := damaged.CompletionStats(f, true)
				want, _ := fresh.CompletionStats(f, true)
				if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
					t.Errorf("completion %+v after restart on a damaged snapshot:\n got %s\nwant %s", f, g, w)
				}
				if got.ByKind["kne_off"] != nil {
					t.Errorf("a kne_off bucket was served: %s", jsonOf(t, got.ByKind))
				}
				gt, _ := damaged.TrustStats(f)
				wt, _ := fresh.TrustStats(f)
				if g, w := jsonOf(t, gt), jsonOf(t, wt); g != w {
					t.Errorf("trust %+v after restart on a damaged snapshot:\n got %s\nwant %s", f, g, w)
				}
			}
			dropped := logs.FilterMessageSnippet("damaged read-model snapshot").All()
			if len(dropped) == 0 {
				t.Fatalf("no warning about the damaged snapshot; logged: %v", logs.All())
			}
			for _, l := range dropped {
				if l.ContextMap()["projection"] == "" {
					t.Errorf("the warning does not name the model: %v", l.ContextMap())
				}
			}
		})
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A snapshot that survives a restart intact is used, not rebuilt: the
// checksum does not cost the restart its checkpoint.
func TestIntactSnapshotIsUsed(t *testing.T) {
	w := newWorld(t)
	for i := range 5 {
		w.actionPoint(fmt.Sprintf("AP%d", i), t0, &domain.ActionPointStarted{})
	}
	e := w.running(t0.AddDate(0, 1, 0), projections.Config{SnapshotEvery: time.Hour})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.WarnLevel)
	e2 := w.engine(projections.Config{Logger: zap.New(core)})
	t.Cleanup(func() { e2.Close() })
	head, _ := w.store.Head(context.Background())
	if err := e2.Ready(); err != nil || e2.Position() != head {
		t.Fatalf("restored at %d of %d (%v): the intact snapshot was not used", e2.Position(), head, err)
	}
	if logs.Len() != 0 {
		t.Errorf("warnings on an intact snapshot: %v", logs.All())
	}
}

// savedWorld writes community KEN-7 with n started action points and a
// visit a week, runs an engine over them and closes it, which saves every
// model; it returns the world and the engine's now.
func savedWorld(t *testing.T, n int) (*world, time.Time) {
	t.Helper()
	w := newWorld(t)
	w.registered("KEN-7", kenema, t0.Add(-time.Hour))
	for i := range n {
		w.actionPoint(fmt.Sprintf("AP%d", i), t0.Add(time.Duration(i)*time.Hour), &domain.ActionPointStarted{})
		w.visited("KEN-7", t0.AddDate(0, 0, 7*i), 2+i%3)
	}
	now := t0.AddDate(0, 2, 0)
	e := w.running(now, projections.Config{SnapshotEvery: time.Hour})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return w, now
}

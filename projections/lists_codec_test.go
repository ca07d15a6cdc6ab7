package projections_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// variedLists is a lists model with a row of every kind in every state the
// snapshot must carry: a stub community (its items came first), visits
// with concerns, due dates, acknowledged and completed referrals with an
// outcome, closed feedback.
func variedLists(t *testing.T) *projections.Lists {
	t.Helper()
	f := &listsFeed{t: t, m: projections.NewLists(), rev: map[string]uint64{}}
	bo := domain.Place{District: "Bo", Chiefdom: "Kakua", Section: "Sewa"}
	f.add(domain.ActionPointStream("AP0"), "u3", t0, &domain.ActionPointRaised{ID: "AP0", CommunityID: "C9", Place: bo,
		Title: "Before its community", Category: "hygiene", Kind: "one_off"})
	f.add(domain.CommunityStream("C1"), "u1", t0, &domain.CommunityRegistered{ID: "C1", Name: "Kpayama", Place: kenema, Population: 500})
	f.add(domain.CommunityStream("C2"), "u1", t0, &domain.CommunityRegistered{ID: "C2", Name: "Bandajuma", Place: bo})
	f.add(domain.CommunityStream("C1"), "u2", t0.Add(24*time.Hour), &domain.CommunityTriggered{Attendance: 40})
	f.add(domain.CommunityStream("C1"), "u2", t0.Add(72*time.Hour), &domain.VisitRecorded{Kind: "initial", TrustRating: 3,
		Concerns: []domain.Concern{{Need: "basic", Text: "food"}, {Need: "respect", Text: "burials"}}})
	f.add(domain.CommunityStream("C1"), "u2", t0.Add(48*time.Hour), &domain.VisitRecorded{Kind: "follow_up", TrustRating: 4})
	for i, due := range []domain.Date{"2015-02-20", "", "2015-03-20"} {
		id := fmt.Sprintf("AP%d", i+1)
		f.add(domain.ActionPointStream(id), "u2", t0.Add(time.Duration(i)*time.Hour), &domain.ActionPointRaised{ID: id, CommunityID: "C1", Place: kenema,
			Title: "Title " + id, Category: "hygiene", Kind: "one_off", DueDate: due})
	}
	f.add(domain.ActionPointStream("AP2"), "u2", t0.Add(5*time.Hour), &domain.ActionPointAchieved{})
	for i := range 3 {
		id := fmt.Sprintf("R%d", i)
		f.add(domain.ReferralStream(id), "u2", t0.Add(time.Duration(3-i)*time.Hour), &domain.ReferralRaised{ID: id, CommunityID: "C2", Place: bo,
			Kind: "suspected_case", Channel: "phone", PersonRef: "person " + id})
	}
	f.add(domain.ReferralStream("R1"), "u4", t0.Add(6*time.Hour), &domain.ReferralAcknowledged{})
	f.add(domain.ReferralStream("R2"), "u4", t0.Add(30*time.Hour), &domain.ReferralCompleted{Outcome: "admitted", ArrivedAt: t0.Add(28 * time.Hour)})
	for i := range 2 {
		id := fmt.Sprintf("F%d", i)
		f.add(domain.FeedbackStream(id), "u2", t0.Add(time.Duration(i)*time.Hour), &domain.FeedbackReceived{ID: id, CommunityID: "C1", Place: kenema,
			Type: "rumour", NeedCategory: "information", Channel: "meeting"})
	}
	f.add(domain.FeedbackStream("F1"), "u2", t0.Add(9*time.Hour), &domain.FeedbackLoopClosed{CommunicatedAt: t0.Add(8 * time.Hour)})
	return f.m
}

// A snapshot restores the model whole: the same answers to every list, and
// the restored model encodes to the same bytes, so no field is lost.
func TestListsSnapshotRoundTrip(t *testing.T) {
	m := variedLists(t)
	restored := projections.NewLists()
	roundTrip(t, m, restored)
	now := t0.AddDate(0, 1, 0)
	for _, fl := range []projections.Filter{{Now: now}, {District: "bo", Now: now}, {CommunityID: "C1", Now: now}, {CommunityID: "C9", Now: now}} {
		if got, want := listsAnswers(restored, fl), listsAnswers(m, fl); !reflect.DeepEqual(got, want) {
			t.Errorf("restored, %+v answers\n%+v\nwant\n%+v", fl, got, want)
		}
	}
}

// Bytes the encoder did not write are refused with an error, never a
// panic or a model built from part of them: every cut of a snapshot, and
// bytes of another encoding.
func TestListsSnapshotRefusesOtherBytes(t *testing.T) {
	data, err := variedLists(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"a byte more", append(append([]byte(nil), data...), 0)},
		{"the start of a gob stream, as version 5 wrote", []byte("\x3f\xff\x81\x03\x01\x01\x0dlistsSnapshot\x01\xff\x82\x00\x01\x04\x01\x05Comms")},
	}
	for n := 1; n < len(data); n++ {
		cases = append(cases, struct {
			name string
			data []byte
		}{fmt.Sprintf("cut at %d of %d", n, len(data)), data[:n]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := projections.NewLists().UnmarshalBinary(tc.data); err == nil {
				t.Errorf("accepted %d bytes", len(tc.data))
			}
		})
	}
}

// A read-model file written by an older build (state version 5, the lists
// snapshot in gob) is not decoded: the engine says so, starts every model
// from the first event, and serves what a fresh engine serves.
func TestOldSnapshotVersionIsRebuilt(t *testing.T) {
	w, now := savedWorld(t, 4)
	path := filepath.Join(w.dir, "projections.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("state")).Put([]byte("version"), binary.BigEndian.AppendUint64(nil, 5))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zapcore.WarnLevel)
	old := w.engine(projections.Config{Logger: zap.New(core), Clock: func() time.Time { return now }})
	t.Cleanup(func() { old.Close() })
	if pos := old.Position(); pos != 0 {
		t.Fatalf("models restored at %d from a snapshot of another version", pos)
	}
	if logs.FilterMessageSnippet("another version").Len() == 0 {
		t.Errorf("no warning about the snapshot's version; logged: %v", logs.All())
	}
	run(t, old)
	head, err := w.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, old, head)
	fresh := w.running(now, projections.Config{Path: filepath.Join(w.dir, "fresh.db")})
	for _, f := range []projections.Filter{{}, {District: "Kenema"}, {CommunityID: "KEN-7"}} {
		got, _ := old.CompletionStats(f, true)
		want, _ := fresh.CompletionStats(f, true)
		if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
			t.Errorf("completion %+v after the rebuild:\n got %s\nwant %s", f, g, w)
		}
		gt, _ := old.TrustStats(f)
		wt, _ := fresh.TrustStats(f)
		if g, w := jsonOf(t, gt), jsonOf(t, wt); g != w {
			t.Errorf("trust %+v after the rebuild:\n got %s\nwant %s", f, g, w)
		}
	}
}

package projections_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
)

// feedModel folds a history into m with every state the referral, feedback,
// completion and trust snapshots carry: transitions, a second completion and
// a second loop closure (kept as prior), symptom onsets, due dates, visits
// (one reported late, with an earlier field time than the one before it).
func feedModel(t *testing.T, m projections.Model) (last uint64) {
	t.Helper()
	var pos uint64
	rev := map[string]uint64{}
	add := func(stream string, at time.Time, data domain.Event) {
		t.Helper()
		pos++
		rev[stream]++
		if err := m.Apply(&projections.Event{Position: pos, Stream: stream, Revision: rev[stream], OccurredAt: at, RecordedAt: at, ActorID: "u1", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	bo := domain.Place{District: "Bo", Chiefdom: "Kakua", Section: "Sewa"}
	add(domain.CommunityStream("C0"), t0, &domain.CommunityRegistered{ID: "C0", Name: "Gbo", Place: kenema, Population: 300})
	add(domain.CommunityStream("C1"), t0, &domain.CommunityRegistered{ID: "C1", Name: "Sembehun", Place: bo, Population: 500})
	add(domain.CommunityStream("C1"), t0.Add(48*time.Hour), &domain.VisitRecorded{Kind: "initial", TrustRating: 2})
	add(domain.CommunityStream("C1"), t0.Add(24*time.Hour), &domain.VisitRecorded{Kind: "follow_up", TrustRating: 5})
	add(domain.CommunityStream("C0"), t0.Add(200*time.Hour), &domain.VisitRecorded{Kind: "follow_up", TrustRating: 4})
	for i := range 4 {
		at := t0.Add(time.Duration(i) * time.Hour)
		place := kenema
		if i%2 == 1 {
			place = bo
		}
		ap := fmt.Sprintf("AP%d", i)
		add(domain.ActionPointStream(ap), at, &domain.ActionPointRaised{ID: ap, CommunityID: fmt.Sprintf("C%d", i%2), Place: place,
			Title: "Title " + ap, Category: "hygiene", Kind: "one_off", DueDate: domain.Date(fmt.Sprintf("2015-02-%02d", 10+i))})
		ref := fmt.Sprintf("R%d", i)
		add(domain.ReferralStream(ref), at, &domain.ReferralRaised{ID: ref, CommunityID: "C1", Place: place, Kind: "suspected_case",
			Channel: "phone", PersonRef: "person " + ref, SymptomOnset: at.Add(-24 * time.Hour)})
		fb := fmt.Sprintf("F%d", i)
		add(domain.FeedbackStream(fb), at, &domain.FeedbackReceived{ID: fb, CommunityID: "C1", Place: place, Type: "rumour",
			NeedCategory: "information", Channel: "meeting"})
	}
	add(domain.ActionPointStream("AP1"), t0.Add(5*time.Hour), &domain.ActionPointStarted{})
	add(domain.ActionPointStream("AP1"), t0.Add(6*time.Hour), &domain.ActionPointAchieved{})
	add(domain.ActionPointStream("AP2"), t0.Add(7*time.Hour), &domain.ActionPointDropped{})
	add(domain.ReferralStream("R1"), t0.Add(6*time.Hour), &domain.ReferralAcknowledged{})
	add(domain.ReferralStream("R1"), t0.Add(30*time.Hour), &domain.ReferralCompleted{Outcome: "admitted", ArrivedAt: t0.Add(28 * time.Hour)})
	add(domain.ReferralStream("R1"), t0.Add(31*time.Hour), &domain.ReferralCompleted{Outcome: "died", ArrivedAt: t0.Add(29 * time.Hour)})
	add(domain.FeedbackStream("F2"), t0.Add(8*time.Hour), &domain.FeedbackReferred{To: "health"})
	add(domain.FeedbackStream("F2"), t0.Add(9*time.Hour), &domain.FeedbackLoopClosed{CommunicatedAt: t0.Add(8 * time.Hour), Satisfied: true})
	add(domain.FeedbackStream("F2"), t0.Add(10*time.Hour), &domain.FeedbackLoopClosed{CommunicatedAt: t0.Add(9*time.Hour + 30*time.Minute)})
	return pos
}

// feedMore folds, after position pos, new records in both places and
// transitions of records feedModel made.
func feedMore(t *testing.T, m projections.Model, pos uint64) {
	t.Helper()
	add := func(stream string, rev uint64, at time.Time, data domain.Event) {
		t.Helper()
		pos++
		if err := m.Apply(&projections.Event{Position: pos, Stream: stream, Revision: rev, OccurredAt: at, RecordedAt: at, ActorID: "u2", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	bo := domain.Place{District: "Bo", Chiefdom: "Kakua", Section: "Sewa"}
	at := t0.Add(300 * time.Hour)
	add(domain.ActionPointStream("AP9"), 1, at, &domain.ActionPointRaised{ID: "AP9", CommunityID: "C0", Place: kenema,
		Title: "Title AP9", Category: "surveillance", Kind: "continuous", DueDate: "2015-03-01"})
	add(domain.ActionPointStream("AP8"), 1, at, &domain.ActionPointRaised{ID: "AP8", CommunityID: "C1", Place: bo,
		Title: "Title AP8", Category: "hygiene", Kind: "one_off", DueDate: "2015-03-02"})
	add(domain.ReferralStream("R9"), 1, at, &domain.ReferralRaised{ID: "R9", CommunityID: "C0", Place: kenema, Kind: "suspected_case",
		Channel: "hotline_117", PersonRef: "person R9", SymptomOnset: at.Add(-2 * time.Hour)})
	add(domain.FeedbackStream("F9"), 1, at, &domain.FeedbackReceived{ID: "F9", CommunityID: "C1", Place: bo, Type: "question",
		NeedCategory: "basic", Channel: "meeting"})
	add(domain.CommunityStream("C0"), 3, at, &domain.VisitRecorded{Kind: "follow_up", TrustRating: 1})
	add(domain.ActionPointStream("AP0"), 2, at.Add(time.Hour), &domain.ActionPointStarted{})
	add(domain.ReferralStream("R0"), 2, at.Add(time.Hour), &domain.ReferralAcknowledged{})
	add(domain.FeedbackStream("F1"), 2, at.Add(2*time.Hour), &domain.FeedbackLoopClosed{CommunicatedAt: at.Add(time.Hour), Satisfied: true})
}

// A model restored from its snapshot and then fed more events answers as
// the same model that folded them all without a restart: the lists a
// restore builds in bulk take new records as lists built one by one do.
func TestRestoredModelsGoOn(t *testing.T) {
	now := t0.AddDate(0, 1, 0)
	filters := []projections.Filter{{Now: now}, {District: "bo", Now: now}, {District: "kenema", Chiefdom: "nongowa", Now: now},
		{CommunityID: "C0", Now: now}, {CommunityID: "C1", Now: now}}
	cases := []struct {
		name    string
		new     func() projections.Model
		answers func(m projections.Model, f projections.Filter) any
	}{
		{"referrals", func() projections.Model { return projections.NewReferrals() }, func(m projections.Model, f projections.Filter) any {
			return m.(*projections.Referrals).Stats(f)
		}},
		{"feedback", func() projections.Model { return projections.NewFeedback() }, func(m projections.Model, f projections.Filter) any {
			return m.(*projections.Feedback).Stats(f, true)
		}},
		{"completion", func() projections.Model { return projections.NewCompletion() }, func(m projections.Model, f projections.Filter) any {
			return m.(*projections.Completion).Stats(f, true)
		}},
		{"trust", func() projections.Model { return projections.NewTrustMin([4]float64{}, 1) }, func(m projections.Model, f projections.Filter) any {
			return m.(*projections.Trust).Stats(f)
		}},
		{"lists", func() projections.Model { return projections.NewLists() }, func(m projections.Model, f projections.Filter) any {
			return listsAnswers(m.(*projections.Lists), f)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.new()
			last := feedModel(t, m)
			restored := tc.new()
			roundTrip(t, m, restored)
			feedMore(t, m, last)
			feedMore(t, restored, last)
			for _, f := range filters {
				if got, want := jsonOf(t, tc.answers(restored, f)), jsonOf(t, tc.answers(m, f)); got != want {
					t.Errorf("%+v: restored then fed, the model answers\n%s\nwant\n%s", f, got, want)
				}
			}
		})
	}
}

// A snapshot of the referral, feedback, completion and trust models restores them
// whole (the restored model encodes to the same bytes and answers the
// same), and every cut of one is refused with an error, not a panic.
func TestIndicatorSnapshots(t *testing.T) {
	now := t0.AddDate(0, 1, 0)
	cases := []struct {
		name    string
		new     func() projections.Model
		answers func(m projections.Model) any
	}{
		{"referrals", func() projections.Model { return projections.NewReferrals() }, func(m projections.Model) any {
			return []any{m.(*projections.Referrals).Stats(projections.Filter{Now: now}),
				m.(*projections.Referrals).Stats(projections.Filter{District: "bo", Now: now})}
		}},
		{"feedback", func() projections.Model { return projections.NewFeedback() }, func(m projections.Model) any {
			return []any{m.(*projections.Feedback).Stats(projections.Filter{Now: now}, true),
				m.(*projections.Feedback).Stats(projections.Filter{District: "bo", Now: now}, true)}
		}},
		{"completion", func() projections.Model { return projections.NewCompletion() }, func(m projections.Model) any {
			return []any{m.(*projections.Completion).Stats(projections.Filter{Now: now}, true),
				m.(*projections.Completion).Stats(projections.Filter{District: "bo", Now: now}, true)}
		}},
		{"trust", func() projections.Model { return projections.NewTrustMin([4]float64{}, 1) }, func(m projections.Model) any {
			return []any{m.(*projections.Trust).Stats(projections.Filter{Now: now}),
				m.(*projections.Trust).Stats(projections.Filter{District: "bo", Now: now}),
				m.(*projections.Trust).Stats(projections.Filter{Now: now, To: t0.Add(30 * time.Hour)})}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.new()
			feedModel(t, m)
			restored := tc.new()
			data := roundTrip(t, m, restored)
			if got, want := jsonOf(t, tc.answers(restored)), jsonOf(t, tc.answers(m)); got != want {
				t.Errorf("restored, the model answers\n%s\nwant\n%s", got, want)
			}
			for n := range len(data) {
				if err := tc.new().UnmarshalBinary(data[:n]); err == nil {
					t.Errorf("accepted the snapshot cut at %d of %d bytes", n, len(data))
				}
			}
			if err := tc.new().UnmarshalBinary(append(append([]byte(nil), data...), 0)); err == nil {
				t.Error("accepted the snapshot with a byte more")
			}
		})
	}
}

// roundTrip encodes m, restores the bytes into the empty model restored,
// and checks that it encodes to the same bytes: no field was lost. It
// returns the encoding.
func roundTrip(t *testing.T, m, restored projections.Model) []byte {
	t.Helper()
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	again, err := restored.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("the restored model encodes differently: a field was lost or changed\n got %x\nwant %x", again, data)
	}
	return data
}

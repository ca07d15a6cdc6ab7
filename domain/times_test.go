package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// Field times that would make a duration negative are refused with the
// field named: one phone with a wrong date must not turn into a negative
// time-to-completion in the indicators.
func TestTimesCannotPrecedeCreation(t *testing.T) {
	c := triggeredCommunity(t)
	cases := []struct {
		name  string
		do    func() error
		field string
	}{
		{"referral completed before it was raised", func() error {
			r := newReferral(t, c)
			mustOK(t, r.Acknowledge(), "acknowledge")
			return r.Complete(raisedAt.Add(-6*time.Minute), "admitted")
		}, "arrived_at"},
		{"referral completed a few minutes 'before' it was raised (clock drift)", func() error {
			r := newReferral(t, c)
			mustOK(t, r.Acknowledge(), "acknowledge")
			return r.Complete(raisedAt.Add(-4*time.Minute), "admitted")
		}, ""},
		{"referral completed when raised", func() error {
			r := newReferral(t, c)
			mustOK(t, r.Acknowledge(), "acknowledge")
			return r.Complete(raisedAt, "admitted")
		}, ""},
		{"loop closed before the feedback was received", func() error {
			f := &domain.FeedbackItem{}
			cmd := receiveCmd()
			cmd.At = raisedAt
			mustOK(t, f.Receive(cmd, c), "receive")
			mustOK(t, f.Refer("DHMT"), "refer")
			mustOK(t, f.Answer("yes"), "answer")
			return f.CloseLoop(raisedAt.Add(-time.Hour), true)
		}, "communicated_at"},
		{"loop closed a day after receipt", func() error {
			f := &domain.FeedbackItem{}
			cmd := receiveCmd()
			cmd.At = raisedAt
			mustOK(t, f.Receive(cmd, c), "receive")
			mustOK(t, f.Refer("DHMT"), "refer")
			mustOK(t, f.Answer("yes"), "answer")
			return f.CloseLoop(raisedAt.Add(24*time.Hour), true)
		}, ""},
		{"due date in year 0215", func() error {
			a := &domain.ActionPoint{}
			return a.Raise(domain.RaiseActionPoint{ID: "AP-9", Title: "t", Category: "hygiene", Kind: "one_off", DueDate: "0215-03-01"}, c)
		}, "due_date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantInvalid(t, err, tc.field)
		})
	}
}

// One rule for every event's occurred_at against its record: nothing may be
// dated before the record began, beyond the clock-skew allowance. An action
// point "started" 25 years before it was raised, or a visit 25 years before
// its community existed, is refused naming occurred_at.
func TestOccurredAtCannotPrecedeTheRecord(t *testing.T) {
	began := raisedAt
	cases := []struct {
		name   string
		stream string
		at     time.Time
		ok     bool
		fresh  bool // the stream has no event yet
	}{
		{"action point started 25 years before it was raised", domain.ActionPointStream("AP1"), began.AddDate(-25, 0, 0), false, false},
		{"visit 25 years before the community was registered", domain.CommunityStream("C1"), began.AddDate(-25, 0, 0), false, false},
		{"referral acknowledged an hour before it was raised", domain.ReferralStream("R1"), began.Add(-time.Hour), false, false},
		{"loop closed six minutes before the feedback was received", domain.FeedbackStream("F1"), began.Add(-6 * time.Minute), false, false},
		{"four minutes early: a phone's clock drift", domain.ActionPointStream("AP1"), began.Add(-4 * time.Minute), true, false},
		{"exactly the allowance", domain.ActionPointStream("AP1"), began.Add(-domain.ClockSkew), true, false},
		{"at the same moment", domain.CommunityStream("C1"), began, true, false},
		{"a week later", domain.ReferralStream("R1"), began.AddDate(0, 0, 7), true, false},
		{"a new record: nothing to follow", domain.ActionPointStream("AP2"), began.AddDate(-25, 0, 0), true, true},
		{"the user directory is not a record", domain.UsersStream, began.AddDate(-1, 0, 0), true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := began
			if tc.fresh {
				b = time.Time{}
			}
			err := domain.CheckOccurredAt(tc.stream, tc.at, b)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantInvalid(t, err, "occurred_at")
			if msg := err.Error(); !strings.Contains(msg, began.Format(time.RFC3339)) || !strings.Contains(msg, "before") {
				t.Errorf("the message does not say what it is before: %s", msg)
			}
		})
	}
}

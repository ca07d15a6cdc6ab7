package domain_test

import (
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

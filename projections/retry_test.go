package projections_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/actionledger/actionledger/projections"
)

// TestFirstTryThenKeepsRetrySchedule: the cheap first try must not change
// how often, or how far apart, a failing event is tried before it goes to
// the poison queue.
func TestFirstTryThenKeepsRetrySchedule(t *testing.T) {
	retry := middleware.Retry{MaxRetries: 3, InitialInterval: 20 * time.Millisecond, MaxInterval: 500 * time.Millisecond, Multiplier: 2}
	for _, tc := range []struct {
		name      string
		failures  int // the handler fails this many times, then succeeds
		wantCalls int
		wantErr   bool
		// wantGaps are the least waits between attempts.
		wantGaps []time.Duration
	}{
		{name: "succeeds at once", failures: 0, wantCalls: 1},
		{name: "succeeds on the third try", failures: 2, wantCalls: 3, wantGaps: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond}},
		{name: "fails every try", failures: 100, wantCalls: 4, wantErr: true,
			wantGaps: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []time.Time
			h := projections.FirstTryThen(retry)(func(*message.Message) ([]*message.Message, error) {
				calls = append(calls, time.Now())
				if len(calls) <= tc.failures {
					return nil, errors.New("refused")
				}
				return nil, nil
			})
			_, err := h(message.NewMessage("1", nil))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if len(calls) != tc.wantCalls {
				t.Fatalf("%d attempts, want %d", len(calls), tc.wantCalls)
			}
			for i, want := range tc.wantGaps {
				if gap := calls[i+1].Sub(calls[i]); gap < want {
					t.Errorf("attempt %d came %s after the one before, want at least %s", i+2, gap, want)
				}
			}
		})
	}
}

package projections_test

import (
	"bytes"
	"testing"

	"github.com/actionledger/actionledger/domain"
)

// A model sized for the log's streams before a replay (Reserve) answers,
// and saves, as the same model grown a row at a time, whatever the counts
// were; one reserved after it has rows keeps them.
func TestReservedModelsAnswerTheSame(t *testing.T) {
	all := func(n int) map[string]int {
		return map[string]int{domain.CommunityCategory: n, domain.ActionPointCategory: n,
			domain.ReferralCategory: n, domain.FeedbackCategory: n, "users": n}
	}
	when := []struct {
		name   string
		counts map[string]int
		late   bool // reserved after the first events
	}{
		{"counts as the log's", map[string]int{domain.CommunityCategory: 2, domain.ActionPointCategory: 2,
			domain.ReferralCategory: 2, domain.FeedbackCategory: 2}, false},
		{"too few", all(1), false},
		{"too many", all(1000), false},
		{"none", map[string]int{}, false},
		{"after rows", all(1000), true},
	}
	cases, filters := answeringModels()
	for _, tc := range cases {
		for _, w := range when {
			t.Run(tc.name+"/"+w.name, func(t *testing.T) {
				grown, reserved := tc.new(), tc.new()
				r, ok := reserved.(interface{ Reserve(map[string]int) })
				if !ok {
					t.Fatalf("%T does not reserve", reserved)
				}
				if !w.late {
					r.Reserve(w.counts)
				}
				last := feedModel(t, reserved)
				if w.late {
					r.Reserve(w.counts)
				}
				feedMore(t, reserved, last)
				feedMore(t, grown, feedModel(t, grown))
				sameAnswers(t, tc, filters, reserved, grown)
				got, err := reserved.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				want, err := grown.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Error("the reserved model saves other bytes than the grown one")
				}
			})
		}
	}
}

package projections_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/actionledger/actionledger/projections"
)

// sortedPercentile is the definition percentile selects its way to: sort,
// then interpolate linearly between the two closest ranks.
func sortedPercentile(values []float64, p float64) float64 {
	s := slices.Clone(values)
	slices.Sort(s)
	rank := p * float64(len(s)-1)
	lo, hi := int(math.Floor(rank)), int(math.Ceil(rank))
	return s[lo] + (s[hi]-s[lo])*(rank-float64(lo))
}

// The medians and 90th percentiles the indicators show (hours to complete a
// referral, days to close a loop) are exactly those of a sorted list,
// whatever the values' order and however often they repeat.
func TestPercentileEqualsTheSortedDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := []struct {
		name string
		gen  func(i, n int) float64
	}{
		{"random", func(int, int) float64 { return r.NormFloat64() * 40 }},
		{"whole hours, many repeats", func(int, int) float64 { return float64(2 + r.IntN(70)) }},
		{"all equal", func(int, int) float64 { return 3 }},
		{"ascending", func(i, _ int) float64 { return float64(i) }},
		{"descending", func(i, n int) float64 { return float64(n - i) }},
		{"organ pipe", func(i, n int) float64 { return float64(min(i, n-i)) }},
		{"two values", func(int, int) float64 { return float64(r.IntN(2)) - 0.5 }},
	}
	for _, sh := range shapes {
		for _, n := range []int{1, 2, 3, 7, 16, 17, 18, 100, 1001, 20000} {
			t.Run(fmt.Sprintf("%s/%d", sh.name, n), func(t *testing.T) {
				values := make([]float64, n)
				for i := range values {
					values[i] = sh.gen(i, n)
				}
				for _, p := range []float64{0, 0.1, 0.5, 0.9, 0.99, 1} {
					want := sortedPercentile(values, p)
					got := projections.Percentile(slices.Clone(values), p)
					if got == nil || *got != want {
						t.Fatalf("p%v of %d values: got %v, want %v", p, n, got, want)
					}
				}
			})
		}
	}
	if got := projections.Percentile(nil, 0.5); got != nil {
		t.Fatalf("the median of nothing is %v, want none", *got)
	}
}

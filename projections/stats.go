package projections

import (
	"math"
	"slices"
	"time"
)

// rate is n/d, or nil when nothing is counted.
func rate(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// percentile returns the p-quantile (0 ≤ p ≤ 1) of values, interpolating
// linearly between closest ranks (numpy's default, R type 7), or nil for no
// values. values is sorted in place.
func percentile(values []float64, p float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	slices.Sort(values)
	rank := p * float64(len(values)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	v := values[lo] + (values[hi]-values[lo])*(rank-float64(lo))
	return &v
}

// dayOf returns the UTC calendar day of t as days since the Unix epoch.
func dayOf(t time.Time) int64 {
	return t.UTC().Unix() / 86400
	// Unix seconds are UTC; floor division for times before 1970 is not
	// needed: the domain refuses dates before 2000.
}

const (
	hoursIn24 = 24 * time.Hour
	days14    = 14 * 24 * time.Hour
)

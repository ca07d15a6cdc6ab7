package projections

import (
	"math"
	"math/bits"
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
// values. values is reordered in place: the two ranks are selected, not
// sorted for (an as-of question asks for the median of some hundred thousand
// values, and a sort of them cost more than the rest of the question).
func percentile(values []float64, p float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	rank := p * float64(len(values)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	selectRank(values, lo)
	vlo, vhi := values[lo], values[lo]
	if hi != lo {
		// Selection leaves every value after lo at least values[lo]: the
		// next rank is the least of them.
		vhi = slices.Min(values[lo+1:])
	}
	v := vlo + (vhi-vlo)*(rank-float64(lo))
	return &v
}

// selectRank reorders a so that a[k] is the value a sorted a would hold
// there, every value before it no greater and every value after it no less
// (quickselect with a three-way partition: durations in whole hours repeat a
// lot). After as many rounds as a balanced search would need, twice over, it
// sorts what is left instead, so no order of values makes it quadratic.
func selectRank(a []float64, k int) {
	lo, hi := 0, len(a)-1
	budget := 2 * bits.Len(uint(len(a)))
	for hi-lo > 16 {
		if budget--; budget < 0 {
			slices.Sort(a[lo : hi+1])
			return
		}
		m := lo + (hi-lo)/2
		p := median3(a[lo], a[m], a[hi])
		// a[lo:lt] < p, a[lt:i] == p, a[gt+1:hi+1] > p.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case a[i] < p:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case a[i] > p:
				a[i], a[gt] = a[gt], a[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return
		}
	}
	slices.Sort(a[lo : hi+1])
}

func median3(a, b, c float64) float64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
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

// tally counts by a key from a handful (kinds, types, needs, categories:
// the models intern them, so equal keys share their bytes and compare at
// once). A question adds every record it reads to a few of these, and a
// short list searched in order costs less than hashing the key into a map
// each time; the answer's maps are filled from it at the end. The keys
// are the domain's enumerations (eight at most), so the list stays short.
type tally[V any] struct {
	keys []string
	vals []V
}

// at returns the value of k, added as the zero value if new. The pointer
// holds until the next call.
func (t *tally[V]) at(k string) *V {
	for i := range t.keys {
		if t.keys[i] == k {
			return &t.vals[i]
		}
	}
	t.keys = append(t.keys, k)
	t.vals = append(t.vals, *new(V))
	return &t.vals[len(t.vals)-1]
}

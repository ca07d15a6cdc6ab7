package places

import (
	"slices"
	"strings"
)

// Suggest returns up to n of candidates closest to name, closest first:
// those within a few typing slips (optimal string alignment distance, so a
// swap of two letters is one slip) and those name begins or names a word
// of. A name too far from everything gets none: a wild guess is worse than
// the list.
func Suggest(name string, candidates []string, n int) []string {
	q := looseKey(name)
	if q == "" || n <= 0 {
		return nil
	}
	limit := 1
	switch {
	case len(q) > 8:
		limit = 3
	case len(q) > 4:
		limit = 2
	}
	type scored struct {
		name  string
		score float64
	}
	var out []scored
	for _, cand := range candidates {
		best := -1.0
		for _, k := range keys(cand) {
			s := float64(distance(q, k))
			switch {
			case len(q) >= 3 && strings.HasPrefix(k, q):
				s = min(s, 0.5)
			case len(q) >= 3 && slices.Contains(strings.Fields(k), q):
				s = min(s, 1)
			}
			if best < 0 || s < best {
				best = s
			}
		}
		if best >= 0 && best <= float64(limit) {
			out = append(out, scored{cand, best})
		}
	}
	slices.SortStableFunc(out, func(a, b scored) int {
		if a.score != b.score {
			if a.score < b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	names := []string{}
	for _, s := range out {
		if len(names) == n {
			break
		}
		names = append(names, s.name)
	}
	return names
}

// distance is the optimal string alignment distance between a and b (in
// runes): insertions, deletions, substitutions and swaps of adjacent
// letters each count one.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

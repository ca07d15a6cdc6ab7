package projections

import (
	"fmt"
	"sync"
)

// queryCache keeps answers until the model they came from moves: readers far
// outnumber writers, and a national trust series scans every visit.
type queryCache struct {
	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	pos   uint64
	value any
}

const maxCached = 4096

func (c *queryCache) get(key string, pos uint64) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[key]
	if !ok || v.pos != pos {
		return nil, false
	}
	return v.value, true
}

func (c *queryCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
}

func (c *queryCache) put(key string, pos uint64, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCached {
		c.entries = map[string]cached{}
	}
	c.entries[key] = cached{pos: pos, value: v}
}

// query answers from the cache or computes under the model's read lock.
func query[T any](e *Engine, name string, f *Filter, extra string, compute func(m Model) T) (T, uint64) {
	if f.Now.IsZero() {
		f.Now = e.cfg.Clock()
	}
	p := e.byName[name]
	// Answers depend on the day (overdue, the current week), not the second.
	key := fmt.Sprintf("%s|%s|%s|%s|%s|%d|%d|%d|%s", name, f.District, f.Chiefdom, f.CommunityID, f.Category,
		f.From.UnixNano(), f.To.UnixNano(), dayOf(f.Now), extra)
	p.mu.RLock()
	defer p.mu.RUnlock()
	if v, ok := e.cache.get(key, p.pos); ok {
		return v.(T), p.pos
	}
	v := compute(p.model)
	e.cache.put(key, p.pos, v)
	return v, p.pos
}

// CompletionStats answers the action-point indicators, with the weekly
// series when weekly is set, and the model's position.
func (e *Engine) CompletionStats(f Filter, weekly bool) (CompletionStats, uint64) {
	return query(e, NameCompletion, &f, fmt.Sprint(weekly), func(m Model) CompletionStats { return m.(*Completion).Stats(f, weekly) })
}

// ReferralStats answers the referral indicators.
func (e *Engine) ReferralStats(f Filter) (ReferralStats, uint64) {
	return query(e, NameReferrals, &f, "", func(m Model) ReferralStats { return m.(*Referrals).Stats(f) })
}

// FeedbackStats answers the feedback indicators.
func (e *Engine) FeedbackStats(f Filter, weekly bool) (FeedbackStats, uint64) {
	return query(e, NameFeedback, &f, fmt.Sprint(weekly), func(m Model) FeedbackStats { return m.(*Feedback).Stats(f, weekly) })
}

// TrustStats answers the weekly trust trend.
func (e *Engine) TrustStats(f Filter) (TrustStats, uint64) {
	return query(e, NameTrust, &f, "", func(m Model) TrustStats { return m.(*Trust).Stats(f) })
}

package projections

import (
	"container/heap"
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// ListPage is one page of a work list, in the list's sort order.
type ListPage[T any] struct {
	Items []T
	// Next is the sort key of the last item when more follow, "" on the
	// last page. Passed back as After it continues the list right after
	// that item: a key is a sort value plus the record's id, so the page
	// boundary holds while records are added or change between pages
	// (a record whose sort value moved may show on both sides of it, or on
	// neither; none is listed twice on one page).
	Next string
}

// CommunityQuery selects communities. The order is district, chiefdom,
// name (each case-insensitively), then id.
type CommunityQuery struct {
	Filter
	// Status is registered, triggered or under_follow_up; "" for any.
	Status string
	// NoVisitSince, when set, keeps communities with no visit at or after
	// it, including those never visited.
	NoVisitSince time.Time
	// Search keeps names containing it, case-insensitively.
	Search string
	After  string
	Limit  int
}

// CommunityItem is one row of the communities list.
type CommunityItem struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	District         string     `json:"district"`
	Chiefdom         string     `json:"chiefdom"`
	Section          string     `json:"section,omitempty"`
	Population       int        `json:"population"`
	Status           string     `json:"status"`
	RegisteredAt     time.Time  `json:"registered_at"`
	TriggeredAt      *time.Time `json:"triggered_at,omitempty"`
	LastVisitAt      *time.Time `json:"last_visit_at,omitempty"`
	DaysSinceVisit   *int       `json:"days_since_visit,omitempty"`
	Visits           int        `json:"visits"`
	OpenActionPoints int        `json:"open_action_points"`
	Revision         uint64     `json:"revision"`
}

// ActionPointQuery selects action points (Filter.Category narrows the
// category). The order is overdue first (longest overdue first), then the
// others by due date, then those without one, each by id.
type ActionPointQuery struct {
	Filter
	Status  string
	Overdue bool
	After   string
	Limit   int
}

// ActionPointItem is one row of the follow-up list.
type ActionPointItem struct {
	ID            string    `json:"id"`
	Title         string    `json:"title"`
	CommunityID   string    `json:"community_id"`
	CommunityName string    `json:"community_name"`
	District      string    `json:"district"`
	Chiefdom      string    `json:"chiefdom"`
	Category      string    `json:"category"`
	Kind          string    `json:"kind"`
	Status        string    `json:"status"`
	DueDate       string    `json:"due_date,omitempty"`
	Overdue       bool      `json:"overdue"`
	DaysOverdue   int       `json:"days_overdue"`
	RaisedAt      time.Time `json:"raised_at"`
	RaisedBy      string    `json:"raised_by"`
}

// ReferralQuery selects referrals, oldest raised first.
type ReferralQuery struct {
	Filter
	Status string
	Kind   string
	// RaisedBefore, when set, keeps referrals raised at or before it.
	RaisedBefore time.Time
	After        string
	Limit        int
}

// ReferralItem is one row of the referrals queue.
type ReferralItem struct {
	ID             string     `json:"id"`
	CommunityID    string     `json:"community_id"`
	CommunityName  string     `json:"community_name"`
	District       string     `json:"district"`
	Chiefdom       string     `json:"chiefdom"`
	Kind           string     `json:"kind"`
	Channel        string     `json:"channel,omitempty"`
	PersonRef      string     `json:"person_ref,omitempty"`
	Status         string     `json:"status"`
	RaisedAt       time.Time  `json:"raised_at"`
	AgeHours       int        `json:"age_hours"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	ArrivedAt      *time.Time `json:"arrived_at,omitempty"`
	Outcome        string     `json:"outcome,omitempty"`
	RaisedBy       string     `json:"raised_by"`
}

// FeedbackQuery selects feedback items, oldest received first.
type FeedbackQuery struct {
	Filter
	Status string
	Type   string
	// LoopClosed, when set, keeps items whose loop is (true) or is not yet
	// (false) closed.
	LoopClosed *bool
	// ReceivedBefore, when set, keeps items received at or before it.
	ReceivedBefore time.Time
	After          string
	Limit          int
}

// FeedbackItem is one row of the feedback queue.
type FeedbackItem struct {
	ID            string     `json:"id"`
	CommunityID   string     `json:"community_id"`
	CommunityName string     `json:"community_name"`
	District      string     `json:"district"`
	Chiefdom      string     `json:"chiefdom"`
	Type          string     `json:"type"`
	NeedCategory  string     `json:"need_category,omitempty"`
	Channel       string     `json:"channel,omitempty"`
	Status        string     `json:"status"`
	ReceivedAt    time.Time  `json:"received_at"`
	AgeDays       int        `json:"age_days"`
	LoopClosedAt  *time.Time `json:"loop_closed_at,omitempty"`
	RaisedBy      string     `json:"raised_by"`
}

// listFilter is a Filter's place, normalised once per query.
type listFilter struct {
	scope                         scope
	district, chiefdom, community string
}

func newListFilter(f *Filter) listFilter {
	lf := listFilter{scope: f.scope(), community: f.CommunityID}
	if f.District != "" {
		lf.district = domain.PlaceKey(f.District)
	}
	if f.Chiefdom != "" {
		lf.chiefdom = domain.PlaceKey(f.Chiefdom)
	}
	return lf
}

// has reports whether a record at p lies in the filter's place (the scope
// index selects it already, unless the filter names a community and a
// place that does not hold it).
func (lf *listFilter) has(p place) bool {
	return (lf.district == "" || lf.district == p.District) && (lf.chiefdom == "" || lf.chiefdom == p.Chiefdom) &&
		(lf.community == "" || lf.community == p.Community)
}

// statusCode is the index of name in names, -1 for "" (any).
func statusCode(names []string, name string) int {
	if name == "" {
		return -1
	}
	for i, s := range names {
		if s == name {
			return i
		}
	}
	return len(names) // matches nothing
}

// pageOf takes, from records in list order, the first limit that keep
// selects, and the key to continue after when more follow.
func pageOf(records []int32, limit int, keep func(n int32) bool, key func(n int32) string) ([]int32, string) {
	limit = max(limit, 1)
	var ns []int32
	for _, n := range records {
		if !keep(n) {
			continue
		}
		if len(ns) == limit {
			return ns, key(ns[len(ns)-1])
		}
		ns = append(ns, n)
	}
	return ns, ""
}

// Communities answers a page of the communities list.
func (m *Lists) Communities(q CommunityQuery) ListPage[CommunityItem] {
	lf := newListFilter(&q.Filter)
	search := nameKey(q.Search)
	status := statusCode(commStatusNames[:], q.Status)
	ns, next := pageOf(m.commIdx.after(lf.scope, q.After), q.Limit, func(n int32) bool {
		c := &m.comms[n]
		if c.Stub || !lf.has(c.Place) || status >= 0 && int(c.Status) != status {
			return false
		}
		if !q.NoVisitSince.IsZero() && len(c.Visits) > 0 && !c.LastVisit.Before(q.NoVisitSince) {
			return false
		}
		return search == "" || strings.Contains(c.nkey, search)
	}, func(n int32) string { return m.comms[n].key })
	out := ListPage[CommunityItem]{Items: make([]CommunityItem, 0, len(ns)), Next: next}
	for _, n := range ns {
		c := &m.comms[n]
		it := CommunityItem{ID: c.ID, Name: c.Name, District: c.Names[0], Chiefdom: c.Names[1], Section: c.Names[2],
			Population: c.Population, Status: commStatusNames[c.Status], RegisteredAt: c.Registered.UTC(),
			TriggeredAt: timePtr(c.Triggered), Visits: len(c.Visits), OpenActionPoints: int(c.OpenAPs), Revision: c.Revision}
		if len(c.Visits) > 0 {
			it.LastVisitAt = timePtr(c.LastVisit)
			days := max(0, int(q.Now.Sub(c.LastVisit)/(24*time.Hour)))
			it.DaysSinceVisit = &days
		}
		out.Items = append(out.Items, it)
	}
	return out
}

// ActionPoints answers a page of the follow-up list.
func (m *Lists) ActionPoints(q ActionPointQuery) ListPage[ActionPointItem] {
	today := dayOf(q.Now)
	lf := newListFilter(&q.Filter)
	status := statusCode(apStatusNames[:], q.Status)
	top := newTopK(q.After, q.Limit)
	key := make([]byte, 0, 64)
	for _, n := range m.apIdx.list(lf.scope) {
		r := &m.aps[n]
		if q.Category != "" && r.Category != q.Category || !lf.has(m.comms[r.Comm].Place) {
			continue
		}
		od := isOverdue(r.Due, r.Status, today)
		if status >= 0 && int(r.Status) != status || q.Overdue && !od {
			continue
		}
		class := byte(2)
		switch {
		case od:
			class = 0
		case r.Due != 0:
			class = 1
		}
		key = append(binary.BigEndian.AppendUint64(append(key[:0], class), uint64(r.Due)), r.ID...)
		top.offerBytes(key, n)
	}
	ns, next := top.result()
	out := ListPage[ActionPointItem]{Items: make([]ActionPointItem, 0, len(ns)), Next: next}
	for _, n := range ns {
		r := &m.aps[n]
		c := &m.comms[r.Comm]
		od := isOverdue(r.Due, r.Status, today)
		it := ActionPointItem{ID: r.ID, Title: r.Title, CommunityID: c.ID, CommunityName: c.Name,
			District: c.Names[0], Chiefdom: c.Names[1], Category: r.Category, Kind: r.Kind, Status: apStatusNames[r.Status],
			Overdue: od, RaisedAt: fromNano(r.RaisedAt), RaisedBy: r.RaisedBy}
		if r.Due != 0 {
			it.DueDate = time.Unix(r.Due*86400, 0).UTC().Format(time.DateOnly)
		}
		if od {
			it.DaysOverdue = int(today - r.Due)
		}
		out.Items = append(out.Items, it)
	}
	return out
}

// Referrals answers a page of the referrals queue.
func (m *Lists) Referrals(q ReferralQuery) ListPage[ReferralItem] {
	lf := newListFilter(&q.Filter)
	status := statusCode(refStatusNames[:], q.Status)
	before := unixNano(q.RaisedBefore)
	ns, next := pageOf(m.refIdx.after(lf.scope, q.After), q.Limit, func(n int32) bool {
		r := &m.refs[n]
		return lf.has(m.comms[r.Comm].Place) && (status < 0 || int(r.Status) == status) && (q.Kind == "" || r.Kind == q.Kind) &&
			(before == 0 || r.RaisedAt <= before)
	}, m.refIdx.key)
	out := ListPage[ReferralItem]{Items: make([]ReferralItem, 0, len(ns)), Next: next}
	for _, n := range ns {
		r := &m.refs[n]
		c := &m.comms[r.Comm]
		raised := fromNano(r.RaisedAt)
		out.Items = append(out.Items, ReferralItem{ID: r.ID, CommunityID: c.ID, CommunityName: c.Name,
			District: c.Names[0], Chiefdom: c.Names[1], Kind: r.Kind, Channel: r.Channel, PersonRef: r.PersonRef,
			Status: refStatusNames[r.Status], RaisedAt: raised, AgeHours: max(0, int(q.Now.Sub(raised)/time.Hour)),
			AcknowledgedAt: timePtr(fromNano(r.AckAt)), CompletedAt: timePtr(fromNano(r.CompletedAt)), ArrivedAt: timePtr(fromNano(r.ArrivedAt)),
			Outcome: r.Outcome, RaisedBy: r.RaisedBy})
	}
	return out
}

// Feedback answers a page of the feedback queue.
func (m *Lists) Feedback(q FeedbackQuery) ListPage[FeedbackItem] {
	lf := newListFilter(&q.Filter)
	status := statusCode(fbStatusNames[:], q.Status)
	before := unixNano(q.ReceivedBefore)
	ns, next := pageOf(m.fbIdx.after(lf.scope, q.After), q.Limit, func(n int32) bool {
		r := &m.fbs[n]
		return lf.has(m.comms[r.Comm].Place) && (status < 0 || int(r.Status) == status) && (q.Type == "" || r.Type == q.Type) &&
			(q.LoopClosed == nil || (r.Status == fbLoopClosed) == *q.LoopClosed) && (before == 0 || r.ReceivedAt <= before)
	}, m.fbIdx.key)
	out := ListPage[FeedbackItem]{Items: make([]FeedbackItem, 0, len(ns)), Next: next}
	for _, n := range ns {
		r := &m.fbs[n]
		c := &m.comms[r.Comm]
		received := fromNano(r.ReceivedAt)
		out.Items = append(out.Items, FeedbackItem{ID: r.ID, CommunityID: c.ID, CommunityName: c.Name,
			District: c.Names[0], Chiefdom: c.Names[1], Type: r.Type, NeedCategory: r.Need, Channel: r.Channel,
			Status: fbStatusNames[r.Status], ReceivedAt: received, AgeDays: max(0, int(q.Now.Sub(received)/(24*time.Hour))),
			LoopClosedAt: timePtr(fromNano(r.ClosedAt)), RaisedBy: r.RaisedBy})
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// topK keeps the limit+1 smallest keys greater than after, so that a page
// costs one pass over the selected records and no sort of all of them.
type topK struct {
	after string
	limit int
	h     keyHeap
}

type keyed struct {
	key string
	n   int32
}

// keyHeap is a max-heap on key: its root is the largest key kept.
type keyHeap []keyed

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].key > h[j].key }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(keyed)) }
func (h *keyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newTopK(after string, limit int) *topK {
	if limit < 1 {
		limit = 1
	}
	return &topK{after: after, limit: limit}
}

func (t *topK) offer(key string, n int32) {
	if key <= t.after && t.after != "" {
		return
	}
	if len(t.h) <= t.limit {
		heap.Push(&t.h, keyed{key, n})
		return
	}
	if key < t.h[0].key {
		t.h[0] = keyed{key, n}
		heap.Fix(&t.h, 0)
	}
}

// offerBytes offers a key built in a reused buffer; it is copied only when
// kept.
func (t *topK) offerBytes(key []byte, n int32) {
	if t.after != "" && string(key) <= t.after {
		return
	}
	if len(t.h) > t.limit && string(key) >= t.h[0].key {
		return
	}
	t.offer(string(key), n)
}

// result returns the page's records in order and the key to continue after
// ("" when nothing follows).
func (t *topK) result() ([]int32, string) {
	s := slices.Clone(t.h)
	slices.SortFunc(s, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	next := ""
	if len(s) > t.limit {
		s = s[:t.limit]
		next = s[len(s)-1].key
	}
	ns := make([]int32, len(s))
	for i, k := range s {
		ns[i] = k.n
	}
	return ns, next
}

// readLists runs fn on the lists model under its read lock, with f.Now set;
// false when the engine does not run the model.
func (e *Engine) readLists(f *Filter, fn func(m *Lists)) (uint64, bool) {
	if f.Now.IsZero() {
		f.Now = e.cfg.Clock()
	}
	p := e.byName[NameLists]
	if p == nil {
		return 0, false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	fn(p.model.(*Lists))
	return p.pos, true
}

// CommunityPlace is where community id is, as registered, if the read
// models know it.
func (e *Engine) CommunityPlace(id string) (domain.Place, bool) {
	var place domain.Place
	var ok bool
	e.readLists(&Filter{}, func(m *Lists) { place, ok = m.communityPlace(id) })
	return place, ok
}

// Communities answers a page of the communities list and the model's
// position.
func (e *Engine) Communities(q CommunityQuery) (ListPage[CommunityItem], uint64) {
	var out ListPage[CommunityItem]
	pos, _ := e.readLists(&q.Filter, func(m *Lists) { out = m.Communities(q) })
	return out, pos
}

// ActionPoints answers a page of the follow-up list.
func (e *Engine) ActionPoints(q ActionPointQuery) (ListPage[ActionPointItem], uint64) {
	var out ListPage[ActionPointItem]
	pos, _ := e.readLists(&q.Filter, func(m *Lists) { out = m.ActionPoints(q) })
	return out, pos
}

// Referrals answers a page of the referrals queue.
func (e *Engine) Referrals(q ReferralQuery) (ListPage[ReferralItem], uint64) {
	var out ListPage[ReferralItem]
	pos, _ := e.readLists(&q.Filter, func(m *Lists) { out = m.Referrals(q) })
	return out, pos
}

// Feedback answers a page of the feedback queue.
func (e *Engine) Feedback(q FeedbackQuery) (ListPage[FeedbackItem], uint64) {
	var out ListPage[FeedbackItem]
	pos, _ := e.readLists(&q.Filter, func(m *Lists) { out = m.Feedback(q) })
	return out, pos
}

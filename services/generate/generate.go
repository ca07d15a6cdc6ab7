// Package generate writes a deterministic CLEA-shaped history as a backlog
// (services/backlog): the users, then every write in the order a server
// would first have received it, with field times in 2015.
//
// The shape follows PRODUCT.md "Scale to plan for": at scale clea, the 16
// districts of Sierra Leone and their chiefdoms — the server's own places
// list (services/places), so every generated place is one the server
// accepts — 12,000 communities,
// 2,500 mobilizers, 63,110 action points ending 85% in_progress and 7%
// achieved (5% open, 3% dropped), a visit per community per week for 40
// weeks, 100,000 referrals and 100,000 feedback items moving through their
// lifecycles. clea10 is ten times that; tiny is a few hundred items for
// tests.
//
// Late syncs: a mobilizer's phone syncs every evening, except in the weeks
// it is offline (12% of mobilizer-weeks), when the week's reports wait until
// it is back, 1 to 10 days after the week ended. A phone syncs in the order
// it queued, so a late week also holds back the next ones. Coordinators are
// online. Anyone acting on another user's record does so after it arrived.
// Items are written in sync order, which keeps every record's steps, and the
// community every record names, before what depends on them.
//
// The same scale and seed always give the same file, byte for byte.
package generate

import (
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/actionledger/actionledger/services/backlog"
	"github.com/actionledger/actionledger/services/places"
)

// Scale sizes a history.
type Scale struct {
	Name string
	// Districts and ChiefdomsPer limit the places used (0: all).
	Districts, ChiefdomsPer int
	Communities, Mobilizers int
	ActionPoints            int
	Weeks                   int
	Referrals, Feedback     int
}

// Scales are the named sizes.
var Scales = map[string]Scale{
	"tiny": {Name: "tiny", Districts: 2, ChiefdomsPer: 2, Communities: 6, Mobilizers: 3,
		ActionPoints: 20, Weeks: 6, Referrals: 12, Feedback: 12},
	"clea": {Name: "clea", Communities: 12_000, Mobilizers: 2_500,
		ActionPoints: 63_110, Weeks: 40, Referrals: 100_000, Feedback: 100_000},
	"clea10": {Name: "clea10", Communities: 120_000, Mobilizers: 25_000,
		ActionPoints: 631_100, Weeks: 40, Referrals: 1_000_000, Feedback: 1_000_000},
}

// ScaleNames lists the names of Scales, smallest first.
var ScaleNames = []string{"tiny", "clea", "clea10"}

// Final shares of action point statuses (PRODUCT.md: 85% in progress, 7%
// achieved; the rest split between still open and dropped).
const (
	shareInProgress = 0.85
	shareAchieved   = 0.07
	shareOpen       = 0.05
)

// offlineShare is the share of mobilizer-weeks a phone spends offline.
const offlineShare = 0.12

// Start is the Monday the generated campaign begins.
var Start = time.Date(2015, 1, 5, 0, 0, 0, 0, time.UTC)

// Summary counts what a generated history holds, for the operator and for
// checking an import against.
type Summary struct {
	Scale       string
	Seed        uint64
	Users       int
	Items       int
	Events      int // events written when every item is accepted once
	Districts   int
	Chiefdoms   int
	Communities int
	Visits      int
	// ActionPoints counts by final status.
	ActionPoints   int
	ActionPointsBy map[string]int
	Referrals      int
	Feedback       int
	EventsByType   map[string]int
	LateItems      int // synced at least a day after they happened
	MaxLate        time.Duration
	From, To       time.Time // first and last occurred_at
	ItemsByRoute   map[string]int
}

// Generate writes the history of scale sc and seed to w, in Sierra Leone's
// districts and chiefdoms.
func Generate(w io.Writer, sc Scale, seed uint64) (Summary, error) {
	return GenerateIn(w, sc, seed, places.Default())
}

// GenerateIn is Generate in the districts and chiefdoms of pl (another
// country's list, as `serve --places` loads it). Community ids and user
// refs are built from the places' codes.
func GenerateIn(w io.Writer, sc Scale, seed uint64, pl *places.Catalogue) (Summary, error) {
	if sc.Communities <= 0 || sc.Mobilizers <= 0 || sc.Weeks <= 0 {
		return Summary{}, fmt.Errorf("scale %q: communities, mobilizers and weeks must be positive", sc.Name)
	}
	if pl == nil {
		pl = places.Default()
	}
	g := newGen(sc, seed, pl.Districts())
	bw := backlog.NewWriter(w)
	g.plan()
	// A dry run counts the items for the meta line (progress bars), then
	// the real run writes them; both are the same deterministic walk.
	g.dry = true
	count := &counter{}
	g.walk(count.add)
	meta := backlog.Meta{Format: backlog.Format, Scale: sc.Name, Seed: seed, Users: len(g.users), Items: count.n,
		Events: count.n + len(g.users)}
	if err := bw.Meta(meta); err != nil {
		return Summary{}, err
	}
	for _, u := range g.users {
		if err := bw.User(u); err != nil {
			return Summary{}, err
		}
	}
	g = newGen(sc, seed, g.districts)
	g.plan()
	var werr error
	g.walk(func(p *pending) {
		if werr == nil {
			werr = bw.Item(p.item)
		}
	})
	if werr != nil {
		return Summary{}, werr
	}
	if err := bw.Flush(); err != nil {
		return Summary{}, err
	}
	g.sum.Users = len(g.users)
	g.sum.Events += len(g.users)
	g.sum.EventsByType["UserCreated"] = len(g.users)
	return g.sum, nil
}

type counter struct{ n int }

func (c *counter) add(*pending) { c.n++ }

// place is a chiefdom in its district.
type place struct {
	district, code, chiefdom string
	sections                 []string
	mobilizers               []int // indexes into gen.mobs
}

type community struct {
	id     string
	idx    int
	place  *place
	mob    string // user ref
	coord  string
	rng    *rand.Rand
	keyN   int
	chain  chain // the community's own stream
	trust  int
	regAt  time.Time
	trigAt time.Time

	aps       []*apPlan
	referrals []time.Time // raise times, sorted
	feedback  []time.Time
	nRef      int
	nFb       int
	refK, fbK int // numbers of the last referral and feedback item
}

// chain follows one record's stream so that its steps are stamped in order.
type chain struct {
	lastOcc, lastSync time.Time
	lastActor         string
	rev               int
}

type gen struct {
	sc        Scale
	seed      uint64
	districts []places.District
	places    []*place
	users     []backlog.User
	mobs      []string               // mobilizer refs
	coords    map[string]string      // district -> coordinator ref
	role      map[string]string      // ref -> role
	outage    map[string][]time.Time // mobilizer ref -> per week: phone back online (prefix max); zero when online
	comms     []*community
	apFate    []string

	seq  uint64
	dry  bool // counting only: bodies are built (they draw random numbers) but not encoded
	heap pendingHeap
	sum  Summary
	emit func(*pending)
	end  time.Time
}

func newGen(sc Scale, seed uint64, districts []places.District) *gen {
	return &gen{sc: sc, seed: seed, districts: districts, coords: map[string]string{}, role: map[string]string{},
		outage: map[string][]time.Time{},
		end:    Start.AddDate(0, 0, 7*sc.Weeks),
		sum: Summary{Scale: sc.Name, Seed: seed, ActionPointsBy: map[string]int{}, EventsByType: map[string]int{},
			ItemsByRoute: map[string]int{}}}
}

func (g *gen) rng(parts ...uint64) *rand.Rand {
	s := g.seed*0x9E3779B97F4A7C15 + 0x1234567
	for _, p := range parts {
		s = (s ^ p) * 0xBF58476D1CE4E5B9
		s ^= s >> 31
	}
	return rand.New(rand.NewPCG(s, g.seed+0x5851F42D4C957F2D))
}

// plan lays out places, users, communities and the fate of every action
// point, before any item is made.
func (g *gen) plan() {
	r := g.rng(1)
	districts := g.districts
	if g.sc.Districts > 0 && g.sc.Districts < len(districts) {
		districts = districts[:g.sc.Districts]
	}
	for _, d := range districts {
		cds := d.Chiefdoms
		if g.sc.ChiefdomsPer > 0 && len(cds) > g.sc.ChiefdomsPer {
			cds = cds[:g.sc.ChiefdomsPer]
		}
		for _, c := range cds {
			p := &place{district: d.Name, chiefdom: c.Name, code: c.Code}
			for range 3 + r.IntN(4) {
				p.sections = append(p.sections, name(r))
			}
			g.places = append(g.places, p)
		}
		g.sum.Districts++
	}
	g.sum.Chiefdoms = len(g.places)

	// Communities per chiefdom: uneven, as populations are, summing exactly.
	weights := make([]float64, len(g.places))
	total := 0.0
	for i := range weights {
		weights[i] = 0.5 + r.Float64()
		total += weights[i]
	}
	perPlace := apportion(g.sc.Communities, weights, total)
	mobsPer := apportion(max(g.sc.Mobilizers, len(g.places)), weights, total)
	for i := range mobsPer {
		if mobsPer[i] == 0 {
			mobsPer[i] = 1 // every chiefdom with communities has a mobilizer
		}
	}

	// Users: a coordinator per district, a national coordinator and an
	// auditor, then the mobilizers of each chiefdom.
	addUser := func(u backlog.User) {
		g.users = append(g.users, u)
		g.role[u.Ref] = u.Role
	}
	for _, d := range districts {
		ref := "coord-" + d.Code
		g.coords[d.Name] = ref
		addUser(backlog.User{Ref: ref, Name: "Coordinator " + d.Name, Role: "coordinator", District: d.Name})
	}
	addUser(backlog.User{Ref: "coord-national", Name: "National coordinator", Role: "coordinator"})
	addUser(backlog.User{Ref: "auditor", Name: "National auditor", Role: "auditor"})
	for i, p := range g.places {
		for k := range mobsPer[i] {
			ref := fmt.Sprintf("mob-%s-%02d", p.code, k+1)
			p.mobilizers = append(p.mobilizers, len(g.mobs))
			g.mobs = append(g.mobs, ref)
			addUser(backlog.User{Ref: ref, Name: fmt.Sprintf("Mobilizer %s %d", p.chiefdom, k+1), Role: "mobilizer",
				District: p.district, Chiefdom: p.chiefdom})
			g.planOutages(ref, uint64(len(g.mobs)))
		}
	}

	// Action point fates: exact counts, shuffled over all action points.
	n := g.sc.ActionPoints
	inProgress := int(float64(n)*shareInProgress + 0.5)
	achieved := int(float64(n)*shareAchieved + 0.5)
	open := int(float64(n)*shareOpen + 0.5)
	g.apFate = make([]string, 0, n)
	for i := range n {
		switch {
		case i < inProgress:
			g.apFate = append(g.apFate, "in_progress")
		case i < inProgress+achieved:
			g.apFate = append(g.apFate, "achieved")
		case i < inProgress+achieved+open:
			g.apFate = append(g.apFate, "open")
		default:
			g.apFate = append(g.apFate, "dropped")
		}
	}
	r.Shuffle(len(g.apFate), func(i, j int) { g.apFate[i], g.apFate[j] = g.apFate[j], g.apFate[i] })

	idx := 0
	for i, p := range g.places {
		for k := range perPlace[i] {
			c := &community{
				id: fmt.Sprintf("%s-%04d", p.code, k+1), idx: idx, place: p,
				mob:   g.mobs[p.mobilizers[k%len(p.mobilizers)]],
				coord: g.coords[p.district],
				rng:   g.rng(2, uint64(idx)),
			}
			c.nRef = share(g.sc.Referrals, g.sc.Communities, idx)
			c.nFb = share(g.sc.Feedback, g.sc.Communities, idx)
			g.comms = append(g.comms, c)
			idx++
		}
	}
}

// apportion splits n over weights (largest remainder), summing exactly to n.
func apportion(n int, weights []float64, total float64) []int {
	out := make([]int, len(weights))
	type rem struct {
		i int
		f float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(n) * w / total
		out[i] = int(exact)
		given += out[i]
		rems[i] = rem{i, exact - float64(out[i])}
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.f > b.f:
			return -1
		case a.f < b.f:
			return 1
		}
		return 0
	})
	for k := 0; given < n; k++ {
		out[rems[k%len(rems)].i]++
		given++
	}
	return out
}

// share is community idx's part of total spread over n communities.
func share(total, n, idx int) int {
	s := total / n
	if idx < total%n {
		s++
	}
	return s
}

// planOutages decides the weeks a mobilizer's phone is offline and when it
// is back; back[w] is the latest return of weeks up to w (a phone syncs in
// order, so a long outage holds back later weeks too).
func (g *gen) planOutages(ref string, n uint64) {
	r := g.rng(3, n)
	back := make([]time.Time, g.sc.Weeks+8)
	var latest time.Time
	for w := range back {
		if r.Float64() < offlineShare {
			end := Start.AddDate(0, 0, 7*(w+1)+1+r.IntN(10)).Add(19 * time.Hour)
			if end.After(latest) {
				latest = end
			}
		}
		back[w] = latest
	}
	g.outage[ref] = back
}

// syncAt is when an item by actor that happened at t reached the server.
func (g *gen) syncAt(actor string, t time.Time) time.Time {
	if g.role[actor] != "mobilizer" {
		// Online: the next five-minute tick, so a coordinator's items keep
		// their order.
		return t.Truncate(5 * time.Minute).Add(5 * time.Minute)
	}
	// The phone syncs at 19:00, the first evening after the report…
	day := t.Truncate(24 * time.Hour)
	s := day.Add(19 * time.Hour)
	if !s.After(t) {
		s = s.Add(24 * time.Hour)
	}
	// …unless it is offline that week.
	w := int(t.Sub(Start) / (7 * 24 * time.Hour))
	back := g.outage[actor]
	if w >= len(back) {
		w = len(back) - 1
	}
	if w >= 0 && back[w].After(s) {
		s = back[w]
	}
	return s
}

// pending is an item waiting in sync order.
type pending struct {
	sync, occ time.Time
	seq       uint64
	item      backlog.Item
}

type pendingHeap []*pending

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.sync.Equal(b.sync) {
		return a.sync.Before(b.sync)
	}
	if !a.occ.Equal(b.occ) {
		return a.occ.Before(b.occ)
	}
	return a.seq < b.seq
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(*pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

// walk generates week by week and hands items to emit in sync order. Every
// item made while generating week w happened in week w or later and syncs no
// earlier than it happened, so once week w is generated, whatever syncs
// before week w+1 starts is final and can go.
func (g *gen) walk(emit func(*pending)) {
	g.emit = emit
	for w := range g.sc.Weeks {
		for _, c := range g.comms {
			g.week(c, w)
		}
		until := Start.AddDate(0, 0, 7*(w+1))
		for g.heap.Len() > 0 && g.heap[0].sync.Before(until) {
			g.out(heap.Pop(&g.heap).(*pending))
		}
	}
	for g.heap.Len() > 0 {
		g.out(heap.Pop(&g.heap).(*pending))
	}
}

func (g *gen) out(p *pending) {
	late := p.sync.Sub(p.occ)
	if late >= 24*time.Hour {
		g.sum.LateItems++
	}
	g.sum.MaxLate = max(g.sum.MaxLate, late)
	if g.sum.From.IsZero() || p.occ.Before(g.sum.From) {
		g.sum.From = p.occ
	}
	if p.occ.After(g.sum.To) {
		g.sum.To = p.occ
	}
	g.sum.Items++
	g.emit(p)
}

// add stamps an item of chain ch performed by actor, planned for at, and
// queues it. It returns when it happened.
func (g *gen) add(c *community, ch *chain, actor string, at time.Time, event, method, path, ifMatch string, body func(occ time.Time) any) time.Time {
	occ := at.Truncate(time.Minute)
	if !ch.lastOcc.IsZero() && !occ.After(ch.lastOcc) {
		occ = ch.lastOcc.Add(time.Minute)
	}
	if ch.lastActor != "" && ch.lastActor != actor && occ.Before(ch.lastSync.Add(5*time.Minute)) {
		// Nobody acts on a report before it has arrived.
		occ = ch.lastSync.Add(5*time.Minute + time.Duration(c.rng.IntN(180))*time.Minute)
	}
	sync := g.syncAt(actor, occ)
	ch.lastOcc, ch.lastSync, ch.lastActor = occ, sync, actor
	ch.rev++
	c.keyN++
	v := body(occ)
	var raw []byte
	if !g.dry {
		var err error
		if raw, err = marshal(v); err != nil {
			panic(err) // only our own structs are marshalled
		}
	}
	g.seq++
	heap.Push(&g.heap, &pending{sync: sync, occ: occ, seq: g.seq, item: backlog.Item{
		As: actor, Key: c.id + "/" + strconv.Itoa(c.keyN), Method: method, Path: path, IfMatch: ifMatch, Body: raw,
	}})
	g.sum.Events++
	g.sum.EventsByType[event]++
	g.sum.ItemsByRoute[method+" "+routeOf(path)]++
	return occ
}

func routeOf(path string) string {
	// /v1/action-points/X/start -> /v1/action-points/{id}/start
	out := []byte{}
	seg := 0
	for i := 0; i < len(path); i++ {
		if path[i] == '/' {
			seg++
			out = append(out, '/')
			if seg == 3 {
				j := i + 1
				for j < len(path) && path[j] != '/' {
					j++
				}
				out = append(out, "{id}"...)
				i = j - 1
			}
			continue
		}
		out = append(out, path[i])
	}
	return string(out)
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func etag(rev int) string { return `"` + strconv.Itoa(rev) + `"` }

// between returns a time uniformly in [lo, lo+span).
func between(r *rand.Rand, lo time.Time, span time.Duration) time.Time {
	if span <= 0 {
		return lo
	}
	return lo.Add(time.Duration(r.Int64N(int64(span))))
}

const day = 24 * time.Hour

func name(r *rand.Rand) string {
	return namePrefixes[r.IntN(len(namePrefixes))] + nameMiddles[r.IntN(len(nameMiddles))] + nameSuffixes[r.IntN(len(nameSuffixes))]
}

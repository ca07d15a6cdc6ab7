package projections

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
)

// NameLists is the read model behind the work lists (communities, action
// points, referrals, feedback) and the concerns raised at visits.
const NameLists = "lists"

// Community statuses in the read model.
const (
	commRegistered uint8 = iota
	commTriggered
	commUnderFollowUp
)

var commStatusNames = [...]string{domain.StatusRegistered, domain.StatusTriggered, domain.StatusUnderFollowUp}

// Lists is the read model of the work lists: one row per community, action
// point, referral and feedback item, with what a person acting on the list
// needs to see (names, who raised it, when), indexed by place. The indicator
// models keep only what their numbers need; this one keeps what people read.
type Lists struct {
	// snap sizes the next save's buffers (snapSizes).
	snap     *snapSizes
	comms    []lcCommunity
	commByID map[string]int32
	commIdx  *sortedIndex
	aps      []lcActionPoint
	apByID   map[string]int32
	apIdx    index
	refs     []lcReferral
	refByID  map[string]int32
	refIdx   *sortedIndex
	fbs      []lcFeedback
	fbByID   map[string]int32
	fbIdx    *sortedIndex
	names    interner
}

type lcCommunity struct {
	ID         string
	Name       string
	Names      [3]string // district, chiefdom and section as registered
	Place      place
	Population int
	Status     uint8
	Revision   uint64
	Registered time.Time
	Triggered  time.Time
	LastVisit  time.Time // the latest occurred_at among its visits
	Visits     []int64   // occurred_at of each visit (unix nanoseconds), in log order
	Concerns   []lcConcern
	OpenAPs    int32 // action points open or in progress
	// Stub marks a community known only from its items, not registered.
	Stub bool
	// key orders the communities list: district, chiefdom and name keys,
	// then the id; nkey is the name's key. Neither is in snapshots (gob
	// keeps exported fields only): they are derived.
	key, nkey string
}

// lcConcern is one concern raised at a visit: the visit (its index in
// Visits) and the unmet-need category.
type lcConcern struct {
	Visit int32
	Need  string
}

// The rows below name their community by its record number (Comm) and
// keep times as unix nanoseconds (0: none): a national model holds a few
// hundred thousand of them, and the place and names are the community's.

type lcActionPoint struct {
	ID       string
	Comm     int32
	Title    string
	Category string
	Kind     string
	Due      int64 // UTC day number of the due date; 0: none
	Status   uint8
	RaisedAt int64
	RaisedBy string
}

type lcReferral struct {
	ID          string
	Comm        int32
	Kind        string
	Channel     string
	PersonRef   string
	Status      uint8
	RaisedAt    int64
	AckAt       int64
	CompletedAt int64 // occurred_at of the completion
	ArrivedAt   int64
	Outcome     string
	RaisedBy    string
}

type lcFeedback struct {
	ID         string
	Comm       int32
	Type       string
	Need       string
	Channel    string
	Status     uint8
	ReceivedAt int64
	ClosedAt   int64 // communicated_at of the loop closure
	RaisedBy   string
}

// unixNano is t in unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

// fromNano is the time of unixNano's n, UTC; the zero time for 0.
func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// NewLists returns an empty model.
func NewLists() *Lists {
	m := &Lists{}
	m.init()
	return m
}

func (m *Lists) init() {
	// The four indexes list rows by their community's place: they share
	// one numbering of places.
	sc := newScopes()
	*m = Lists{
		commByID: map[string]int32{}, apByID: map[string]int32{}, apIdx: newIndex(sc),
		refByID: map[string]int32{}, fbByID: map[string]int32{},
		names: newInterner(), snap: new(snapSizes),
	}
	m.commIdx = newSortedIndex(sc, func(n int32) string { return m.comms[n].key },
		func(a, b int32) bool { return m.comms[a].key < m.comms[b].key })
	m.refIdx = newSortedIndex(sc, func(n int32) string { return timeKey(m.refs[n].RaisedAt, m.refs[n].ID) },
		func(a, b int32) bool {
			return timeLess(m.refs[a].RaisedAt, m.refs[a].ID, m.refs[b].RaisedAt, m.refs[b].ID)
		})
	m.fbIdx = newSortedIndex(sc, func(n int32) string { return timeKey(m.fbs[n].ReceivedAt, m.fbs[n].ID) },
		func(a, b int32) bool {
			return timeLess(m.fbs[a].ReceivedAt, m.fbs[a].ID, m.fbs[b].ReceivedAt, m.fbs[b].ID)
		})
}

// timeLess orders as timeKey does: by time, then id (times are positive:
// their big-endian bytes order as the numbers do).
func timeLess(ta int64, ida string, tb int64, idb string) bool {
	return ta < tb || ta == tb && ida < idb
}

// timeKey orders records by a time (unix nanoseconds), then id.
func timeKey(t int64, id string) string {
	return string(append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(t)), id...))
}

func apIsOpen(s uint8) bool { return s == apOpen || s == apInProgress }

// Apply implements Model.
func (m *Lists) Apply(ev *Event) error {
	in := m.names
	switch e := ev.Data.(type) {
	case *domain.CommunityRegistered:
		c := lcCommunity{ID: e.ID, Name: e.Name, Names: [3]string{in.str(e.District), in.str(e.Chiefdom), in.str(e.Section)},
			Place: in.placeOf(e.Place, e.ID), Population: e.Population, Status: commRegistered, Revision: ev.Revision, Registered: ev.OccurredAt}
		switch n, ok := m.commByID[e.ID]; {
		case !ok:
			m.addCommunity(c)
		case m.comms[n].Stub:
			// Its items came first (a log the domain would not write):
			// the community takes over its stub, place and all.
			c.OpenAPs = m.comms[n].OpenAPs
			c.key, c.nkey = m.comms[n].Place.District+"\x00"+m.comms[n].Place.Chiefdom+"\x00"+nameKey(c.Name)+"\x00"+c.ID, nameKey(c.Name)
			c.Place = m.comms[n].Place
			m.comms[n] = c
			m.commIdx.resort(c.Place)
		}
	case *domain.CommunityTriggered:
		if c := m.community(ev); c != nil {
			c.Status, c.Triggered = commTriggered, ev.OccurredAt
		}
	case *domain.VisitRecorded:
		if c := m.community(ev); c != nil {
			c.Status = commUnderFollowUp
			at := nanos(ev.OccurredAt)
			c.Visits = append(c.Visits, at)
			if ev.OccurredAt.After(c.LastVisit) {
				c.LastVisit = ev.OccurredAt
			}
			for _, cn := range e.Concerns {
				c.Concerns = append(c.Concerns, lcConcern{Visit: int32(len(c.Visits) - 1), Need: in.str(cn.Need)})
			}
		}
	case *domain.ActionPointRaised:
		if _, dup := m.apByID[e.ID]; !dup {
			rec := lcActionPoint{ID: e.ID, Comm: m.commOf(e.CommunityID, e.Place), Title: e.Title, Category: in.str(e.Category),
				Kind: in.str(e.Kind), Status: apOpen, RaisedAt: unixNano(ev.OccurredAt), RaisedBy: in.str(ev.ActorID)}
			if t := e.DueDate.Time(); !t.IsZero() {
				rec.Due = dayOf(t)
			}
			m.addActionPoint(rec)
			m.comms[rec.Comm].OpenAPs++
		}
	case *domain.ActionPointStarted, *domain.ActionPointReopened:
		m.apStatus(ev, apInProgress)
	case *domain.ActionPointAchieved:
		m.apStatus(ev, apAchieved)
	case *domain.ActionPointDropped:
		m.apStatus(ev, apDropped)
	case *domain.ReferralRaised:
		if _, dup := m.refByID[e.ID]; !dup {
			m.addReferral(lcReferral{ID: e.ID, Comm: m.commOf(e.CommunityID, e.Place), Kind: in.str(e.Kind), Channel: in.str(e.Channel),
				PersonRef: e.PersonRef, Status: refRaised, RaisedAt: unixNano(ev.OccurredAt), RaisedBy: in.str(ev.ActorID)})
		}
	case *domain.ReferralAcknowledged:
		if r := m.referral(ev); r != nil {
			r.Status, r.AckAt = refAcknowledged, unixNano(ev.OccurredAt)
		}
	case *domain.ReferralCompleted:
		if r := m.referral(ev); r != nil {
			r.Status, r.CompletedAt, r.ArrivedAt, r.Outcome = refCompleted, unixNano(ev.OccurredAt), unixNano(e.ArrivedAt), in.str(e.Outcome)
		}
	case *domain.ReferralClosed:
		if r := m.referral(ev); r != nil {
			r.Status = refClosed
		}
	case *domain.ReferralCancelled:
		if r := m.referral(ev); r != nil {
			r.Status = refCancelled
		}
	case *domain.FeedbackReceived:
		if _, dup := m.fbByID[e.ID]; !dup {
			m.addFeedback(lcFeedback{ID: e.ID, Comm: m.commOf(e.CommunityID, e.Place), Type: in.str(e.Type), Need: in.str(e.NeedCategory),
				Channel: in.str(e.Channel), Status: fbReceived, ReceivedAt: unixNano(ev.OccurredAt), RaisedBy: in.str(ev.ActorID)})
		}
	case *domain.FeedbackReferred:
		if f := m.feedback(ev); f != nil {
			f.Status = fbReferred
		}
	case *domain.FeedbackAnswered:
		if f := m.feedback(ev); f != nil {
			f.Status = fbAnswered
		}
	case *domain.FeedbackLoopClosed:
		if f := m.feedback(ev); f != nil {
			f.Status, f.ClosedAt = fbLoopClosed, unixNano(e.CommunicatedAt)
		}
	}
	return nil
}

func (m *Lists) communityOfStream(stream string) *lcCommunity {
	kind, id := domain.SplitStream(stream)
	if kind != domain.CommunityCategory {
		return nil
	}
	if n, ok := m.commByID[id]; ok {
		return &m.comms[n]
	}
	return nil
}

// community is the registered community whose stream ev is on, its
// revision brought up to ev's.
func (m *Lists) community(ev *Event) *lcCommunity {
	if c := m.communityOfStream(ev.Stream); c != nil && !c.Stub {
		c.Revision = max(c.Revision, ev.Revision)
		return c
	}
	return nil
}

// commOf is the record number of community id, which an item names with
// its place; a community the model has not seen gets a stub at that place,
// listed nowhere until it is registered.
func (m *Lists) commOf(id string, p domain.Place) int32 {
	if n, ok := m.commByID[id]; ok {
		return n
	}
	in := m.names
	m.addCommunity(lcCommunity{ID: id, Names: [3]string{in.str(p.District), in.str(p.Chiefdom), in.str(p.Section)},
		Place: in.placeOf(p, id), Stub: true})
	return m.commByID[id]
}

func (m *Lists) referral(ev *Event) *lcReferral {
	_, id := domain.SplitStream(ev.Stream)
	if n, ok := m.refByID[id]; ok {
		return &m.refs[n]
	}
	return nil
}

func (m *Lists) feedback(ev *Event) *lcFeedback {
	_, id := domain.SplitStream(ev.Stream)
	if n, ok := m.fbByID[id]; ok {
		return &m.fbs[n]
	}
	return nil
}

func (m *Lists) apStatus(ev *Event, s uint8) {
	_, id := domain.SplitStream(ev.Stream)
	n, ok := m.apByID[id]
	if !ok {
		return
	}
	r := &m.aps[n]
	if was, now := apIsOpen(r.Status), apIsOpen(s); was != now {
		if now {
			m.comms[r.Comm].OpenAPs++
		} else {
			m.comms[r.Comm].OpenAPs--
		}
	}
	r.Status = s
}

func (m *Lists) addCommunity(c lcCommunity) {
	c.setKeys()
	n := int32(len(m.comms))
	m.comms = append(m.comms, c)
	m.commByID[c.ID] = n
	m.commIdx.add(c.Place, n)
}

func (m *Lists) addActionPoint(r lcActionPoint) {
	n := int32(len(m.aps))
	m.aps = append(m.aps, r)
	m.apByID[r.ID] = n
	m.apIdx.add(m.comms[r.Comm].Place, n)
}

// countOpen adds the open action points of every record to its community;
// a snapshot does not keep the counts.
func (m *Lists) countOpen() {
	for i := range m.aps {
		if r := &m.aps[i]; apIsOpen(r.Status) {
			m.comms[r.Comm].OpenAPs++
		}
	}
}

func (m *Lists) addReferral(r lcReferral) {
	n := int32(len(m.refs))
	m.refs = append(m.refs, r)
	m.refByID[r.ID] = n
	m.refIdx.add(m.comms[r.Comm].Place, n)
}

func (m *Lists) addFeedback(r lcFeedback) {
	n := int32(len(m.fbs))
	m.fbs = append(m.fbs, r)
	m.fbByID[r.ID] = n
	m.fbIdx.add(m.comms[r.Comm].Place, n)
}

// setKeys derives the sort and name keys (not in snapshots).
func (c *lcCommunity) setKeys() {
	c.nkey = nameKey(c.Name)
	c.key = c.Place.District + "\x00" + c.Place.Chiefdom + "\x00" + c.nkey + "\x00" + c.ID
}

// communityPlace is where community id is, as registered.
func (m *Lists) communityPlace(id string) (domain.Place, bool) {
	n, ok := m.commByID[id]
	if !ok || m.comms[n].Stub {
		return domain.Place{}, false
	}
	c := &m.comms[n]
	return domain.Place{District: c.Names[0], Chiefdom: c.Names[1], Section: c.Names[2]}, true
}

// MarshalBinary implements Model (see lists_codec.go for the encoding).
func (m *Lists) MarshalBinary() ([]byte, error) {
	return m.encode(nil), nil
}

// AppendBinary implements encoding.BinaryAppender: the engine encodes a
// save after its checkpoint in one buffer.
func (m *Lists) AppendBinary(b []byte) ([]byte, error) {
	return m.encode(b), nil
}

// UnmarshalBinary implements Model.
func (m *Lists) UnmarshalBinary(data []byte) error {
	m.init()
	if err := m.decode(data); err != nil {
		return err
	}
	// The rows are listed in bulk (bulkIndex, then settle): adding them
	// one by one, each shifted into its place in every list, was most of a
	// restart. A row's lists are its community's place's, numbered once
	// per community. Their shared strings come interned from the decoder.
	commIx := newBulkIndex(len(m.comms))
	commPlace := make([]int32, len(m.comms))
	m.commByID = make(map[string]int32, len(m.comms))
	for i := range m.comms {
		c := &m.comms[i]
		c.setKeys()
		m.commByID[c.ID] = int32(i)
		commPlace[i] = commIx.placeOf(c.Place)
		commIx.addPlace(commPlace[i])
	}
	rowIx := func(n int, comm func(i int) int32) (*bulkIndex, error) {
		ix := commIx.rows(n)
		for i := range n {
			c := comm(i)
			if c < 0 || int(c) >= len(m.comms) {
				return nil, errBadComm
			}
			ix.addPlace(commPlace[c])
		}
		return ix, nil
	}
	apIx, err := rowIx(len(m.aps), func(i int) int32 { return m.aps[i].Comm })
	if err != nil {
		return err
	}
	refIx, err := rowIx(len(m.refs), func(i int) int32 { return m.refs[i].Comm })
	if err != nil {
		return err
	}
	fbIx, err := rowIx(len(m.fbs), func(i int) int32 { return m.fbs[i].Comm })
	if err != nil {
		return err
	}
	m.apByID = make(map[string]int32, len(m.aps))
	for i := range m.aps {
		m.apByID[m.aps[i].ID] = int32(i)
	}
	m.countOpen()
	m.refByID = make(map[string]int32, len(m.refs))
	for i := range m.refs {
		m.refByID[m.refs[i].ID] = int32(i)
	}
	m.fbByID = make(map[string]int32, len(m.fbs))
	for i := range m.fbs {
		m.fbByID[m.fbs[i].ID] = int32(i)
	}
	commIx.fill(&m.commIdx.index)
	apIx.fill(&m.apIdx)
	refIx.fill(&m.refIdx.index)
	fbIx.fill(&m.fbIdx.index)
	m.commIdx.settle()
	m.refIdx.settle()
	m.fbIdx.settle()
	return nil
}

// errBadComm refuses a snapshot whose record names a community it does not
// hold; the engine then drops the snapshot and rebuilds the model.
var errBadComm = errors.New("lists snapshot: a record names a community that is not in it")

// nameKey folds a name for search and sorting: trimmed, inner spaces
// collapsed, lower case.
func nameKey(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

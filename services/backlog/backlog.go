// Package backlog is the file format of queued writes that `actionledger
// generate` writes, `actionledger import` loads into the embedded store and
// `actionledger sync` sends to a server: newline-delimited JSON, one object
// a line, of three kinds.
//
//	{"meta":{"format":"actionledger-backlog/1","scale":"clea","seed":1,"users":2518,"items":1612345}}
//	{"user":{"ref":"mob-0001","name":"Mobilizer 0001","role":"mobilizer","district":"Kailahun","chiefdom":"Luawa"}}
//	{"as":"mob-0001","key":"KAI-LUA-0001/7","method":"POST","path":"/v1/communities/KAI-LUA-0001/visits","body":{…}}
//
// A meta line, when present, comes first and says how many users and items
// follow (for progress bars). User lines declare who performs the items: a
// national history has thousands of mobilizers and coordinators, so each
// item names its user with "as", a ref declared by an earlier user line.
// The rest of an item is exactly a POST /v1/sync item: key (its
// Idempotency-Key, scoped to that user), method, path, optional if_match
// and body. A phone's own backlog is the same without meta, users or "as":
// every item is its one user's.
//
// Items are in sync order: the order a server first received them, which is
// not field-time order (offline phones sync days late); every item comes
// after the items it depends on (the community it names, the earlier steps
// of its record).
package backlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
)

// Format names this version of the file format in the meta line.
const Format = "actionledger-backlog/1"

// Meta is the optional first line.
type Meta struct {
	Format string `json:"format"`
	Scale  string `json:"scale,omitempty"`
	Seed   uint64 `json:"seed,omitempty"`
	Users  int    `json:"users"`
	Items  int    `json:"items"`
	// Events is how many events the items write when each is accepted once.
	Events int `json:"events,omitempty"`
}

// User declares a user the items may name.
type User struct {
	// Ref is how items name the user ("as"); it is not the user's id, which
	// the server derives from the creation's idempotency key.
	Ref      string `json:"ref"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	District string `json:"district,omitempty"`
	Chiefdom string `json:"chiefdom,omitempty"`
}

// Key is the Idempotency-Key under which the admin creates the user, so that
// importing a file and syncing it (or syncing it twice) creates each user
// once and answers the same token.
func (u User) Key() string { return "user/" + u.Ref }

// Body is the POST /v1/users body that creates the user. Import and sync
// both use it, so the request fingerprint is the same either way.
func (u User) Body() json.RawMessage {
	b, _ := json.Marshal(struct {
		Name     string `json:"name"`
		Role     string `json:"role"`
		District string `json:"district,omitempty"`
		Chiefdom string `json:"chiefdom,omitempty"`
	}{u.Name, u.Role, u.District, u.Chiefdom})
	return b
}

// Item is one queued write.
type Item struct {
	// As is the ref of the user who performs the item; empty in a phone's
	// own backlog.
	As      string          `json:"as,omitempty"`
	Key     string          `json:"key"`
	Method  string          `json:"method"`
	Path    string          `json:"path"`
	IfMatch string          `json:"if_match,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
}

// line is any line of the file.
type line struct {
	Meta *Meta `json:"meta,omitempty"`
	User *User `json:"user,omitempty"`
	Item
}

// Reader reads a backlog line by line.
type Reader struct {
	sc   *bufio.Scanner
	n    int
	meta *Meta
	// Users are the users declared so far, by ref.
	Users map[string]User
	// Order lists the refs of Users in the order they were declared.
	Order []string
}

// MaxLine bounds one line: an item's body is at most 256 KiB on the server.
const MaxLine = 1 << 20

// NewReader returns a Reader of r (nil for a Reader fed only through Take).
func NewReader(r io.Reader) *Reader {
	if r == nil {
		return &Reader{Users: map[string]User{}}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	return &Reader{sc: sc, Users: map[string]User{}}
}

// Meta returns the meta line, once Next has read past it (nil if none).
func (r *Reader) Meta() *Meta { return r.meta }

// Line is the number of the line last read, from 1.
func (r *Reader) Line() int { return r.n }

// Next returns the next item, having taken in any meta and user lines
// before it; io.EOF at the end. Errors name the line.
func (r *Reader) Next() (Item, error) {
	for r.sc.Scan() {
		it, isItem, err := r.Take(r.n+1, r.sc.Bytes())
		if err != nil {
			return Item{}, err
		}
		if isItem {
			return it, nil
		}
	}
	if err := r.sc.Err(); err != nil {
		return Item{}, fmt.Errorf("after line %d: %w", r.n, err)
	}
	return Item{}, io.EOF
}

// Take takes in line n (from 1) of the file, read by the caller, as Next
// would: a meta or user line is kept, a blank line skipped, and an item
// returned with isItem true. It lets a reader of its own (the importer,
// which hands items to parallel parsers once the head is read) hold the
// head of a file to the same rules as Next. Errors name the line.
func (r *Reader) Take(n int, raw []byte) (it Item, isItem bool, err error) {
	r.n = n
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Item{}, false, nil
	}
	l, err := parseLine(raw)
	if err != nil {
		return Item{}, false, fmt.Errorf("line %d: %w", r.n, err)
	}
	switch {
	case l.Meta != nil:
		if r.n != 1 {
			return Item{}, false, fmt.Errorf("line %d: a meta line must be the first", r.n)
		}
		m := *l.Meta
		r.meta = &m
	case l.User != nil:
		if _, dup := r.Users[l.User.Ref]; dup {
			return Item{}, false, fmt.Errorf("line %d: user %q declared twice", r.n, l.User.Ref)
		}
		r.Users[l.User.Ref] = *l.User
		r.Order = append(r.Order, l.User.Ref)
	default:
		if l.As != "" {
			if _, ok := r.Users[l.As]; !ok {
				return Item{}, false, fmt.Errorf("line %d: item performed by %q, which no earlier user line declares", r.n, l.As)
			}
		}
		return l.Item, true, nil
	}
	return Item{}, false, nil
}

// ParseItem parses one line that must be an item. It checks nothing about
// users: the caller knows which are declared.
func ParseItem(raw []byte) (Item, error) {
	if it, ok := parseItemFast(raw); ok {
		return it, nil
	}
	l, err := parseLine(raw)
	if err != nil {
		return Item{}, err
	}
	if l.Meta != nil || l.User != nil {
		return Item{}, errors.New("meta and user lines must come before the first item")
	}
	return l.Item, nil
}

func parseLine(raw []byte) (line, error) {
	var l line
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, fmt.Errorf("not a backlog line: %w", err)
	}
	if dec.More() {
		return l, errors.New("more than one JSON value on the line")
	}
	kinds := 0
	if l.Meta != nil {
		kinds++
	}
	if l.User != nil {
		kinds++
		if l.User.Ref == "" || l.User.Role == "" {
			return l, errors.New("a user needs ref and role")
		}
	}
	if l.Key != "" || l.Method != "" || l.Path != "" || l.As != "" || l.Body != nil || l.IfMatch != "" {
		kinds++
		if l.Key == "" || l.Method == "" || l.Path == "" {
			return l, errors.New("an item needs key, method and path")
		}
	}
	if kinds != 1 {
		return l, errors.New("a line is exactly one of a meta line, a user or an item")
	}
	// A null body is no body, as POST /v1/sync takes it: the request (and
	// its fingerprint) is the same either way.
	if bytes.Equal(bytes.TrimSpace(l.Body), []byte("null")) {
		l.Body = nil
	}
	return l, nil
}

// Writer writes a backlog.
type Writer struct {
	w   *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
}

// NewWriter returns a Writer to w; call Flush at the end.
func NewWriter(w io.Writer) *Writer {
	bw := &Writer{w: bufio.NewWriterSize(w, 1<<20)}
	bw.enc = json.NewEncoder(&bw.buf)
	bw.enc.SetEscapeHTML(false)
	return bw
}

func (w *Writer) write(v any) error {
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	_, err := w.w.Write(w.buf.Bytes())
	return err
}

// Meta writes the meta line; it must be the first.
func (w *Writer) Meta(m Meta) error {
	return w.write(struct {
		Meta Meta `json:"meta"`
	}{m})
}

// User writes a user line.
func (w *Writer) User(u User) error {
	return w.write(struct {
		User User `json:"user"`
	}{u})
}

// Item writes an item line.
func (w *Writer) Item(it Item) error { return w.write(it) }

// Flush writes out what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// Partitioner tells which community an item belongs to, so that items can
// be spread over parallel workers without breaking the order that matters:
// every record belongs to one community, and a community's items keep their
// file order in one worker. It learns which community an action point,
// referral or feedback item belongs to from the item that creates it.
//
// It remembers a record by a 64-bit hash of its name and its community by
// number: 29 bytes a record that the collector never scans, where a
// map[string]string of names held 106 (the name's own allocation, two
// string headers and the map's slot): 277 MB for the 2.6 million records
// of ten times CLEA, in an importer whose heap is bounded
// (BenchmarkPartitionerRecords, 2.6 million records, both builds). Two
// records that share a hash in different communities are both forgotten
// (Resolve answers "", and their items run alone, after everything before
// them): a slower import for those items, never one in the wrong order.
type Partitioner struct {
	hash        func(string) uint64
	owner       map[uint64]uint32 // record hash -> community number, or ambiguous
	communities []string          // by number
	numbers     map[string]uint32
}

// ambiguous marks a hash that records of two communities share.
const ambiguous = ^uint32(0)

// NewPartitioner returns an empty Partitioner.
func NewPartitioner() *Partitioner {
	seed := maphash.MakeSeed()
	return newPartitioner(func(s string) uint64 { return maphash.String(seed, s) })
}

func newPartitioner(hash func(string) uint64) *Partitioner {
	return &Partitioner{hash: hash, owner: map[uint64]uint32{}, numbers: map[string]uint32{}}
}

// Hint is what one item says about its community on its own: the community
// itself, or the record whose community it is (learnt from an earlier item).
// Hints of many items can be computed in parallel; Resolve then runs in file
// order.
type Hint struct {
	Community string
	// Record is "resource/id" of the record the item names or creates.
	Record string
	// Creates is true when the item creates Record in Community.
	Creates bool
}

// HintOf returns what it says about its community.
func HintOf(it Item) Hint {
	p, _, _ := strings.Cut(it.Path, "?")
	p = strings.Trim(p, "/")
	rest, ok := strings.CutPrefix(p, "v1/")
	if !ok {
		return Hint{}
	}
	res, rest, _ := strings.Cut(rest, "/")
	id, _, _ := strings.Cut(rest, "/")
	switch res {
	case "communities":
		if id != "" {
			return Hint{Community: id}
		}
		var body struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(it.Body, &body)
		return Hint{Community: body.ID}
	case "action-points", "referrals", "feedback":
		if id != "" {
			return Hint{Record: res + "/" + id}
		}
		var body struct {
			ID          string `json:"id"`
			CommunityID string `json:"community_id"`
		}
		if json.Unmarshal(it.Body, &body) != nil || body.CommunityID == "" {
			return Hint{}
		}
		h := Hint{Community: body.CommunityID}
		if body.ID != "" {
			h.Record, h.Creates = res+"/"+body.ID, true
		}
		return h
	}
	return Hint{}
}

// Resolve returns the community of the item h was computed from, or ""
// when it cannot tell (an unknown route, a record created outside the
// file); such items must be run when everything before them has been.
func (p *Partitioner) Resolve(h Hint) string {
	switch {
	case h.Creates:
		n := p.number(h.Community)
		k := p.hash(h.Record)
		if was, ok := p.owner[k]; ok && was != n {
			// Another community's record with this hash, or this record
			// created again elsewhere (the server refuses that one):
			// neither can be told any more.
			n = ambiguous
		}
		p.owner[k] = n
		return h.Community
	case h.Community != "":
		return h.Community
	case h.Record != "":
		if n, ok := p.owner[p.hash(h.Record)]; ok && n != ambiguous {
			return p.communities[n]
		}
	}
	return ""
}

// number returns the number of community, numbering it if it is new.
func (p *Partitioner) number(community string) uint32 {
	if n, ok := p.numbers[community]; ok {
		return n
	}
	n := uint32(len(p.communities))
	p.communities = append(p.communities, community)
	p.numbers[community] = n
	return n
}

// Community is Resolve(HintOf(it)).
func (p *Partitioner) Community(it Item) string { return p.Resolve(HintOf(it)) }

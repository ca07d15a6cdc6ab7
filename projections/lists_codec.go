package projections

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/actionledger/actionledger/domain/wire"
)

// The lists model's snapshot is its own binary encoding, not gob: gob spent
// most of a restart building a fresh string for every field of every row
// (hundreds of thousands of rows on a national history), which the
// restore then looked up in the interner one by one to share them again.
//
// Layout (every integer a varint, as domain/wire writes them):
//
//	shared   count, then each string: the values rows repeat (places, kinds,
//	         channels, actors, community ids), each stored once; a row names
//	         one by its number in this table
//	text     one string: every value that is a row's own (ids, names,
//	         titles, person references), end to end; a row gives the length
//	         of each, and they are cut from it in order
//	rows     communities, action points, referrals, feedback: a count, then
//	         each row's fields in the order of its struct
//
// Decoding builds one string for the whole text section and one per shared
// value, so a restore allocates a handful of objects per row, not one per
// field, and fills the interner with the shared values only.

// snapEncoder writes the three sections as it goes, joining them at the
// end (finish). The referral, feedback and completion models' snapshots use
// the same layout with their own rows.
type snapEncoder struct {
	sharedIdx map[string]uint64
	shared    *wire.Encoder
	nShared   uint64
	text      *wire.Encoder
	rows      *wire.Encoder
}

func (e *snapEncoder) ref(s string) {
	i, ok := e.sharedIdx[s]
	if !ok {
		i = e.nShared
		e.sharedIdx[s] = i
		e.nShared++
		e.shared.String(s)
	}
	e.rows.Uvarint(i)
}

func (e *snapEncoder) own(s string) {
	e.text.RawString(s)
	e.rows.Uvarint(uint64(len(s)))
}

func (e *snapEncoder) place(p place) {
	e.ref(p.District)
	e.ref(p.Chiefdom)
	e.ref(p.Community)
}

// snapSizes remembers the sections' sizes at a model's last save, so that
// the next one allocates each section once: grown from empty, the buffers
// were copied a dozen times each, more than half of encoding the lists
// model, and several times the encoded size in garbage at every save.
type snapSizes struct {
	shared, text, rows, nShared atomic.Int64
}

// set notes the sizes of a snapshot's sections, saved or restored.
func (h *snapSizes) set(shared, text, rows, nShared int) {
	h.shared.Store(int64(shared))
	h.text.Store(int64(text))
	h.rows.Store(int64(rows))
	h.nShared.Store(int64(nShared))
}

// snapSlack is how much larger than last time each section is made.
func snapSlack(n int64) int { return int(n + n/16 + 64) }

func newSnapEncoder(h *snapSizes) *snapEncoder {
	return &snapEncoder{
		sharedIdx: make(map[string]uint64, int(h.nShared.Load())),
		shared:    wire.NewEncoder(make([]byte, 0, snapSlack(h.shared.Load()))),
		text:      wire.NewEncoder(make([]byte, 0, snapSlack(h.text.Load()))),
		rows:      wire.NewEncoder(make([]byte, 0, snapSlack(h.rows.Load()))),
	}
}

// snapTrailer is room left after an encoding for the caller to append a
// checksum without copying it (the engine seals what it stores).
const snapTrailer = 4

// finish joins the sections after dst, notes their sizes in h for the next
// save, and returns the extended dst.
func (e *snapEncoder) finish(dst []byte, h *snapSizes) []byte {
	r := e.rows
	h.set(len(e.shared.Bytes()), len(e.text.Bytes()), len(r.Bytes()), int(e.nShared))
	dst = slices.Grow(dst, 2*binary.MaxVarintLen64+len(e.shared.Bytes())+len(e.text.Bytes())+len(r.Bytes())+snapTrailer)
	out := wire.NewEncoder(dst)
	out.Uvarint(e.nShared)
	out.Raw(e.shared.Bytes())
	out.Blob(e.text.Bytes())
	out.Raw(r.Bytes())
	return out.Bytes()
}

func (m *Lists) encode(dst []byte) []byte {
	e := newSnapEncoder(m.snap)
	r := e.rows
	r.Uvarint(uint64(len(m.comms)))
	for i := range m.comms {
		c := &m.comms[i]
		e.ref(c.ID)
		e.own(c.Name)
		for _, n := range c.Names {
			e.ref(n)
		}
		e.place(c.Place)
		r.Varint(int64(c.Population))
		r.Uvarint(uint64(c.Status))
		r.Uvarint(c.Revision)
		r.Time(c.Registered)
		r.Time(c.Triggered)
		r.Time(c.LastVisit)
		r.Uvarint(uint64(len(c.Visits)))
		for _, v := range c.Visits {
			r.Varint(v)
		}
		r.Uvarint(uint64(len(c.Concerns)))
		for _, cn := range c.Concerns {
			r.Varint(int64(cn.Visit))
			e.ref(cn.Need)
		}
		r.Bool(c.Stub)
	}
	r.Uvarint(uint64(len(m.aps)))
	for i := range m.aps {
		a := &m.aps[i]
		e.own(a.ID)
		r.Varint(int64(a.Comm))
		e.own(a.Title)
		e.ref(a.Category)
		e.ref(a.Kind)
		r.Varint(a.Due)
		r.Uvarint(uint64(a.Status))
		r.Varint(a.RaisedAt)
		e.ref(a.RaisedBy)
	}
	r.Uvarint(uint64(len(m.refs)))
	for i := range m.refs {
		x := &m.refs[i]
		e.own(x.ID)
		r.Varint(int64(x.Comm))
		e.ref(x.Kind)
		e.ref(x.Channel)
		e.own(x.PersonRef)
		r.Uvarint(uint64(x.Status))
		r.Varint(x.RaisedAt)
		r.Varint(x.AckAt)
		r.Varint(x.CompletedAt)
		r.Varint(x.ArrivedAt)
		e.ref(x.Outcome)
		e.ref(x.RaisedBy)
	}
	r.Uvarint(uint64(len(m.fbs)))
	for i := range m.fbs {
		f := &m.fbs[i]
		e.own(f.ID)
		r.Varint(int64(f.Comm))
		e.ref(f.Type)
		e.ref(f.Need)
		e.ref(f.Channel)
		r.Uvarint(uint64(f.Status))
		r.Varint(f.ReceivedAt)
		r.Varint(f.ClosedAt)
		e.ref(f.RaisedBy)
	}
	return e.finish(dst, m.snap)
}

var (
	errSnapShared = errors.New("a row names a shared value the table does not hold")
	errSnapText   = errors.New("a row's text runs past the text section")
	errSnapLeft   = errors.New("text left over after the last row")
)

// snapDecoder reads what snapEncoder wrote.
type snapDecoder struct {
	d      *wire.Decoder
	shared []string
	text   string
	off    int
	err    error
}

func (ld *snapDecoder) ref() string {
	i := ld.d.Uvarint()
	if i >= uint64(len(ld.shared)) {
		if ld.err == nil && ld.d.Err() == nil {
			ld.err = errSnapShared
		}
		return ""
	}
	return ld.shared[i]
}

func (ld *snapDecoder) own() string {
	n := ld.d.Uvarint()
	if n > uint64(len(ld.text)-ld.off) {
		if ld.err == nil && ld.d.Err() == nil {
			ld.err = errSnapText
		}
		return ""
	}
	s := ld.text[ld.off : ld.off+int(n)]
	ld.off += int(n)
	return s
}

func (ld *snapDecoder) place() place {
	return place{District: ld.ref(), Chiefdom: ld.ref(), Community: ld.ref()}
}

// count reads a row count; each row takes at least a byte, so a count
// larger than the input left is refused before anything is allocated.
func (ld *snapDecoder) count() int { return ld.d.Count() }

func (ld *snapDecoder) failed() error {
	if err := ld.d.Err(); err != nil {
		return err
	}
	return ld.err
}

// newSnapDecoder reads the shared values (interning them in in, so that
// events folded after the restore share these strings) and the text, and
// notes the sections' sizes in h: the restored model's first save then
// sizes its buffers as a save after a save does.
func newSnapDecoder(data []byte, in interner, h *snapSizes) (*snapDecoder, error) {
	d := wire.NewDecoder(data)
	ld := &snapDecoder{d: d}
	ld.shared = make([]string, d.Count())
	before := d.Remaining()
	for i := range ld.shared {
		ld.shared[i] = in.str(d.String())
	}
	shared := before - d.Remaining()
	// Written by Blob, whose bytes String reads as they are: into one
	// string, where string(d.Blob()) made a slice and then its copy (at
	// clea, the lists model's restore allocated 77.5 MB instead of 85.2).
	ld.text = d.String()
	if err := ld.failed(); err != nil {
		return ld, err
	}
	h.set(shared, len(ld.text), d.Remaining(), len(ld.shared))
	return ld, nil
}

// done checks that every byte and all the text were read.
func (ld *snapDecoder) done() error {
	if err := ld.failed(); err != nil {
		return err
	}
	if err := ld.d.Done(); err != nil {
		return err
	}
	if ld.off != len(ld.text) {
		return errSnapLeft
	}
	return nil
}

// decode fills m's rows from data; the caller indexes them.
func (m *Lists) decode(data []byte) error {
	ld, err := newSnapDecoder(data, m.names, m.snap)
	if err != nil {
		return fmt.Errorf("lists snapshot: %w", err)
	}
	d := ld.d

	m.comms = make([]lcCommunity, ld.count())
	for i := range m.comms {
		c := &m.comms[i]
		c.ID = ld.ref()
		c.Name = ld.own()
		for j := range c.Names {
			c.Names[j] = ld.ref()
		}
		c.Place = ld.place()
		c.Population = int(d.Varint())
		c.Status = uint8(d.Uvarint())
		c.Revision = d.Uvarint()
		c.Registered, c.Triggered, c.LastVisit = d.Time(), d.Time(), d.Time()
		if nv := ld.count(); nv > 0 {
			c.Visits = make([]int64, nv)
			for j := range c.Visits {
				c.Visits[j] = d.Varint()
			}
		}
		if nc := ld.count(); nc > 0 {
			c.Concerns = make([]lcConcern, nc)
			for j := range c.Concerns {
				c.Concerns[j] = lcConcern{Visit: int32(d.Varint()), Need: ld.ref()}
			}
		}
		c.Stub = d.Bool()
		if err := ld.failed(); err != nil {
			return fmt.Errorf("lists snapshot, community %d: %w", i, err)
		}
	}
	m.aps = make([]lcActionPoint, ld.count())
	for i := range m.aps {
		a := &m.aps[i]
		a.ID = ld.own()
		a.Comm = int32(d.Varint())
		a.Title = ld.own()
		a.Category, a.Kind = ld.ref(), ld.ref()
		a.Due = d.Varint()
		a.Status = uint8(d.Uvarint())
		a.RaisedAt = d.Varint()
		a.RaisedBy = ld.ref()
		if err := ld.failed(); err != nil {
			return fmt.Errorf("lists snapshot, action point %d: %w", i, err)
		}
	}
	m.refs = make([]lcReferral, ld.count())
	for i := range m.refs {
		x := &m.refs[i]
		x.ID = ld.own()
		x.Comm = int32(d.Varint())
		x.Kind, x.Channel = ld.ref(), ld.ref()
		x.PersonRef = ld.own()
		x.Status = uint8(d.Uvarint())
		x.RaisedAt, x.AckAt, x.CompletedAt, x.ArrivedAt = d.Varint(), d.Varint(), d.Varint(), d.Varint()
		x.Outcome, x.RaisedBy = ld.ref(), ld.ref()
		if err := ld.failed(); err != nil {
			return fmt.Errorf("lists snapshot, referral %d: %w", i, err)
		}
	}
	m.fbs = make([]lcFeedback, ld.count())
	for i := range m.fbs {
		f := &m.fbs[i]
		f.ID = ld.own()
		f.Comm = int32(d.Varint())
		f.Type, f.Need, f.Channel = ld.ref(), ld.ref(), ld.ref()
		f.Status = uint8(d.Uvarint())
		f.ReceivedAt, f.ClosedAt = d.Varint(), d.Varint()
		f.RaisedBy = ld.ref()
		if err := ld.failed(); err != nil {
			return fmt.Errorf("lists snapshot, feedback %d: %w", i, err)
		}
	}
	if err := ld.done(); err != nil {
		return fmt.Errorf("lists snapshot: %w", err)
	}
	return nil
}

package projections

import (
	"fmt"
	"slices"
)

// The referral, feedback and completion models' snapshots, in the layout of
// the lists model's (see lists_codec.go): shared values once, each row's
// own text in one section, then the rows. gob decoded them a string per
// field and grew each slice as it went.

// steps writes a transition log in stepLog's own packing.
func (e *snapEncoder) steps(l stepLog) {
	b, _ := l.GobEncode()
	e.rows.Blob(b)
}

func (ld *snapDecoder) steps() (stepLog, error) {
	var l stepLog
	b := ld.d.Blob()
	if err := ld.failed(); err != nil {
		return nil, err
	}
	if err := l.GobDecode(b); err != nil {
		return nil, err
	}
	return l, nil
}

func (ld *snapDecoder) chain() stepChain {
	return stepChain{Head: int32(ld.d.Varint()), Tail: int32(ld.d.Varint())}
}

func (e *snapEncoder) chain(c stepChain) {
	e.rows.Varint(int64(c.Head))
	e.rows.Varint(int64(c.Tail))
}

// encodePrior writes a prior map (what came before a record was reopened,
// kept per record) in key order, so that a model encodes to the same bytes
// every time; put writes one element.
func encodePrior[T any](e *snapEncoder, m map[int32][]T, put func(T)) {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.rows.Uvarint(uint64(len(m)))
	for _, k := range keys {
		e.rows.Varint(int64(k))
		e.rows.Uvarint(uint64(len(m[k])))
		for _, c := range m[k] {
			put(c)
		}
	}
}

// decodePrior reads what encodePrior wrote into m; get reads one element.
func decodePrior[T any](ld *snapDecoder, m map[int32][]T, get func() T) {
	for n := ld.count(); n > 0 && ld.failed() == nil; n-- {
		k := int32(ld.d.Varint())
		cs := make([]T, ld.count())
		for j := range cs {
			cs[j] = get()
		}
		m[k] = cs
	}
}

func (m *Referrals) encode(dst []byte) []byte {
	e := newSnapEncoder(m.snap)
	r := e.rows
	r.Uvarint(uint64(len(m.recs)))
	for i := range m.recs {
		x := &m.recs[i]
		e.own(x.ID)
		e.place(x.Place)
		e.ref(x.Kind)
		r.Time(x.RaisedAt)
		r.Time(x.Onset)
		r.Time(x.ArrivedAt)
		e.ref(x.Outcome)
		r.Uvarint(x.Pos)
		e.chain(x.Steps)
		r.Uvarint(uint64(x.Status))
	}
	e.steps(m.steps)
	encodePrior(e, m.prior, func(c refCompletion) {
		r.Time(c.ArrivedAt)
		e.ref(c.Outcome)
	})
	return e.finish(dst, m.snap)
}

// decode fills m's records from data; the caller indexes them.
func (m *Referrals) decode(data []byte) error {
	ld, err := newSnapDecoder(data, m.names, m.snap)
	if err != nil {
		return fmt.Errorf("referrals snapshot: %w", err)
	}
	d := ld.d
	m.recs = make([]refRecord, ld.count())
	for i := range m.recs {
		x := &m.recs[i]
		x.ID = ld.own()
		x.Place = ld.place()
		x.Kind = ld.ref()
		x.RaisedAt, x.Onset, x.ArrivedAt = d.Time(), d.Time(), d.Time()
		x.Outcome = ld.ref()
		x.Pos = d.Uvarint()
		x.Steps = ld.chain()
		x.Status = uint8(d.Uvarint())
		if err := ld.failed(); err != nil {
			return fmt.Errorf("referrals snapshot, record %d: %w", i, err)
		}
	}
	if m.steps, err = ld.steps(); err != nil {
		return fmt.Errorf("referrals snapshot: %w", err)
	}
	decodePrior(ld, m.prior, func() refCompletion { return refCompletion{ArrivedAt: d.Time(), Outcome: ld.ref()} })
	if err := ld.done(); err != nil {
		return fmt.Errorf("referrals snapshot: %w", err)
	}
	return nil
}

func (m *Feedback) encode(dst []byte) []byte {
	e := newSnapEncoder(m.snap)
	r := e.rows
	r.Uvarint(uint64(len(m.recs)))
	for i := range m.recs {
		x := &m.recs[i]
		e.own(x.ID)
		e.place(x.Place)
		e.ref(x.Type)
		e.ref(x.Need)
		r.Time(x.ReceivedAt)
		r.Time(x.ClosedAt)
		r.Uvarint(x.Pos)
		e.chain(x.Steps)
		r.Uvarint(uint64(x.Status))
		r.Bool(x.Satisfied)
	}
	e.steps(m.steps)
	encodePrior(e, m.prior, func(c fbClosure) {
		r.Time(c.ClosedAt)
		r.Bool(c.Satisfied)
	})
	return e.finish(dst, m.snap)
}

// decode fills m's records from data; the caller indexes them.
func (m *Feedback) decode(data []byte) error {
	ld, err := newSnapDecoder(data, m.names, m.snap)
	if err != nil {
		return fmt.Errorf("feedback snapshot: %w", err)
	}
	d := ld.d
	m.recs = make([]fbRecord, ld.count())
	for i := range m.recs {
		x := &m.recs[i]
		x.ID = ld.own()
		x.Place = ld.place()
		x.Type, x.Need = ld.ref(), ld.ref()
		x.ReceivedAt, x.ClosedAt = d.Time(), d.Time()
		x.Pos = d.Uvarint()
		x.Steps = ld.chain()
		x.Status = uint8(d.Uvarint())
		x.Satisfied = d.Bool()
		if err := ld.failed(); err != nil {
			return fmt.Errorf("feedback snapshot, record %d: %w", i, err)
		}
	}
	if m.steps, err = ld.steps(); err != nil {
		return fmt.Errorf("feedback snapshot: %w", err)
	}
	decodePrior(ld, m.prior, func() fbClosure { return fbClosure{ClosedAt: d.Time(), Satisfied: d.Bool()} })
	if err := ld.done(); err != nil {
		return fmt.Errorf("feedback snapshot: %w", err)
	}
	return nil
}

func (m *Completion) encode(dst []byte) []byte {
	e := newSnapEncoder(m.snap)
	r := e.rows
	r.Uvarint(uint64(len(m.recs)))
	for i := range m.recs {
		x := &m.recs[i]
		e.own(x.ID)
		e.place(x.Place)
		e.ref(x.Names[0])
		e.ref(x.Names[1])
		e.ref(x.Category)
		e.ref(x.Kind)
		r.Varint(x.Due)
		r.Time(x.RaisedAt)
		r.Uvarint(x.Pos)
		r.Uvarint(uint64(len(x.Steps)))
		for _, st := range x.Steps {
			r.Time(st.At)
			r.Uvarint(st.Pos)
			r.Uvarint(uint64(st.Status))
		}
	}
	return e.finish(dst, m.snap)
}

// decode fills m's records from data; the caller summarizes and indexes
// them.
func (m *Completion) decode(data []byte) error {
	ld, err := newSnapDecoder(data, m.names, m.snap)
	if err != nil {
		return fmt.Errorf("completion snapshot: %w", err)
	}
	d := ld.d
	m.recs = make([]apRecord, ld.count())
	for i := range m.recs {
		x := &m.recs[i]
		x.ID = ld.own()
		x.Place = ld.place()
		x.Names = [2]string{ld.ref(), ld.ref()}
		x.Category, x.Kind = ld.ref(), ld.ref()
		x.Due = d.Varint()
		x.RaisedAt = d.Time()
		x.Pos = d.Uvarint()
		if n := ld.count(); n > 0 {
			x.Steps = make([]apStep, n)
			for j := range x.Steps {
				x.Steps[j] = apStep{At: d.Time(), Pos: d.Uvarint(), Status: uint8(d.Uvarint())}
			}
		}
		if err := ld.failed(); err != nil {
			return fmt.Errorf("completion snapshot, record %d: %w", i, err)
		}
	}
	if err := ld.done(); err != nil {
		return fmt.Errorf("completion snapshot: %w", err)
	}
	return nil
}

// The trust model's snapshot, in the same layout: per community its id and
// place, then its visits (times and positions as deltas from the visit
// before: a national history holds half a million of them), feedback items,
// suspected cases, registration and replaced closures. What the model
// derives from them (the span, the range of weeks, the weekly sums) is
// rebuilt by UnmarshalBinary, and the weights are the server's own.
func (m *Trust) encode(dst []byte) []byte {
	e := newSnapEncoder(m.snap)
	r := e.rows
	r.Uvarint(uint64(len(m.comms)))
	for i := range m.comms {
		c := &m.comms[i]
		e.own(c.ID)
		e.place(c.Place)
		r.Uvarint(uint64(len(c.Visits)))
		var at int64
		var pos uint64
		for _, v := range c.Visits {
			r.Varint(v.At - at)
			r.Varint(int64(v.Pos - pos))
			r.Varint(int64(v.Rating))
			at, pos = v.At, v.Pos
		}
		r.Uvarint(uint64(len(c.Feedback)))
		for _, f := range c.Feedback {
			e.own(f.ID)
			r.Varint(f.ReceivedAt)
			r.Varint(f.ClosedAt)
			r.Uvarint(f.Pos)
			r.Uvarint(f.ClosePos)
			r.Varint(f.CloseAt)
			r.Bool(f.Negative)
		}
		r.Uvarint(uint64(len(c.Cases)))
		for _, k := range c.Cases {
			r.Varint(k.RaisedAt)
			r.Uvarint(k.Pos)
			r.Bool(k.Within)
		}
		r.Uvarint(c.RegPos)
		r.Varint(c.RegAt)
		r.Uvarint(uint64(len(c.Reclosed)))
		for _, k := range c.Reclosed {
			r.Varint(int64(k.Item))
			r.Uvarint(k.Pos)
			r.Varint(k.At)
			r.Varint(k.ClosedAt)
		}
	}
	return e.finish(dst, m.snap)
}

// decode reads the communities of a snapshot, with their strings interned
// in m's interner; UnmarshalBinary sets them up.
func (m *Trust) decode(data []byte) ([]trustCommunity, error) {
	ld, err := newSnapDecoder(data, m.names, m.snap)
	if err != nil {
		return nil, fmt.Errorf("trust snapshot: %w", err)
	}
	d := ld.d
	comms := make([]trustCommunity, ld.count())
	for i := range comms {
		c := &comms[i]
		c.ID = ld.own()
		c.Place = ld.place()
		if n := ld.count(); n > 0 {
			c.Visits = make(visitList, n)
			var at int64
			var pos uint64
			for j := range c.Visits {
				at += d.Varint()
				pos += uint64(d.Varint())
				c.Visits[j] = trustVisit{At: at, Pos: pos, Rating: int8(d.Varint())}
			}
		}
		if n := ld.count(); n > 0 {
			c.Feedback = make([]trustFeedback, n)
			for j := range c.Feedback {
				c.Feedback[j] = trustFeedback{ID: ld.own(), ReceivedAt: d.Varint(), ClosedAt: d.Varint(),
					Pos: d.Uvarint(), ClosePos: d.Uvarint(), CloseAt: d.Varint(), Negative: d.Bool()}
			}
		}
		if n := ld.count(); n > 0 {
			c.Cases = make([]trustCase, n)
			for j := range c.Cases {
				c.Cases[j] = trustCase{RaisedAt: d.Varint(), Pos: d.Uvarint(), Within: d.Bool()}
			}
		}
		c.RegPos = d.Uvarint()
		c.RegAt = d.Varint()
		if n := ld.count(); n > 0 {
			c.Reclosed = make([]trustClosure, n)
			for j := range c.Reclosed {
				c.Reclosed[j] = trustClosure{Item: int32(d.Varint()), Pos: d.Uvarint(), At: d.Varint(), ClosedAt: d.Varint()}
				if item := c.Reclosed[j].Item; item < 0 || int(item) >= len(c.Feedback) {
					return nil, fmt.Errorf("trust snapshot, community %d: a closure names feedback item %d of %d", i, item, len(c.Feedback))
				}
			}
		}
		if err := ld.failed(); err != nil {
			return nil, fmt.Errorf("trust snapshot, community %d: %w", i, err)
		}
	}
	if err := ld.done(); err != nil {
		return nil, fmt.Errorf("trust snapshot: %w", err)
	}
	return comms, nil
}

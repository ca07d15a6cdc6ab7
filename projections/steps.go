package projections

import (
	"encoding/binary"
	"errors"
)

// stepLog keeps the transitions of every record of a model (Referrals,
// Feedback) in one slice, in log order, each record's chained from its
// first to its last (stepChain): one growing allocation for all of them and
// 24 bytes a transition, instead of a slice per record.
type stepLog []stepNode

// stepNode is one transition: its event's log position and occurred_at, and
// the status it leads to. The transition's own fields (a completion's
// arrival and outcome, a loop closure's communicated_at) are kept by the
// record.
type stepNode struct {
	Pos    uint64
	At     int64 // occurred_at, unix nanoseconds
	Next   int32 // 1-based index of the record's next transition; 0: none
	Status uint8
}

// stepChain is a record's transitions: 1-based indexes of the first and last
// in the model's stepLog; 0: none.
type stepChain struct {
	Head, Tail int32
}

func (l *stepLog) add(c *stepChain, pos uint64, at int64, status uint8) {
	*l = append(*l, stepNode{Pos: pos, At: at, Status: status})
	n := int32(len(*l))
	if c.Tail != 0 {
		(*l)[c.Tail-1].Next = n
	} else {
		c.Head = n
	}
	c.Tail = n
}

// widen adds the chain's transitions to s, as a restored record's span must
// cover them; a chain that leaves the log (a damaged snapshot) is
// errBadSteps.
func (l stepLog) widen(s *span, c stepChain) error {
	for i := c.Head; i != 0; i = l[i-1].Next {
		if i < 0 || int(i) > len(l) {
			return errBadSteps
		}
		s.add(l[i-1].Pos, l[i-1].At)
	}
	return nil
}

// count is how many of the chain's transitions lead to status.
func (l stepLog) count(c stepChain, status uint8) int {
	n := 0
	for i := c.Head; i != 0; i = l[i-1].Next {
		if l[i-1].Status == status {
			n++
		}
	}
	return n
}

// in folds the chain's transitions that are in cut c, in log order: the
// status of the last (def when none), and the ordinal among the transitions
// leading to `kind` of the last such one in c (-1 when none).
func (l stepLog) in(ch stepChain, c *cut, def, kind uint8) (status uint8, last int) {
	status, last = def, -1
	for i, k := ch.Head, 0; i != 0; i = l[i-1].Next {
		st := &l[i-1]
		in := c.has(st.Pos, st.At)
		if in {
			status = st.Status
		}
		if st.Status == kind {
			if in {
				last = k
			}
			k++
		}
	}
	return status, last
}

// GobEncode packs the log as varints (positions and times as deltas from
// the transition before): a snapshot holds a few hundred thousand of them.
func (l stepLog) GobEncode() ([]byte, error) {
	b := make([]byte, 0, 4+len(l)*10)
	b = binary.AppendUvarint(b, uint64(len(l)))
	var pos uint64
	var at int64
	for _, s := range l {
		b = binary.AppendUvarint(b, s.Pos-pos)
		b = binary.AppendVarint(b, s.At-at)
		b = binary.AppendUvarint(b, uint64(uint32(s.Next)))
		b = append(b, s.Status)
		pos, at = s.Pos, s.At
	}
	return b, nil
}

var errBadSteps = errors.New("projections: bad transition log in snapshot")

// GobDecode unpacks what GobEncode packed.
func (l *stepLog) GobDecode(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errBadSteps
	}
	b = b[k:]
	out := make(stepLog, n)
	var pos uint64
	var at int64
	for i := range out {
		dp, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return errBadSteps
		}
		da, k2 := binary.Varint(b[k1:])
		if k2 <= 0 {
			return errBadSteps
		}
		next, k3 := binary.Uvarint(b[k1+k2:])
		if k3 <= 0 || next > n || len(b) < k1+k2+k3+1 {
			return errBadSteps
		}
		pos, at = pos+dp, at+da
		out[i] = stepNode{Pos: pos, At: at, Next: int32(next), Status: b[k1+k2+k3]}
		b = b[k1+k2+k3+1:]
	}
	*l = out
	return nil
}

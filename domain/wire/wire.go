// Package wire is the compact binary encoding shared by stored events and
// their envelopes.
//
// Events are decoded far more often than they are written: every projection
// rebuild and every as-of query replays the whole log, and JSON decoding would
// cap a replay at roughly 140,000 events a second a core. A length-prefixed
// encoding with no reflection decodes an order of magnitude faster, and because
// each value has exactly one encoding it doubles as the canonical form that the
// tamper-evidence hash chain is computed over.
//
// The format is deliberately boring: unsigned varints, zig-zag signed varints,
// length-prefixed byte strings, and times as Unix nanoseconds (0 for the zero
// time). Decoders never panic on hostile input; they latch the first error.
package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"time"
)

// ErrTruncated reports input that ended inside a value.
var ErrTruncated = errors.New("wire: truncated input")

// ErrOverflow reports a length or varint that cannot be valid.
var ErrOverflow = errors.New("wire: value out of range")

// ErrNonCanonical reports a value encoded in more bytes than needed. Each
// value has exactly one accepted encoding, so the bytes of an event are its
// canonical form.
var ErrNonCanonical = errors.New("wire: non-minimal encoding")

// ErrTrailing reports input left over after the last value.
var ErrTrailing = errors.New("wire: trailing bytes")

// Encoder appends values to a byte slice. The zero value is ready to use.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an encoder that appends to buf (which may be nil).
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// room makes room for n more bytes, doubling a full buffer. Left to append,
// a large buffer grows by a quarter at a time: a read model's snapshot
// encoded with no size to go by (the first save after a rebuild, hundreds of
// megabytes at ten times CLEA) was copied about four times its size on the
// way, every copy into fresh memory. Doubled, it is copied about once.
func (e *Encoder) room(n int) {
	if cap(e.buf)-len(e.buf) < n {
		e.buf = slices.Grow(e.buf, max(n, len(e.buf)))
	}
}

// Uvarint appends an unsigned varint.
func (e *Encoder) Uvarint(v uint64) {
	e.room(binary.MaxVarintLen64)
	e.buf = binary.AppendUvarint(e.buf, v)
}

// Varint appends a signed (zig-zag) varint.
func (e *Encoder) Varint(v int64) {
	e.room(binary.MaxVarintLen64)
	e.buf = binary.AppendVarint(e.buf, v)
}

// Uint64 appends a fixed-width big-endian uint64.
func (e *Encoder) Uint64(v uint64) {
	e.room(8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, v)
}

// Bool appends one byte, 0 or 1.
func (e *Encoder) Bool(v bool) {
	e.room(1)
	if v {
		e.buf = append(e.buf, 1)
		return
	}
	e.buf = append(e.buf, 0)
}

// String appends a length-prefixed string.
func (e *Encoder) String(s string) {
	e.room(binary.MaxVarintLen64 + len(s))
	e.Uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// Blob appends a length-prefixed byte string.
func (e *Encoder) Blob(b []byte) {
	e.room(binary.MaxVarintLen64 + len(b))
	e.Uvarint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// Raw appends b with no length prefix; the reader must know its size.
func (e *Encoder) Raw(b []byte) {
	e.room(len(b))
	e.buf = append(e.buf, b...)
}

// RawString appends s with no length prefix, as Raw does.
func (e *Encoder) RawString(s string) {
	e.room(len(s))
	e.buf = append(e.buf, s...)
}

// zeroUnix is time.Time{}.Unix(): the zero time is encoded like any other.
var zeroUnix = time.Time{}.Unix()

// Time appends t as Unix seconds and nanoseconds, which covers every year a
// time.Time holds and keeps the zero time apart from the Unix epoch. The
// location is not kept: times read back in UTC.
func (e *Encoder) Time(t time.Time) {
	e.Varint(t.Unix())
	e.Uvarint(uint64(t.Nanosecond()))
}

// Float64 appends the IEEE-754 bits of v.
func (e *Encoder) Float64(v float64) { e.Uint64(math.Float64bits(v)) }

// Strings appends a counted list of strings.
func (e *Encoder) Strings(ss []string) {
	e.Uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
}

// Decoder reads values written by an Encoder. After the first error every
// further read returns a zero value and Err reports that error.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a decoder over b. Strings it returns are copies, so b may
// be reused by the caller afterwards.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first error met, if any.
func (d *Decoder) Err() error { return d.err }

// Remaining returns how many bytes are left unread.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Done returns the first error met, or an error if input is left unread.
func (d *Decoder) Done() error {
	if d.err != nil {
		return d.err
	}
	if d.off != len(d.buf) {
		return ErrTrailing
	}
	return nil
}

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail(ErrTruncated)
		} else {
			d.fail(ErrOverflow)
		}
		return 0
	}
	if n != uvarintLen(v) {
		d.fail(ErrNonCanonical)
		return 0
	}
	d.off += n
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail(ErrTruncated)
		} else {
			d.fail(ErrOverflow)
		}
		return 0
	}
	// Zig-zag: the unsigned form of v decides the minimal length.
	ux := uint64(v) << 1
	if v < 0 {
		ux = ^ux
	}
	if n != uvarintLen(ux) {
		d.fail(ErrNonCanonical)
		return 0
	}
	d.off += n
	return v
}

// Int reads a signed varint that must fit an int.
func (d *Decoder) Int() int {
	v := d.Varint()
	if v > math.MaxInt32 || v < math.MinInt32 {
		d.fail(ErrOverflow)
		return 0
	}
	return int(v)
}

// Uint64 reads a fixed-width big-endian uint64.
func (d *Decoder) Uint64() uint64 {
	b := d.Raw(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Bool reads one byte written by Bool.
func (d *Decoder) Bool() bool {
	b := d.Raw(1)
	if b == nil {
		return false
	}
	switch b[0] {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(ErrOverflow)
	return false
}

func (d *Decoder) length() int {
	n := d.Uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(d.Remaining()) {
		d.fail(ErrTruncated)
		return 0
	}
	return int(n)
}

// String reads a length-prefixed string.
func (d *Decoder) String() string {
	n := d.length()
	if d.err != nil || n == 0 {
		return ""
	}
	s := string(d.buf[d.off : d.off+n])
	d.off += n
	return s
}

// Blob reads a length-prefixed byte string into a fresh slice.
func (d *Decoder) Blob() []byte {
	n := d.length()
	if d.err != nil {
		return nil
	}
	b := make([]byte, n)
	copy(b, d.buf[d.off:d.off+n])
	d.off += n
	return b
}

// Raw returns the next n bytes without copying, or nil after an error.
func (d *Decoder) Raw(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.Remaining() {
		d.fail(ErrTruncated)
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

// Time reads a time written by Time, in UTC.
func (d *Decoder) Time() time.Time {
	sec := d.Varint()
	nsec := d.Uvarint()
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.fail(ErrOverflow)
		return time.Time{}
	}
	if sec == zeroUnix && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// Float64 reads a float written by Float64.
func (d *Decoder) Float64() float64 { return math.Float64frombits(d.Uint64()) }

// Count reads the length of a list whose items take at least one byte each,
// refusing counts larger than the input could hold.
func (d *Decoder) Count() int {
	n := d.Uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(d.Remaining()) {
		d.fail(ErrTruncated)
		return 0
	}
	return int(n)
}

// Strings reads a counted list written by Strings.
func (d *Decoder) Strings() []string {
	n := d.Count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

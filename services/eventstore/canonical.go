package eventstore

import (
	"crypto/sha256"

	"github.com/actionledger/actionledger/domain/wire"
)

// canonicalVersion prefixes the canonical encoding so that a future change of
// layout can never verify against hashes made with the old one.
const canonicalVersion = 1

// AppendCanonical appends the canonical encoding of everything in ev's
// envelope and data except the hashes themselves. It is what the
// tamper-evidence chain covers; any change to a stored event changes it.
func AppendCanonical(dst []byte, ev *RecordedEvent) []byte {
	return AppendCanonicalTail(AppendCanonicalHead(dst, ev), &ev.EventData)
}

// AppendCanonicalHead appends the first part of the canonical encoding: the
// identity of ev and its place in the log. With AppendCanonicalTail it lets a
// store encode the larger part before it knows where the event lands, so
// that its single writer only encodes the small head.
func AppendCanonicalHead(dst []byte, ev *RecordedEvent) []byte {
	e := wire.NewEncoder(dst)
	e.Uvarint(canonicalVersion)
	e.Raw(ev.ID[:])
	e.String(ev.Type)
	e.String(ev.Stream)
	e.Uvarint(ev.Revision)
	e.Uvarint(ev.Position)
	e.Time(ev.RecordedAt)
	return e.Bytes()
}

// AppendCanonicalTail appends the rest of the canonical encoding, which
// depends only on what the caller appends: metadata and data.
func AppendCanonicalTail(dst []byte, ev *EventData) []byte {
	e := wire.NewEncoder(dst)
	e.Time(ev.Meta.OccurredAt)
	e.String(ev.Meta.ActorID)
	e.String(ev.Meta.ActorRole)
	e.String(ev.Meta.CorrelationID)
	e.String(ev.Meta.CausationID)
	e.String(ev.Meta.IdempotencyKey)
	e.Blob(ev.Meta.RequestHash)
	e.Blob(ev.Data)
	return e.Bytes()
}

// ChainHash returns the hash that links ev to the event before it:
// SHA-256(prev || canonical(ev)).
func ChainHash(prev [32]byte, ev *RecordedEvent) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(AppendCanonical(nil, ev))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

package kurrentstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
)

// envelope is the part of eventstore.Metadata stored as the event's JSON
// metadata (KurrentDB's "custom metadata"). Correlation and causation use
// KurrentDB's own keys, so the server's $by_correlation_id projection and its
// UI understand them.
type envelope struct {
	OccurredAt     string `json:"occurred_at,omitempty"`
	ActorID        string `json:"actor_id,omitempty"`
	ActorRole      string `json:"actor_role,omitempty"`
	CorrelationID  string `json:"$correlationId,omitempty"`
	CausationID    string `json:"$causationId,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	RequestHash    []byte `json:"request_hash,omitempty"`
}

func encodeEvent(ev *eventstore.EventData) (esdb.EventData, error) {
	env := envelope{
		ActorID:        ev.Meta.ActorID,
		ActorRole:      ev.Meta.ActorRole,
		CorrelationID:  ev.Meta.CorrelationID,
		CausationID:    ev.Meta.CausationID,
		IdempotencyKey: ev.Meta.IdempotencyKey,
		RequestHash:    ev.Meta.RequestHash,
	}
	if !ev.Meta.OccurredAt.IsZero() {
		env.OccurredAt = ev.Meta.OccurredAt.UTC().Format(time.RFC3339Nano)
	}
	meta, err := json.Marshal(env)
	if err != nil {
		return esdb.EventData{}, fmt.Errorf("encoding the metadata of event %s: %w", ev.ID, err)
	}
	// JSON payloads are marked as such so that KurrentDB's UI and
	// projections can read them; anything else is opaque bytes.
	ct := esdb.ContentTypeBinary
	if len(ev.Data) > 0 && json.Valid(ev.Data) {
		ct = esdb.ContentTypeJson
	}
	return esdb.EventData{EventID: ev.ID, EventType: ev.Type, ContentType: ct, Data: ev.Data, Metadata: meta}, nil
}

// decodeEvent converts a stored event of the namespace (stream already
// stripped of its prefix). Metadata that is not an envelope (an event written
// by another tool) leaves the envelope fields empty rather than stalling
// every reader on it.
func decodeEvent(stream string, ev *esdb.RecordedEvent) eventstore.RecordedEvent {
	out := eventstore.RecordedEvent{
		EventData: eventstore.EventData{
			ID:   ev.EventID,
			Type: ev.EventType,
			Data: ev.Data,
		},
		Stream:     stream,
		Revision:   ev.EventNumber + 1,
		Position:   ev.Position.Commit,
		RecordedAt: ev.CreatedDate.UTC(),
	}
	if len(ev.UserMetadata) == 0 {
		return out
	}
	var env envelope
	if err := json.Unmarshal(ev.UserMetadata, &env); err != nil {
		return out
	}
	if env.OccurredAt != "" {
		if t, err := time.Parse(time.RFC3339Nano, env.OccurredAt); err == nil {
			out.Meta.OccurredAt = t
		}
	}
	out.Meta.ActorID = env.ActorID
	out.Meta.ActorRole = env.ActorRole
	out.Meta.CorrelationID = env.CorrelationID
	out.Meta.CausationID = env.CausationID
	out.Meta.IdempotencyKey = env.IdempotencyKey
	out.Meta.RequestHash = env.RequestHash
	return out
}

// names maps the port's stream names to KurrentDB's and back.
type names struct {
	app   string // "<ns>:" before every stream of the application
	claim string // "<ns>.id:" before every event-id claim
}

func newNames(ns string) names { return names{app: ns + ":", claim: ns + ".id:"} }

func (n names) stream(s string) string          { return n.app + s }
func (n names) claimStream(id uuid.UUID) string { return n.claim + id.String() }

// appStream returns the port's name of a KurrentDB stream, and false for
// anything that is not one of the application's streams (system streams,
// claims, other namespaces).
func (n names) appStream(s string) (string, bool) {
	if !strings.HasPrefix(s, n.app) {
		return "", false
	}
	return s[len(n.app):], true
}

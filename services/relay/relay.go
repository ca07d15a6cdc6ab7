// Package relay publishes selected domain events from the event store to
// NATS JetStream, for integrations that should not read the log themselves
// (an SMS gateway alerting on death alerts, a DHIS2 importer of indicators).
//
// It reads the global log through the Watermill subscriber over the store
// (services/eventstore/pubsub) and publishes through Watermill's JetStream
// publisher (watermill-nats/v2 pkg/jetstream). Each event becomes one
// message on subject "<prefix>.<category>.<event type>" (e.g.
// "actionledger.events.referral.ReferralRaised.v1") with the event's data as
// JSON, and headers carrying the envelope.
//
// # Exactly once on JetStream
//
// Every message carries "Nats-Msg-Id" = the event id, and the stream keeps a
// duplicate window (Config.DuplicateWindow, default 7 days): JetStream drops
// a second message with an id it has seen within the window. The relay's
// checkpoint (the position of the last event JetStream acknowledged) is a
// file in the data dir, written atomically and only after the acks it
// covers, at most every Config.CheckpointEvery. A relay killed at any point
// restarts from its checkpoint and re-publishes at most the events acked
// since: JetStream drops them. So each event id is stored on the stream once,
// provided the relay is back within the duplicate window and its checkpoint
// file survives (a lost file replays from the start of the log: events older
// than the window would be published again). Two relays running at once
// (e.g. during a rolling update) also publish each id once, for the same
// reason.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
)

// Config wires a Relay.
type Config struct {
	Store eventstore.Store
	// NATSURL is the NATS server(s) to publish to, e.g.
	// "nats://127.0.0.1:4222" (credentials in the URL are the client's).
	NATSURL string
	// Stream is the JetStream stream, created or updated at start. Default
	// "ACTIONLEDGER_EVENTS".
	Stream string
	// SubjectPrefix starts every subject; the stream takes "<prefix>.>".
	// Default "actionledger.events".
	SubjectPrefix string
	// DuplicateWindow is how long JetStream remembers message ids: the
	// longest outage of the relay that still publishes every event once.
	// Default 7 days.
	DuplicateWindow time.Duration
	// Types are the event types to publish; nil is DefaultTypes().
	Types []string
	// CheckpointPath is the checkpoint file. Required.
	CheckpointPath string
	// CheckpointEvery bounds how often the checkpoint is written (and so how
	// much a restart re-publishes for JetStream to drop). Default 1s.
	CheckpointEvery time.Duration
	// RetryBackoff is the wait before an event whose publish failed is
	// published again. Default 1s.
	RetryBackoff time.Duration
	Logger       *zap.Logger
}

const (
	defaultStream          = "ACTIONLEDGER_EVENTS"
	defaultSubjectPrefix   = "actionledger.events"
	defaultDuplicateWindow = 7 * 24 * time.Hour
	defaultCheckpointEvery = time.Second
	defaultRetryBackoff    = time.Second
)

// DefaultTypes are the events integrations get: every domain event of the
// four aggregates. Users (token hashes, names) and exports stay inside.
func DefaultTypes() []string {
	var out []string
	for _, t := range domain.EventTypes() {
		// Every user event: a new token's hash must not leave either.
		if strings.HasPrefix(t, "User") || strings.HasPrefix(t, "ExportRecorded.") {
			continue
		}
		out = append(out, t)
	}
	return out
}

// Headers the relay sets besides Nats-Msg-Id.
const (
	HeaderEventType     = "Actionledger-Event-Type"
	HeaderStream        = "Actionledger-Stream"
	HeaderRevision      = "Actionledger-Revision"
	HeaderPosition      = "Actionledger-Position"
	HeaderOccurredAt    = "Actionledger-Occurred-At"
	HeaderRecordedAt    = "Actionledger-Recorded-At"
	HeaderCorrelationID = "Actionledger-Correlation-Id"
	HeaderCausationID   = "Actionledger-Causation-Id"
)

// Relay publishes the log to JetStream.
type Relay struct {
	cfg       Config
	log       *zap.Logger
	types     map[string]bool
	published atomic.Uint64
	position  atomic.Uint64
}

// New checks cfg and returns a Relay; Run starts it.
func New(cfg Config) (*Relay, error) {
	if cfg.Store == nil {
		return nil, errors.New("relay: no store")
	}
	if cfg.NATSURL == "" {
		return nil, errors.New("relay: no NATS URL")
	}
	if cfg.CheckpointPath == "" {
		return nil, errors.New("relay: no checkpoint path")
	}
	if cfg.Stream == "" {
		cfg.Stream = defaultStream
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = defaultSubjectPrefix
	}
	if cfg.DuplicateWindow <= 0 {
		cfg.DuplicateWindow = defaultDuplicateWindow
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = defaultCheckpointEvery
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = defaultRetryBackoff
	}
	if cfg.Types == nil {
		cfg.Types = DefaultTypes()
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	r := &Relay{cfg: cfg, log: cfg.Logger.Named("relay"), types: map[string]bool{}}
	for _, t := range cfg.Types {
		r.types[t] = true
	}
	return r, nil
}

// Published is how many messages JetStream acknowledged since Run started
// (including duplicates it dropped).
func (r *Relay) Published() uint64 { return r.published.Load() }

// Position is the position of the last event handled (published or skipped).
func (r *Relay) Position() uint64 { return r.position.Load() }

// Run publishes until ctx ends (nil) or the relay cannot go on.
func (r *Relay) Run(ctx context.Context) error {
	nc, err := nats.Connect(r.cfg.NATSURL,
		nats.Name("actionledger-relay"),
		nats.MaxReconnects(-1), // a NATS restart is waited out, not fatal
		nats.RetryOnFailedConnect(false),
	)
	if err != nil {
		return fmt.Errorf("relay: connecting to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("relay: JetStream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = js.CreateOrUpdateStream(sctx, jetstream.StreamConfig{
		Name:        r.cfg.Stream,
		Description: "actionledger domain events, one message per event id",
		Subjects:    []string{r.cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  r.cfg.DuplicateWindow,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("relay: creating JetStream stream %s: %w", r.cfg.Stream, err)
	}

	after, err := ReadCheckpoint(r.cfg.CheckpointPath)
	if err != nil {
		return err
	}
	r.position.Store(after)
	wlog := newWatermillLogger(r.log)
	pub, err := wmjs.NewPublisher(wmjs.PublisherConfig{
		Conn:   nc,
		Logger: wlog,
		// The publisher sends to the subject named by the stream config's
		// Name; the stream itself is the one created above.
		ConfigureStream: func(subject string) jetstream.StreamConfig { return jetstream.StreamConfig{Name: subject} },
	})
	if err != nil {
		return fmt.Errorf("relay: JetStream publisher: %w", err)
	}
	sub, err := pubsub.NewSubscriber(r.cfg.Store, pubsub.SubscriberConfig{
		StartAfter:      func(context.Context, string) (uint64, error) { return after, nil },
		NackResendSleep: r.cfg.RetryBackoff,
	}, wlog)
	if err != nil {
		return err
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, "$all")
	if err != nil {
		return fmt.Errorf("relay: subscribing to the log: %w", err)
	}
	r.log.Info("relay started", zap.String("stream", r.cfg.Stream), zap.Uint64("after", after),
		zap.Int("types", len(r.types)), zap.Duration("duplicate_window", r.cfg.DuplicateWindow))

	tick := time.NewTicker(r.cfg.CheckpointEvery)
	defer tick.Stop()
	saved := after
	save := func() error {
		pos := r.position.Load()
		if pos == saved {
			return nil
		}
		if err := WriteCheckpoint(r.cfg.CheckpointPath, pos); err != nil {
			return err
		}
		saved = pos
		return nil
	}
	done := ctx.Done()
	for {
		select {
		case msg, ok := <-msgs:
			if !ok {
				// The subscription ended: ctx is done or the store closed.
				if err := save(); err != nil {
					return err
				}
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("relay: the log subscription ended")
			}
			r.handle(pub, msg)
		case <-tick.C:
			if err := save(); err != nil {
				return err
			}
		case <-done:
			// The subscription closes the channel next; the position is
			// saved then, after the last ack.
			done = nil
		}
	}
}

// handle publishes one event if selected, acking it only once JetStream
// acknowledged; a failed publish nacks it, and the subscriber sends it again.
func (r *Relay) handle(pub message.Publisher, msg *message.Message) {
	ev, err := pubsub.EventFromMessage(msg)
	if err != nil {
		// Not an event (a plain Watermill message on the log): nothing to
		// relay, nothing to wait for.
		r.skip(msg)
		return
	}
	if !r.types[ev.Type] {
		r.skip(msg)
		return
	}
	out, subject, err := r.message(&ev)
	if err != nil {
		r.log.Error("cannot relay an event; skipping it", zap.Uint64("position", ev.Position),
			zap.String("event_type", ev.Type), zap.Error(err))
		r.skip(msg)
		return
	}
	if err := pub.Publish(subject, out); err != nil {
		r.log.Warn("publishing to JetStream failed; will retry", zap.Uint64("position", ev.Position), zap.Error(err))
		msg.Nack()
		return
	}
	r.published.Add(1)
	r.position.Store(ev.Position)
	msg.Ack()
}

func (r *Relay) skip(msg *message.Message) {
	if pos, err := strconv.ParseUint(msg.Metadata.Get(pubsub.MetaPosition), 10, 64); err == nil {
		r.position.Store(pos)
	}
	msg.Ack()
}

// message builds the JetStream message of ev: its data as JSON (integrations
// read JSON, not the store's binary encoding) and the envelope as headers.
func (r *Relay) message(ev *eventstore.RecordedEvent) (*message.Message, string, error) {
	de, err := domain.Unmarshal(ev.Type, ev.Data)
	if err != nil {
		return nil, "", fmt.Errorf("decoding %s: %w", ev.Type, err)
	}
	payload, err := json.Marshal(de)
	if err != nil {
		return nil, "", fmt.Errorf("encoding %s as JSON: %w", ev.Type, err)
	}
	category, _ := domain.SplitStream(ev.Stream)
	m := message.NewMessage(ev.ID.String(), payload)
	m.Metadata.Set(nats.MsgIdHdr, ev.ID.String())
	m.Metadata.Set(HeaderEventType, ev.Type)
	m.Metadata.Set(HeaderStream, ev.Stream)
	m.Metadata.Set(HeaderRevision, strconv.FormatUint(ev.Revision, 10))
	m.Metadata.Set(HeaderPosition, strconv.FormatUint(ev.Position, 10))
	m.Metadata.Set(HeaderRecordedAt, ev.RecordedAt.UTC().Format(time.RFC3339Nano))
	if !ev.Meta.OccurredAt.IsZero() {
		m.Metadata.Set(HeaderOccurredAt, ev.Meta.OccurredAt.UTC().Format(time.RFC3339Nano))
	}
	if ev.Meta.CorrelationID != "" {
		m.Metadata.Set(HeaderCorrelationID, ev.Meta.CorrelationID)
	}
	if ev.Meta.CausationID != "" {
		m.Metadata.Set(HeaderCausationID, ev.Meta.CausationID)
	}
	return m, r.Subject(category, ev.Type), nil
}

// Subject is where an event of the category and type is published. Stream
// ids never go in it: they may hold '.', NATS's token separator.
func (r *Relay) Subject(category, eventType string) string {
	clean := func(s string) string {
		return strings.Map(func(c rune) rune {
			if c == '*' || c == '>' || c == ' ' || c == '\t' {
				return '_'
			}
			return c
		}, s)
	}
	return r.cfg.SubjectPrefix + "." + clean(category) + "." + clean(eventType)
}

// checkpoint is the file's content.
type checkpoint struct {
	Position  uint64    `json:"position"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ReadCheckpoint returns the stored position, 0 when the file does not exist.
func ReadCheckpoint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("relay: reading checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return 0, fmt.Errorf("relay: checkpoint %s is damaged (delete it to replay from the start): %w", path, err)
	}
	return c.Position, nil
}

// WriteCheckpoint replaces the checkpoint atomically and durably: a crash
// leaves either the old file or the new one.
func WriteCheckpoint(path string, pos uint64) error {
	b, _ := json.Marshal(checkpoint{Position: pos, UpdatedAt: time.Now().UTC()})
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".relay-checkpoint-*")
	if err != nil {
		return fmt.Errorf("relay: writing checkpoint: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("relay: writing checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("relay: syncing checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("relay: writing checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("relay: replacing checkpoint: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename itself durable
		d.Close()
	}
	return nil
}

// zapWatermill adapts zap to Watermill's logger.
type zapWatermill struct{ l *zap.Logger }

func newWatermillLogger(l *zap.Logger) watermill.LoggerAdapter { return zapWatermill{l} }

func fields(f watermill.LogFields) []zap.Field {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]zap.Field, 0, len(keys))
	for _, k := range keys {
		out = append(out, zap.Any(k, f[k]))
	}
	return out
}

func (z zapWatermill) Error(msg string, err error, f watermill.LogFields) {
	z.l.Error(msg, append(fields(f), zap.Error(err))...)
}
func (z zapWatermill) Info(msg string, f watermill.LogFields)  { z.l.Info(msg, fields(f)...) }
func (z zapWatermill) Debug(msg string, f watermill.LogFields) { z.l.Debug(msg, fields(f)...) }
func (z zapWatermill) Trace(msg string, f watermill.LogFields) {}
func (z zapWatermill) With(f watermill.LogFields) watermill.LoggerAdapter {
	return zapWatermill{z.l.With(fields(f)...)}
}

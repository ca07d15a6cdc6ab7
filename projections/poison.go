package projections

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/pubsub"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// Poisoned is an event a read model could not apply even after retries. It
// stays listed until the model is rebuilt; the model moved past it.
type Poisoned struct {
	Projection string    `json:"projection"`
	Position   uint64    `json:"position"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Stream     string    `json:"stream"`
	Reason     string    `json:"reason"`
	PoisonedAt time.Time `json:"poisoned_at"`
}

// poisonPublisher is the destination of Watermill's PoisonQueue middleware:
// it keeps the failed event in the read-model db (durable, listable) and
// moves the model past it.
type poisonPublisher struct {
	e *Engine
}

func (pp *poisonPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		md := msg.Metadata
		// The engine's messages carry their event in their context, not in
		// metadata; one whose event cannot be read is listed as its
		// metadata has it.
		rec, err := pubsub.EventFromMessage(msg)
		pos, typ, stream := rec.Position, rec.Type, rec.Stream
		if err != nil {
			pos, _ = strconv.ParseUint(md.Get(pubsub.MetaPosition), 10, 64)
			typ, stream = md.Get(pubsub.MetaEventType), md.Get(pubsub.MetaStream)
		}
		p := Poisoned{
			Projection: md.Get(middleware.PoisonedHandlerKey), Position: pos, EventID: msg.UUID,
			EventType: typ, Stream: stream,
			Reason: md.Get(middleware.ReasonForPoisonedKey), PoisonedAt: pp.e.cfg.Clock().UTC(),
		}
		val, err := json.Marshal(p)
		if err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64([]byte(p.Projection+"\x00"), pos)
		if err := pp.e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPoison).Put(key, val) }); err != nil {
			return err
		}
		pp.e.log.Warn("event poisoned: a read model skipped it",
			// The reason may quote the event; it is kept in the db, not logged.
			zap.String("projection", p.Projection), zap.Uint64("position", pos), zap.String("event_type", p.EventType))
		pp.e.skip(p.Projection, pos, rec.RecordedAt)
	}
	return nil
}

func (pp *poisonPublisher) Close() error { return nil }

// replacePoison empties the poison queue and lists items instead (after a
// rebuild, the events that still failed).
func (e *Engine) replacePoison(items []Poisoned) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketPoison); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketPoison)
		if err != nil {
			return err
		}
		for _, p := range items {
			val, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if err := b.Put(binary.BigEndian.AppendUint64([]byte(p.Projection+"\x00"), p.Position), val); err != nil {
				return err
			}
		}
		return nil
	})
}

// Poisoned lists the poison queue, oldest first per model.
func (e *Engine) Poisoned() ([]Poisoned, error) {
	var out []Poisoned
	err := e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPoison).ForEach(func(_, v []byte) error {
			var p Poisoned
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

func (e *Engine) poisonCount() int {
	n := 0
	_ = e.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketPoison).Stats().KeyN
		return nil
	})
	return n
}

// poisonOne lists an event model p could not apply outside the router (an
// as-of catch-up), as the router's poison queue would.
func (e *Engine) poisonOne(p *proj, rec *eventstore.RecordedEvent, reason error) {
	item := Poisoned{Projection: p.def.Name, Position: rec.Position, EventID: rec.ID.String(), EventType: rec.Type,
		Stream: rec.Stream, Reason: reason.Error(), PoisonedAt: e.cfg.Clock().UTC()}
	val, err := json.Marshal(item)
	if err == nil {
		key := binary.BigEndian.AppendUint64([]byte(item.Projection+"\x00"), item.Position)
		err = e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPoison).Put(key, val) })
	}
	if err != nil {
		e.log.Error("listing a poisoned event", zap.String("projection", item.Projection), zap.Uint64("position", item.Position), zap.Error(err))
	}
	e.log.Warn("event poisoned: a read model skipped it",
		zap.String("projection", item.Projection), zap.Uint64("position", item.Position), zap.String("event_type", item.EventType))
	p.poisoned.Inc()
}

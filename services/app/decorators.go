package app

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Metrics are the application's Prometheus instruments.
type Metrics struct {
	commands  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	appended  prometheus.Counter
	conflicts prometheus.Counter
	replays   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "actionledger", Name: "commands_total",
			Help: "Commands handled, by command and outcome (ok, replayed, or the error code).",
		}, []string{"command", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "actionledger", Name: "command_duration_seconds",
			Help:    "Time to handle a command, including the durable append.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"command"}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "actionledger", Name: "events_appended_total",
			Help: "Events durably appended by commands.",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "actionledger", Name: "append_conflicts_total",
			Help: "Appends refused because another writer changed the aggregate first.",
		}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "actionledger", Name: "idempotent_replays_total",
			Help: "Requests answered from an earlier request with the same Idempotency-Key, writing nothing.",
		}),
	}
	for _, c := range []prometheus.Collector{m.commands, m.duration, m.appended, m.conflicts, m.replays} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Decorators are what every handler is wrapped in.
type Decorators struct {
	Log     *zap.Logger
	Metrics *Metrics
	// Locator, when the store has one, lets a repeated Idempotency-Key with
	// a different request be refused before the command runs at all.
	Locator eventstore.EventLocator
}

// decorate wraps h with logging, metrics and the idempotency-key check.
func decorate[C Command](d Decorators, name string, h Handler[C]) Handler[C] {
	var inner Handler[C] = h
	if d.Locator != nil {
		inner = keyed[C]{locate: d.Locator, next: h}
	}
	return logged[C]{name: name, log: d.Log, next: newMeasured(name, d.Metrics, inner)}
}

// keyed refuses a repeated Idempotency-Key whose request differs from the
// first one (422), wherever the first one went, before the command's own
// checks: a client that reused a key must hear that, not a 404 or 409 from
// a body it never meant to send twice. A repeat of the same request passes
// on, and the write path answers it from the events it wrote.
type keyed[C Command] struct {
	locate eventstore.EventLocator
	next   Handler[C]
}

func (h keyed[C]) Handle(ctx context.Context, cmd C) (Result, error) {
	m := cmd.meta()
	if m.IdempotencyKey != "" {
		ev, found, err := h.locate.LocateEvent(ctx, eventID(m.Actor.ID, m.IdempotencyKey, 0))
		if err != nil {
			return Result{}, err
		}
		if found && !bytes.Equal(ev.Meta.RequestHash, m.RequestHash) {
			return Result{}, domain.Errorf(domain.CodeIdempotencyMismatch,
				"this Idempotency-Key was already used with a different request")
		}
	}
	return h.next.Handle(ctx, cmd)
}

// measured times each command and counts its outcome. The series every
// command touches are looked up once, when the handler is built, instead of
// hashing their labels on each command.
type measured[C Command] struct {
	name         string
	m            *Metrics
	duration     prometheus.Observer
	ok, replayed prometheus.Counter
	next         Handler[C]
}

func newMeasured[C Command](name string, m *Metrics, next Handler[C]) measured[C] {
	return measured[C]{name: name, m: m, next: next, duration: m.duration.WithLabelValues(name),
		ok: m.commands.WithLabelValues(name, "ok"), replayed: m.commands.WithLabelValues(name, "replayed")}
}

func (h measured[C]) Handle(ctx context.Context, cmd C) (Result, error) {
	start := time.Now()
	res, err := h.next.Handle(ctx, cmd)
	h.duration.Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		h.m.commands.WithLabelValues(h.name, outcome(res, err)).Inc()
	case res.Replayed:
		h.replayed.Inc()
	default:
		h.ok.Inc()
	}
	return res, err
}

type logged[C Command] struct {
	name string
	log  *zap.Logger
	next Handler[C]
}

// Handle logs one line per command: who (id and role, never a name or
// token), what, and how it ended. Free text from the request is never
// logged; it may hold personal data.
func (h logged[C]) Handle(ctx context.Context, cmd C) (Result, error) {
	start := time.Now()
	res, err := h.next.Handle(ctx, cmd)
	// Every line below is at info level but failures, which are at error
	// level: below info (as busy servers run) a success builds no fields.
	if !h.log.Core().Enabled(zapcore.InfoLevel) && (err == nil || !h.log.Core().Enabled(zapcore.ErrorLevel)) {
		return res, err
	}
	m := cmd.meta()
	fields := []zap.Field{
		zap.String("command", h.name),
		zap.String("actor_id", m.Actor.ID),
		zap.String("actor_role", m.Actor.Role),
		zap.String("outcome", outcome(res, err)),
		zap.Duration("took", time.Since(start)),
	}
	if m.CorrelationID != "" {
		fields = append(fields, zap.String("correlation_id", m.CorrelationID))
	}
	switch code := domain.ErrorCode(err); {
	case errors.Is(err, context.Canceled):
		h.log.Info("command cancelled: the client went away", fields...)
	case err == nil:
		fields = append(fields, zap.String("aggregate_id", res.ID), zap.Uint64("revision", res.Revision), zap.Uint64("position", res.Position))
		h.log.Info("command handled", fields...)
	case code == domain.CodeInternal, errors.Is(err, eventstore.ErrFailed):
		h.log.Error("command failed", append(fields, zap.Error(err))...)
	default:
		h.log.Info("command refused", fields...)
	}
	return res, err
}

func outcome(res Result, err error) string {
	switch {
	case err != nil:
		return string(domain.ErrorCode(err))
	case res.Replayed:
		return "replayed"
	}
	return "ok"
}

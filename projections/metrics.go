package projections

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
)

type engineMetrics struct {
	poisoned *prometheus.CounterVec
	// handled and received keep the names and labels of Watermill's router
	// metrics (components/metrics), which the engine used before. Those
	// build a label map for every message and every model, and their
	// subscriber decorator starts a goroutine per message to wait for its
	// ack: with six models that was six goroutines and about a fifth of
	// what each command allocated. Here each model's series are bound
	// once (handlerMetrics), so a message costs two atomic adds.
	handled  *prometheus.HistogramVec
	received *prometheus.CounterVec
}

// handlerMetrics are one model's bound series.
type handlerMetrics struct {
	ok, failed    prometheus.Observer
	acked, nacked prometheus.Counter
}

// handlerMiddleware and receivedMiddleware measure, per model, each try of
// the handler (innermost, as Watermill's was) and each message's outcome
// after retries and the poison queue (outermost: acked or nacked). A
// handler name not bound in byName (none, today) goes unmeasured.
func handlerMiddleware(byName map[string]*handlerMetrics) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			m := byName[message.HandlerNameFromCtx(msg.Context())]
			if m == nil {
				return h(msg)
			}
			start := time.Now()
			out, err := h(msg)
			if err != nil {
				m.failed.Observe(time.Since(start).Seconds())
			} else {
				m.ok.Observe(time.Since(start).Seconds())
			}
			return out, err
		}
	}
}

func receivedMiddleware(byName map[string]*handlerMetrics) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if m := byName[message.HandlerNameFromCtx(msg.Context())]; m != nil {
				if err != nil {
					m.nacked.Inc()
				} else {
					m.acked.Inc()
				}
			}
			return out, err
		}
	}
}

// bind returns the series of the model named name.
func (m *engineMetrics) bind(name string) *handlerMetrics {
	return &handlerMetrics{
		ok:     m.handled.WithLabelValues(name, "true"),
		failed: m.handled.WithLabelValues(name, "false"),
		acked:  m.received.WithLabelValues(name, subscriberName, "acked"),
		nacked: m.received.WithLabelValues(name, subscriberName, "nacked"),
	}
}

// subscriberName is the subscriber_name label, as Watermill's decorator
// named the engine's subscriber.
const subscriberName = "pubsub.Subscriber"

// newEngineMetrics registers the read side's instruments. Lag and position
// are computed when scraped, so they cost nothing between scrapes.
func newEngineMetrics(reg prometheus.Registerer, e *Engine) (*engineMetrics, error) {
	m := &engineMetrics{poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "actionledger", Name: "projection_poisoned_total",
		Help: "Events a read model could not apply after retries and skipped (listed in the poison queue).",
	}, []string{"projection"}),
		handled: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "actionledger", Subsystem: "watermill", Name: "handler_execution_time_seconds",
			Help:    "The total time elapsed while executing the handler function in seconds",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
		}, []string{"handler_name", "success"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "actionledger", Subsystem: "watermill", Name: "subscriber_messages_received_total",
			Help: "The total number of messages received by the subscriber",
		}, []string{"handler_name", "subscriber_name", "acked"}),
	}
	lag := &lagCollector{e: e,
		position: prometheus.NewDesc("actionledger_projection_position", "Position of the last event applied to the read model.", []string{"projection"}, nil),
		events:   prometheus.NewDesc("actionledger_projection_lag_events", "Events in the log not yet applied to the read model (counted up to 10,000).", []string{"projection"}, nil),
		seconds:  prometheus.NewDesc("actionledger_projection_lag_seconds", "Age of the oldest event not yet applied to the read model (0 when caught up).", []string{"projection"}, nil),
		poison:   prometheus.NewDesc("actionledger_projection_poison_queue_size", "Events in the poison queue.", nil, nil),
		saved:    prometheus.NewDesc("actionledger_projection_saved_position", "Position of the read model's last saved snapshot: where a restart resumes.", []string{"projection"}, nil),
	}
	for _, c := range []prometheus.Collector{m.poisoned, m.handled, m.received, lag} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// lagCountCap bounds the events counted for the lag gauge per scrape; a
// model further behind reads as this many (its lag_seconds keeps growing).
const lagCountCap = 10000

type lagCollector struct {
	e                                 *Engine
	position, events, seconds, poison *prometheus.Desc
	saved                             *prometheus.Desc
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.position
	ch <- c.events
	ch <- c.seconds
	ch <- c.poison
	ch <- c.saved
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	head, err := c.e.cfg.Store.Head(ctx)
	if err != nil {
		return
	}
	now := c.e.cfg.Clock()
	for _, p := range c.e.projs {
		p.mu.RLock()
		pos, saved := p.pos, p.savedPos
		p.mu.RUnlock()
		// Positions need not be contiguous (KurrentDB's are log offsets),
		// so the events behind are counted, up to lagCountCap.
		behind, age := 0.0, 0.0
		if head > pos {
			if next, err := c.e.cfg.Store.ReadAll(ctx, pos, lagCountCap); err == nil && len(next) > 0 {
				behind = float64(len(next))
				age = now.Sub(next[0].RecordedAt).Seconds()
			}
		}
		ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(pos), p.def.Name)
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, behind, p.def.Name)
		ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, age, p.def.Name)
		ch <- prometheus.MustNewConstMetric(c.saved, prometheus.GaugeValue, float64(saved), p.def.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.poison, prometheus.GaugeValue, float64(c.e.poisonCount()))
}

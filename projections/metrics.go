package projections

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type engineMetrics struct {
	poisoned *prometheus.CounterVec
}

// newEngineMetrics registers the read side's instruments. Lag and position
// are computed when scraped, so they cost nothing between scrapes.
func newEngineMetrics(reg prometheus.Registerer, e *Engine) (*engineMetrics, error) {
	m := &engineMetrics{poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "actionledger", Name: "projection_poisoned_total",
		Help: "Events a read model could not apply after retries and skipped (listed in the poison queue).",
	}, []string{"projection"})}
	lag := &lagCollector{e: e,
		position: prometheus.NewDesc("actionledger_projection_position", "Position of the last event applied to the read model.", []string{"projection"}, nil),
		events:   prometheus.NewDesc("actionledger_projection_lag_events", "Events in the log not yet applied to the read model (counted up to 10,000).", []string{"projection"}, nil),
		seconds:  prometheus.NewDesc("actionledger_projection_lag_seconds", "Age of the oldest event not yet applied to the read model (0 when caught up).", []string{"projection"}, nil),
		poison:   prometheus.NewDesc("actionledger_projection_poison_queue_size", "Events in the poison queue.", nil, nil),
		saved:    prometheus.NewDesc("actionledger_projection_saved_position", "Position of the read model's last saved snapshot: where a restart resumes.", []string{"projection"}, nil),
	}
	for _, c := range []prometheus.Collector{m.poisoned, lag} {
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

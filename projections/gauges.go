package projections

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// nationalLabel is the district label of the national figures.
const nationalLabel = "all"

// Gauges exposes headline indicators per district as Prometheus gauges, so a
// dashboard can chart completion and trust without calling the JSON API (it
// scrapes GET /v1/stats/metrics, which only callers allowed every district
// may read). They
// are computed from the read models when scraped (answers are cached until a
// model moves), so they cost nothing between scrapes.
type Gauges struct {
	e                               *Engine
	completion, actionPoints, trust *prometheus.Desc
}

// NewGauges returns the indicator collector of e. They are area data:
// register it on a registry of its own (NewIndicatorRegistry), never on the
// one the open /metrics serves.
func NewGauges(e *Engine) *Gauges {
	return &Gauges{
		e: e,
		completion: prometheus.NewDesc("actionledger_completion_rate",
			"Action-point completion: achieved = achieved/(all-dropped), implementation = (in_progress+achieved)/(all-dropped). Absent while nothing is counted.",
			[]string{"district", "rate"}, nil),
		actionPoints: prometheus.NewDesc("actionledger_action_points",
			"Action points by status (overdue counts those past due and neither achieved nor dropped).",
			[]string{"district", "status"}, nil),
		trust: prometheus.NewDesc("actionledger_trust_index",
			"Trust index of the latest ISO week that has one (weighted mean of T1..T4).",
			[]string{"district"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (g *Gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.completion
	ch <- g.actionPoints
	ch <- g.trust
}

// Collect implements prometheus.Collector.
func (g *Gauges) Collect(ch chan<- prometheus.Metric) {
	for _, d := range append([]string{""}, g.districts()...) {
		label := d
		if d == "" {
			label = nationalLabel
		}
		c, _ := g.e.CompletionStats(Filter{District: d}, false)
		for rate, v := range map[string]*float64{"achieved": c.AchievedRate, "implementation": c.ImplementationRate} {
			if v != nil {
				ch <- prometheus.MustNewConstMetric(g.completion, prometheus.GaugeValue, *v, label, rate)
			}
		}
		for status, n := range map[string]int{"open": c.Open, "in_progress": c.InProgress, "achieved": c.Achieved,
			"dropped": c.Dropped, "overdue": c.Overdue} {
			ch <- prometheus.MustNewConstMetric(g.actionPoints, prometheus.GaugeValue, float64(n), label, status)
		}
		t, _ := g.e.TrustStats(Filter{District: d})
		for i := len(t.Series) - 1; i >= 0; i-- {
			if idx := t.Series[i].Index; idx != nil {
				ch <- prometheus.MustNewConstMetric(g.trust, prometheus.GaugeValue, *idx, label)
				break
			}
		}
	}
}

// districts lists the districts the completion and trust models know, by
// the name they were registered with.
func (g *Gauges) districts() []string {
	names := map[string]string{} // place key -> display name
	g.e.read(NameCompletion, func(m Model) {
		c := m.(*Completion)
		c.idx.eachDistrict(func(key string, recs []int32) { names[key] = c.recs[recs[0]].Names[0] })
	})
	g.e.read(NameTrust, func(m Model) {
		m.(*Trust).idx.eachDistrict(func(key string, _ []int32) {
			if names[key] == "" {
				names[key] = key
			}
		})
	})
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// NewIndicatorRegistry returns a registry holding only e's indicator gauges.
// They are area data: serve it on an authorised route, never on the open
// /metrics with the operational metrics.
func NewIndicatorRegistry(e *Engine) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewGauges(e))
	return reg
}

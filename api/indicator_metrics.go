package api

import (
	"net/http"

	"github.com/actionledger/actionledger/domain"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The indicator gauges (completion, action points by status, trust, per
// district) are the figures /v1/stats guards by area, so they are served
// here, in Prometheus text format for a dashboard's scraper, to those who may
// read every district: an auditor or a national coordinator. The open
// /metrics keeps only operational metrics.

func (s *Server) mountIndicatorMetrics(v1 v1Routes, g prometheus.Gatherer) {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	v1.handle(http.MethodGet, "/stats/metrics", func(w http.ResponseWriter, r *http.Request) {
		if err := mayReadEveryDistrict(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// mayReadEveryDistrict admits an auditor and a coordinator without an area.
func mayReadEveryDistrict(r *http.Request) error {
	a := actorFrom(r.Context())
	switch {
	case a.Role == domain.RoleAuditor:
		return nil
	case a.Role == domain.RoleCoordinator && a.Area.District == "":
		return nil
	}
	return domain.Errorf(domain.CodeForbidden, "the indicator metrics cover every district: only an auditor or a national coordinator may read them")
}

package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/report"
	"go.uber.org/zap"
)

// The export route: the export itself (what it holds, how it is recorded
// and streamed) is package report's, shared with the console and the CLI.

// export records the export, then streams it.
func (h *auditRoutes) export(w http.ResponseWriter, r *http.Request) {
	q, err := auditQuery(r, "format", "district", "chiefdom", "from", "to")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	spec, err := h.recordExport(r, q)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	media := report.Media[spec.Format]
	hd := w.Header()
	hd.Set("Content-Type", media.ContentType)
	hd.Set("Content-Disposition", fmt.Sprintf(`%s; filename="actionledger-export-%d.%s"`, media.Disposition, spec.Record.Position, spec.Format))
	hd.Set("X-Export-ID", spec.Record.ID)
	hd.Set("X-Export-Position", strconv.FormatUint(spec.Record.Position, 10))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	if media.CSP != "" {
		hd.Set("Content-Security-Policy", media.CSP)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	n, err := report.Write(r.Context(), w, h.audit, spec, rc.Flush)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return // the auditor went away; the record says the export began
		}
		// The status is sent: cut the connection so that the client sees a
		// broken transfer, never a complete-looking short export.
		h.s.log.Error("export failed while streaming", zap.String("request_id", requestID(r.Context())),
			zap.String("export_id", spec.Record.ID), zap.Int("events_written", n), zap.Error(err))
		if conn, _, herr := rc.Hijack(); herr == nil {
			_ = conn.Close()
		}
	}
}

// recordExport reads an export request and records it (report.Start).
func (h *auditRoutes) recordExport(r *http.Request, q url.Values) (report.Spec, error) {
	req := report.Request{Format: q.Get("format"), Area: domain.Area{District: q.Get("district"), Chiefdom: q.Get("chiefdom")}}
	var err error
	if req.From, err = parseQueryTime(q, "from"); err != nil {
		return report.Spec{}, err
	}
	if req.To, err = parseQueryTime(q, "to"); err != nil {
		return report.Spec{}, err
	}
	meta := app.Meta{Actor: actorFrom(r.Context()), CorrelationID: correlationID(r), CausationID: requestID(r.Context())}
	weights, minVisits := h.trustSettings()
	spec, err := report.Start(r.Context(), h.audit, meta, req, weights)
	spec.TrustMinVisits = minVisits
	return spec, err
}

// trustSettings are the weights and the floor for "falling" the server's
// read models run with, so that the report's trust curve is the one
// /v1/stats/trust shows.
func (h *auditRoutes) trustSettings() ([4]float64, int) {
	if h.s.read == nil {
		return [4]float64{}, 0
	}
	// A community id no community can have selects nothing: the answer is
	// only the settings.
	st, _ := h.s.read.TrustStats(projections.Filter{CommunityID: " "})
	return st.Weights, st.MinVisits
}

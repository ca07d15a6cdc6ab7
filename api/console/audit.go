package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/report"
	"github.com/gorilla/mux"
	"go.uber.org/zap"
)

// The auditor's pages: the indicators as of a date, verification of the
// hash chain, exports and the history of a stream. Each asks app.Audit (or
// the as-of reader behind /v1/audit/as-of), which refuses anyone but an
// auditor and narrows to the auditor's area.

const historyPageSize = 50

func (c *Console) mountAudit(r *mux.Router) {
	r.Handle("/as-of", c.methods(c.asOf, http.MethodGet, http.MethodHead))
	r.Handle("/verify", c.methods(c.verify, http.MethodGet, http.MethodHead))
	r.Handle("/exports", c.methods(c.exports, http.MethodGet, http.MethodHead, http.MethodPost))
	r.Handle("/history", c.methods(c.history, http.MethodGet, http.MethodHead))
}

type asOfView struct {
	At    string
	Basis string
	Area  domain.Area
	// Asked is whether a date was chosen (else only the form shows).
	Asked bool
	Res   projections.AsOf
	Trust projections.TrustWeek
	Today string
}

// asOf is the dashboard as it stood at the start of a chosen day (UTC), on
// the recorded basis (what coordinators could see then) or the occurred
// basis (what had happened by then, late syncs included).
func (c *Console) asOf(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	data := &asOfView{At: q.Get("at"), Basis: q.Get("basis"), Area: actor.Area, Today: c.cfg.Clock().UTC().Format(time.DateOnly)}
	basis, err := app.ParseBasis("basis", data.Basis, app.BasisRecorded)
	if err == nil {
		data.Basis = basis
		// Scope asks the application whether this actor may read the audit
		// trail at all, before any date is chosen.
		_, err = c.cfg.App.Audit.Scope(r.Context(), actor, app.LogFilter{})
	}
	if err == nil && data.At != "" {
		var at time.Time
		at, err = time.Parse(time.DateOnly, data.At)
		if err != nil {
			err = domain.FieldError("at", "must be a date, YYYY-MM-DD")
		} else {
			data.Asked = true
			data.Res, err = c.cfg.Ops.AsOf(r.Context(), actor, at, basis)
			data.Trust = latest(data.Res.Trust.Series)
		}
	}
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	v := c.view(r, "asof", s, actor)
	v.Data = data
	c.render(w, r, http.StatusOK, v)
}

type verifyView struct {
	// Ran is whether the chain was walked for this page (run=1): a walk
	// reads the whole log, so the page asks before it starts one.
	Ran bool
	app.VerifyView
}

// verify walks the hash chain when asked: the answer is of now.
func (c *Console) verify(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	var data verifyView
	var err error
	if r.URL.Query().Get("run") != "" {
		data.Ran = true
		data.VerifyView, err = c.cfg.App.Audit.Verify(r.Context(), actor)
	} else {
		_, err = c.cfg.App.Audit.Scope(r.Context(), actor, app.LogFilter{})
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		c.refuse(w, r, s, actor, err)
		return
	}
	v := c.view(r, "verify", s, actor)
	v.Data = &data
	c.render(w, r, http.StatusOK, v)
}

type exportsView struct {
	Area  domain.Area
	Today string
}

// exports shows the export form and, posted, records the export and
// streams it as a download (report.Start and report.Write, as the JSON
// API's /v1/audit/export and the CLI).
func (c *Console) exports(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodPost {
		if _, err := c.cfg.App.Audit.Scope(r.Context(), actor, app.LogFilter{}); err != nil {
			c.refuse(w, r, s, actor, err)
			return
		}
		v := c.view(r, "exports", s, actor)
		v.Data = &exportsView{Area: actor.Area, Today: c.cfg.Clock().UTC().Format(time.DateOnly)}
		c.render(w, r, http.StatusOK, v)
		return
	}
	if !c.checkCSRF(w, r, s) {
		return
	}
	f := r.PostForm
	req := report.Request{Format: f.Get("format"), Area: domain.Area{District: f.Get("district"), Chiefdom: f.Get("chiefdom")}}
	var err error
	if req.From, err = formDate(f.Get("from"), "from"); err == nil {
		req.To, err = formDate(f.Get("to"), "to")
	}
	var spec report.Spec
	if err == nil {
		// No idempotency key: each download is its own recorded export.
		weights, minVisits := c.cfg.Ops.TrustSettings()
		spec, err = report.Start(r.Context(), c.cfg.App.Audit, c.cfg.Meta(r, actor), req, weights)
		spec.TrustMinVisits = minVisits
	}
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	media := report.Media[spec.Format]
	h := w.Header()
	h.Set("Content-Type", media.ContentType)
	// Every format is a download from the console: the report opens from
	// the file, self-contained, and prints.
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="actionledger-export-%d.%s"`, spec.Record.Position, spec.Format))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if media.CSP != "" {
		h.Set("Content-Security-Policy", media.CSP)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	n, err := report.Write(r.Context(), w, c.cfg.App.Audit, spec, rc.Flush)
	if err != nil && !errors.Is(err, context.Canceled) {
		// The status is sent: cut the connection so that the browser sees
		// a failed download, never a complete-looking short file.
		c.log.Error("console export failed while streaming", zap.String("export_id", spec.Record.ID),
			zap.Int("events_written", n), zap.Error(err))
		if conn, _, herr := rc.Hijack(); herr == nil {
			_ = conn.Close()
		}
	}
}

// formDate reads an optional YYYY-MM-DD field.
func formDate(v, field string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, domain.FieldError(field, "must be a date, YYYY-MM-DD")
	}
	return t, nil
}

type historyView struct {
	Stream string
	Events []eventRow
	// Next is the revision the following page starts after; 0 on the last.
	Next uint64
}

type eventRow struct {
	app.EventView
	Occurred, Recorded string
	// Late marks an event recorded more than an hour after it happened: a
	// report that synced late.
	Late bool
	Data string
}

// history is the event history of one stream, paged by revision.
func (c *Console) history(w http.ResponseWriter, r *http.Request) {
	s, actor, ok := c.member(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	data := &historyView{Stream: strings.TrimSpace(q.Get("stream"))}
	var err error
	if data.Stream == "" {
		_, err = c.cfg.App.Audit.Scope(r.Context(), actor, app.LogFilter{})
	} else {
		after, _ := strconv.ParseUint(q.Get("after"), 10, 64)
		var events []app.EventView
		events, data.Next, err = c.cfg.App.Audit.StreamEvents(r.Context(), actor, data.Stream, after, historyPageSize)
		for _, e := range events {
			row := eventRow{EventView: e, Occurred: stamp(e.OccurredAt), Recorded: stamp(e.RecordedAt),
				Late: e.RecordedAt.Sub(e.OccurredAt) > time.Hour}
			if e.Data != nil {
				b, _ := json.Marshal(e.Data)
				row.Data = string(b)
			}
			data.Events = append(data.Events, row)
		}
	}
	if err != nil {
		c.refuse(w, r, s, actor, err)
		return
	}
	v := c.view(r, "history", s, actor)
	v.Data = data
	c.render(w, r, http.StatusOK, v)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// Package report writes actionledger's exports — the history of a place
// and period as NDJSON or CSV, and the HTML after-action review — for every
// caller alike: the JSON API's /v1/audit/export, the web console's downloads
// and the CLI's "audit export" all start and write exports here.
package report

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
)

// Exports: the history of a place and period as NDJSON or CSV (every event
// with its envelope, as /v1/audit/events shows them) or as an HTML
// after-action review (export_html.go). Every export is recorded as an
// ExportRecorded event before its first byte is written, and covers the log
// up to and including that record: what was exported, by whom and when is
// itself part of the history the export shows.
//
// Exports stream: one page of the log is read, written and flushed at a
// time, so memory stays flat whatever the length of the history.

// exportFlushEvery is how many events are written between flushes to the
// client; a selective filter also flushes at least every exportFlushAfter.
const (
	exportFlushEvery = 1000
	exportFlushAfter = time.Second
)

// Spec is one export, already recorded.
type Spec struct {
	Format string
	// Filter comes from app.Audit.Scope, on the occurred basis.
	Filter app.LogFilter
	// Record is the ExportRecorded event's result: the export covers the
	// log up to Record.Position.
	Record app.Result
	Actor  app.Actor
	// TrustWeights weigh the report's trust index (zero: the defaults).
	TrustWeights [4]float64
	// TrustMinVisits is the report's floor for "falling" (zero: the
	// default).
	TrustMinVisits int
	// Now is when the export was made.
	Now time.Time
}

// Write writes an export to w; flush, when not nil, pushes what was
// written so far to the reader (an HTTP client). It returns how many events
// were written (for the report: looked at).
func Write(ctx context.Context, w io.Writer, audit *app.Audit, spec Spec, flush func() error) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	push := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		if flush != nil {
			return flush()
		}
		return nil
	}
	var n int
	var err error
	switch spec.Format {
	case "ndjson":
		n, err = writeNDJSON(ctx, bw, push, audit, spec)
	case "csv":
		n, err = writeCSV(ctx, bw, push, audit, spec)
	case "html":
		n, err = writeReport(ctx, bw, audit, spec)
	default:
		return 0, domain.FieldError("format", "must be one of %s", strings.Join(app.ExportFormats, ", "))
	}
	if err != nil {
		return n, err
	}
	return n, push()
}

// pacer decides when to flush: every exportFlushEvery events, or when
// exportFlushAfter has passed since the last flush.
type pacer struct {
	n    int
	last time.Time
	push func() error
}

func (p *pacer) wrote() error {
	p.n++
	if p.n%exportFlushEvery != 0 && (p.n%64 != 0 || time.Since(p.last) < exportFlushAfter) {
		return nil
	}
	p.last = time.Now()
	return p.push()
}

func scanExport(ctx context.Context, audit *app.Audit, spec Spec, locate bool, visit func(*app.AuditedEvent) error) error {
	_, _, err := audit.Scan(ctx, spec.Filter, app.ScanOptions{Until: spec.Record.Position, Locate: locate}, func(e *app.AuditedEvent) (bool, error) {
		return true, visit(e)
	})
	return err
}

func writeNDJSON(ctx context.Context, w io.Writer, push func() error, audit *app.Audit, spec Spec) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	p := &pacer{last: time.Now(), push: push}
	err := scanExport(ctx, audit, spec, false, func(e *app.AuditedEvent) error {
		if err := enc.Encode(e.View()); err != nil {
			return err
		}
		return p.wrote()
	})
	return p.n, err
}

// csvColumns are the columns of a CSV export: the envelope, then the data as
// a JSON object (or the stored bytes in base64 for an event the domain does
// not know).
var csvColumns = []string{"position", "recorded_at", "occurred_at", "stream", "revision", "type", "event_id",
	"actor_id", "actor_role", "correlation_id", "causation_id", "idempotency_key", "prev_hash", "hash", "data", "data_base64"}

func writeCSV(ctx context.Context, w io.Writer, push func() error, audit *app.Audit, spec Spec) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns); err != nil {
		return 0, err
	}
	p := &pacer{last: time.Now(), push: func() error {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return push()
	}}
	row := make([]string, len(csvColumns))
	err := scanExport(ctx, audit, spec, false, func(e *app.AuditedEvent) error {
		v := e.View()
		data := ""
		if v.Data != nil {
			b, err := json.Marshal(v.Data)
			if err != nil {
				return err
			}
			data = string(b)
		}
		row = append(row[:0], strconv.FormatUint(v.Position, 10), v.RecordedAt.Format(time.RFC3339Nano), v.OccurredAt.Format(time.RFC3339Nano),
			v.Stream, strconv.FormatUint(v.Revision, 10), v.Type, v.EventID, v.ActorID, v.ActorRole,
			v.CorrelationID, v.CausationID, v.IdempotencyKey, v.PrevHash, v.Hash, data, v.DataBase64)
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
		return p.wrote()
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return p.n, err
}

// csvSafe keeps a spreadsheet from reading a cell as a formula: client-chosen
// strings (idempotency keys, correlation ids) could start with one. Such a
// cell gets a leading apostrophe, the usual convention; no stored value of
// actionledger's own starts like that.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Media is how each format is served over HTTP. The report opens in the
// browser; the data formats are saved. CSP is the policy the report needs
// (its own styles and charts, nothing else), for every server of it.
var Media = map[string]struct{ ContentType, Disposition, CSP string }{
	// JSON Lines: one event a line. Not a +json type: the body is many
	// JSON documents, not one.
	"ndjson": {"application/jsonl", "attachment", ""},
	"csv":    {"text/csv; charset=utf-8", "attachment", ""},
	"html":   {"text/html; charset=utf-8", "inline", "default-src 'none'; style-src 'unsafe-inline'; img-src data:"},
}

// Request is what an auditor asks to export.
type Request struct {
	// Format is ndjson (the default), csv or html.
	Format string
	// Area is the place (empty: the auditor's own area, national for a
	// national auditor).
	Area domain.Area
	// From and To bound occurred_at: From ≤ occurred_at < To.
	From, To time.Time
}

// StartExport checks an export request, narrows it to the auditor's area and
// records it as an ExportRecorded event by meta.Actor; only then may the
// export be written (Write). The HTTP route, the console and the CLI all start
// exports here.
func Start(ctx context.Context, audit *app.Audit, meta app.Meta, req Request, trustWeights [4]float64) (Spec, error) {
	if req.Format == "" {
		req.Format = "ndjson"
	}
	f, err := audit.Scope(ctx, meta.Actor, app.LogFilter{Area: req.Area, Basis: app.BasisOccurred, From: req.From, To: req.To})
	if err != nil {
		return Spec{}, err
	}
	res, err := audit.RecordExport.Handle(ctx, app.RecordExport{
		Meta: meta, Format: req.Format, District: f.Area.District, Chiefdom: f.Area.Chiefdom, From: req.From, To: req.To,
	})
	if err != nil {
		return Spec{}, err
	}
	return Spec{Format: req.Format, Filter: f, Record: res, Actor: meta.Actor, TrustWeights: trustWeights, Now: time.Now().UTC()}, nil
}

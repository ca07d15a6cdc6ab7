package app

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
)

// RecordExport records that an auditor exported part of the history. It is
// run before the first byte of an export is sent, so an export that could not
// be recorded is never streamed: the log itself says who took what out.
type RecordExport struct {
	Meta
	Format string
	// District and Chiefdom are the place exported (empty: the nation). An
	// auditor of a district exports within it.
	District string
	Chiefdom string
	// From and To bound the field time (occurred_at) of the exported events:
	// From ≤ occurred_at < To; zero means unbounded.
	From, To time.Time
}

// ExportFormats are the formats an export may take.
var ExportFormats = []string{"ndjson", "csv", "html"}

// latestExportTime bounds From and To: the stored encoding is Unix
// nanoseconds, and a period beyond this is a typo anyway.
var latestExportTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// NewRecordExportHandler returns the decorated handler. The result's ID is the
// export's event id and its Position is where the record landed: the export
// covers the log up to and including it.
func NewRecordExportHandler(w *Writer, d Decorators) Handler[RecordExport] {
	return decorate(d, "record_export", HandlerFunc[RecordExport](func(ctx context.Context, c RecordExport) (Result, error) {
		if err := requireRole(c.Actor, "export the history", domain.RoleAuditor); err != nil {
			return Result{}, err
		}
		if !slices.Contains(ExportFormats, c.Format) {
			return Result{}, domain.FieldError("format", "must be one of %s", strings.Join(ExportFormats, ", "))
		}
		for _, p := range []struct{ field, v string }{{"district", c.District}, {"chiefdom", c.Chiefdom}} {
			if err := placeName(p.field, p.v); err != nil {
				return Result{}, err
			}
		}
		area, err := ReadScope(c.Actor, domain.Area{District: c.District, Chiefdom: c.Chiefdom}, nil, domain.RoleAuditor)
		if err != nil {
			return Result{}, err
		}
		for _, b := range []struct {
			field string
			t     time.Time
		}{{"from", c.From}, {"to", c.To}} {
			if !b.t.IsZero() && (b.t.Before(earliestOccurredAt) || !b.t.Before(latestExportTime)) {
				return Result{}, domain.FieldError(b.field, "must be between %d and %d", earliestOccurredAt.Year(), latestExportTime.Year()-1)
			}
		}
		if !c.From.IsZero() && !c.To.IsZero() && !c.From.Before(c.To) {
			return Result{}, domain.FieldError("to", "must be after from")
		}
		at, err := w.occurredAt(&c.Meta)
		if err != nil {
			return Result{}, err
		}
		c.IfMatch = nil
		data := w.eventData(&c.Meta, at, []domain.Event{&domain.ExportRecorded{
			Format: c.Format, District: area.District, Chiefdom: area.Chiefdom,
			From: utcOrZero(c.From), To: utcOrZero(c.To),
		}})
		// Any, not the usual load-decide-append: no export depends on the
		// ones before it, and reading the whole export log before each
		// append would only grow with it.
		res, err := w.store.Append(ctx, domain.ExportsStream, eventstore.Any, data...)
		if err != nil {
			return Result{}, err
		}
		w.metrics.appended.Add(float64(len(data)))
		return Result{ID: data[0].ID.String(), Revision: res.LastRevision, Position: res.LastPosition, Created: true}, nil
	}))
}

// placeName checks a place name before it is recorded: a name, not a
// document.
func placeName(field, v string) error {
	switch {
	case !utf8.ValidString(v):
		return domain.FieldError(field, "is not valid UTF-8")
	case utf8.RuneCountInString(v) > 200:
		return domain.FieldError(field, "is longer than 200 characters")
	case strings.ContainsFunc(v, unicode.IsControl):
		return domain.FieldError(field, "contains a control character")
	}
	return nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

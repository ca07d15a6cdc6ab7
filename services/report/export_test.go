package report_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/report"
)

// TestWriteRefusesAnUnknownFormat: a format no writer has is the client's
// mistake, named by its field, and nothing is written.
func TestWriteRefusesAnUnknownFormat(t *testing.T) {
	for _, format := range []string{"xml", "CSV", ""} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := report.Write(context.Background(), &buf, nil, report.Spec{Format: format}, nil)
			if domain.ErrorCode(err) != domain.CodeInvalid || buf.Len() != 0 {
				t.Errorf("format %q: %v (code %q), %d bytes written; want invalid input and nothing written", format, err, domain.ErrorCode(err), buf.Len())
			}
		})
	}
}

// TestMediaCoversEveryFormat: each format the application records has a
// content type to be served with.
func TestMediaCoversEveryFormat(t *testing.T) {
	for _, f := range []string{"ndjson", "csv", "html"} {
		if m, ok := report.Media[f]; !ok || m.ContentType == "" || m.Disposition == "" {
			t.Errorf("format %q has no media: %+v", f, m)
		}
	}
}

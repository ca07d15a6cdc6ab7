package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/actionledger/actionledger/services/syncclient"
)

// syncCmd: `actionledger sync --server URL --token T --file backlog.ndjson`
// sends a backlog through POST /v1/sync in batches, resending a batch whose
// answer was lost, with progress on stderr and a per-item summary on
// stdout. The token may also come from ACTIONLEDGER_TOKEN (a flag shows in
// ps); it is never printed.
func syncCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var server, token, file, itemsMode, results string
	var parallel, batch int
	var noGzip bool
	f := newFlags("sync", stderr)
	f.describe(stdout, `Sends a backlog of offline writes to a running server through POST /v1/sync, in
batches, resending a batch whose answer was lost (same keys: nothing doubles).
Prints each item's outcome and a summary; exits 1 when any item was refused.`,
		`ACTIONLEDGER_TOKEN="$(cat demo-data/admin.token)" actionledger sync --server http://127.0.0.1:8080 --file scripts/sample-backlog.ndjson`,
		`actionledger sync --server http://127.0.0.1:8080 --token "$MOB" --file phone-7.ndjson      # a phone's own backlog`)
	f.String(&server, "server", "http://127.0.0.1:8080", "base URL of the server")
	f.String(&token, "token", "", "bearer token: the phone user's, or the admin's for a file that declares users")
	f.String(&file, "file", "", "backlog to send (NDJSON of sync items, as written by generate); - for stdin")
	f.IntVar(&parallel, "parallel", 1, "communities sent side by side (1 keeps the file's order exactly)")
	f.IntVar(&batch, "batch", syncclient.MaxBatch, "items per batch (at most 500)")
	f.Bool(&noGzip, "no-gzip", false, "send batches uncompressed")
	f.String(&itemsMode, "items", "auto", "per-item lines on stdout: all, refused, none, or auto (all up to 1000 items, else refused)")
	f.String(&results, "results", "", "also write every item's result to this file (NDJSON)")
	if err := f.parse(args); err != nil {
		return err
	}
	if token == "" {
		token = os.Getenv("ACTIONLEDGER_TOKEN")
	}
	switch {
	case file == "":
		return errors.New("give --file (a backlog of sync items)")
	case token == "":
		return errors.New("give --token or set ACTIONLEDGER_TOKEN")
	}
	in := io.Reader(os.Stdin)
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return err
		}
		defer fh.Close()
		in = fh
	}
	bar := newProgressBar(stderr)
	c, err := syncclient.New(syncclient.Config{BaseURL: server, Token: token, Parallel: parallel, BatchSize: batch, NoGzip: noGzip,
		Progress: func(p syncclient.Progress) {
			bar.show("sync", p.Done, p.Total, fmt.Sprintf("%d batches, %d resent", p.Batches, p.Retries), p.Elapsed)
		}})
	if err != nil {
		return err
	}
	sum, err := c.SyncFile(ctx, in)
	bar.finish()
	if results != "" && len(sum.Results) > 0 {
		if werr := writeResults(results, sum.Results); werr != nil && err == nil {
			err = werr
		}
	}
	printSyncSummary(stdout, sum, itemsMode)
	if err == nil {
		// Exit 1 when anything was refused: a script must not take a
		// partly refused backlog for a synced one.
		err = sum.Err()
	}
	return err
}

func writeResults(path string, rs []syncclient.ItemResult) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(fh)
	for _, r := range rs {
		if r.Outcome == "" {
			continue // never sent
		}
		if err := enc.Encode(r); err != nil {
			fh.Close()
			return err
		}
	}
	return fh.Close()
}

func printSyncSummary(w io.Writer, s syncclient.Summary, mode string) {
	if mode == "auto" {
		mode = "all"
		if s.Items > 1000 {
			mode = "refused"
		}
	}
	if mode == "all" || mode == "refused" {
		for _, r := range s.Results {
			if r.Outcome == "" || mode == "refused" && r.Outcome != syncclient.Refused {
				continue
			}
			line := fmt.Sprintf("line %d  %s  %s %s  %d %s", r.Line, r.Key, r.Method, r.Path, r.Status, strings.ReplaceAll(r.Outcome, "_", " "))
			if r.Outcome == syncclient.Refused {
				line += ": " + r.Code
				if r.Field != "" {
					line += " (" + r.Field + ")"
				}
				if r.Detail != "" {
					line += " " + r.Detail
				}
			}
			fmt.Fprintln(w, line)
		}
	}
	sent := s.Written + s.AlreadyThere + s.Refused
	fmt.Fprintf(w, "synced %d of %d items in %s (%d batches, %d resent after a lost answer): %d written, %d already there",
		sent, s.Items, s.Took.Round(time.Millisecond), s.Batches, s.Retries, s.Written, s.AlreadyThere)
	if s.ConfirmedOnRetry > 0 {
		fmt.Fprintf(w, " (%d of them confirmed on a resend: most likely written by the attempt whose answer was lost)", s.ConfirmedOnRetry)
	}
	fmt.Fprintf(w, ", %d refused\n", s.Refused)
	if s.Users > 0 {
		fmt.Fprintf(w, "users created or found: %d\n", s.Users)
	}
	if len(s.RefusedBy) > 0 {
		codes := make([]string, 0, len(s.RefusedBy))
		for c, n := range s.RefusedBy {
			codes = append(codes, fmt.Sprintf("%s %d", c, n))
		}
		sort.Strings(codes)
		fmt.Fprintf(w, "refused by code: %s\n", strings.Join(codes, ", "))
	}
}

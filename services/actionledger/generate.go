package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/actionledger/actionledger/services/generate"
	"github.com/actionledger/actionledger/services/places"
	"github.com/actionledger/actionledger/services/server"
)

// generateCmd: `actionledger generate --scale tiny|clea|clea10 --seed N
// [--out FILE] [--places FILE]` writes a deterministic CLEA-shaped history as a backlog
// (services/backlog) to FILE or stdout, and a summary to stderr.
func generateCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var scale, out, placesFile string
	var seed uint64
	f := newFlags("generate", stderr)
	f.describe(stdout, `Writes a deterministic CLEA-shaped history (communities, visits, action points,
referrals, feedback, with back-dated field times) as a backlog: NDJSON of sync
items, the input of import and sync. The same scale and seed give the same file;
a summary goes to stderr.`,
		"actionledger generate --scale tiny --seed 1 --out tiny.ndjson")
	f.String(&scale, "scale", "tiny", "size of the history: "+strings.Join(generate.ScaleNames, ", "))
	f.Uint64Var(&seed, "seed", 1, "seed; the same scale and seed give the same file")
	f.String(&out, "out", "", "file to write (default: stdout)")
	f.String(&placesFile, "places", "", "places list to generate in (default: Sierra Leone's, built in; the server must load the same one)")
	if err := f.parse(args); err != nil {
		return err
	}
	sc, ok := generate.Scales[scale]
	if !ok {
		return fmt.Errorf("--scale %q: want one of %s", scale, strings.Join(generate.ScaleNames, ", "))
	}
	pl, err := loadPlaces(placesFile)
	if err != nil {
		return err
	}
	w := stdout
	var file *os.File
	if out != "" {
		if file, err = os.Create(out); err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	start := time.Now()
	sum, err := generate.GenerateIn(bw, sc, seed, pl)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && file != nil {
		err = file.Sync()
	}
	if err != nil {
		if out != "" {
			_ = os.Remove(out)
		}
		return errors.Join(errors.New("generate"), err)
	}
	printSummary(stderr, sum, time.Since(start))
	return nil
}

func printSummary(w io.Writer, s generate.Summary, took time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\t\n", k, v) }
	fmt.Fprintf(w, "generated scale %s, seed %d, in %s\n", s.Scale, s.Seed, took.Round(time.Millisecond))
	row("districts", s.Districts)
	row("chiefdoms", s.Chiefdoms)
	row("communities", s.Communities)
	row("users", s.Users)
	row("items", s.Items)
	row("events (each item once, plus users)", s.Events)
	row("visits", s.Visits)
	row("action points", s.ActionPoints)
	for _, st := range []string{"open", "in_progress", "achieved", "dropped"} {
		n := s.ActionPointsBy[st]
		pct := 0.0
		if s.ActionPoints > 0 {
			pct = 100 * float64(n) / float64(s.ActionPoints)
		}
		row("  "+st+" at the end", fmt.Sprintf("%d (%.2f%%)", n, pct))
	}
	row("referrals", s.Referrals)
	row("feedback items", s.Feedback)
	row("items synced a day or more late", fmt.Sprintf("%d (%.1f%%), up to %s", s.LateItems, 100*float64(s.LateItems)/float64(max(s.Items, 1)), s.MaxLate.Round(time.Hour)))
	row("field time", s.From.Format(time.DateOnly)+" to "+s.To.Format(time.DateOnly))
	_ = tw.Flush()
	types := make([]string, 0, len(s.EventsByType))
	for k := range s.EventsByType {
		types = append(types, k)
	}
	sort.Strings(types)
	fmt.Fprintln(w, "events by type:")
	for _, k := range types {
		fmt.Fprintf(tw, "  %s\t%d\t\n", k, s.EventsByType[k])
	}
	_ = tw.Flush()
}

// loadPlaces reads a --places file, or gives Sierra Leone's list when none
// is named: the same list the server checks against.
func loadPlaces(path string) (*places.Catalogue, error) {
	return server.LoadPlaces(path)
}

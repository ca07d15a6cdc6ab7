package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/actionledger/actionledger/services/importer"
	"github.com/actionledger/actionledger/services/server"
)

// importCmd: `actionledger import --data-dir D --file F` loads a backlog
// into the embedded store through the command handlers (the server must be
// stopped: one process at a time opens the store), then rebuilds the read
// models so that the next start is ready at once.
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dataDir, file, logLevel, cpuProfile, memProfile, placesFile string
	var workers, window int
	var noRebuild bool
	f := newFlags("import", stderr)
	f.describe(stdout, `Loads a backlog (from generate, or a phone's queue) into the embedded store
through the API's own routes and command handlers, so every rule applies, then
rebuilds the read models. Exits 1 when any item was refused. The server must
be stopped: one process at a time opens the store.`,
		"actionledger import --data-dir ./data --file tiny.ndjson")
	f.String(&dataDir, "data-dir", "./data", "directory of the embedded store (the server must be stopped)")
	f.String(&file, "file", "", "backlog to load (NDJSON, as written by generate); - for stdin")
	f.String(&placesFile, "places", "", "places list the backlog's places are checked against (default: Sierra Leone's, built in)")
	f.IntVar(&workers, "workers", importer.DefaultWorkers, "communities imported side by side")
	f.IntVar(&window, "window", importer.DefaultWindow, "items read and grouped by community at a time (two are held)")
	f.Bool(&noRebuild, "no-rebuild", false, "leave the read models to catch up when the server starts")
	f.String(&logLevel, "log-level", "warn", "debug, info, warn or error (info logs every command)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the import to this file (diagnostics)")
	f.StringVar(&memProfile, "memprofile", "", "write a heap profile to this file half way through the items (diagnostics)")
	if err := f.parse(args); err != nil {
		return err
	}
	// A batch job: collecting less often saves CPU, and the heap is held
	// to importHeapLimit (unless GOMEMLIMIT says otherwise) so that the
	// importer's own memory stays bounded whatever the file's size. Half
	// way through a 300,000-item prefix of clea the live heap was 210 MB;
	// GC at 200% alone grew the process past 1.3 GB of anonymous memory
	// on the whole file.
	debug.SetGCPercent(200)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(importHeapLimit)
	}
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if file == "" {
		return errors.New("give --file (a backlog, e.g. from actionledger generate)")
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
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// server.Open gives the same wiring as `serve` (store, secrets, the
	// application): user tokens derived here are the ones the server will
	// answer. It binds a port on loopback but never serves.
	m, err := server.Open(ctx, server.Config{
		Addr: "127.0.0.1:0", DataDir: dataDir, PlacesFile: placesFile,
		AdminToken: os.Getenv("ACTIONLEDGER_ADMIN_TOKEN"), TokenSecret: os.Getenv("ACTIONLEDGER_TOKEN_SECRET"),
	}, log)
	if err != nil {
		return fmt.Errorf("opening %s (is the server still running?): %w", dataDir, err)
	}
	defer m.Close()

	bar := newProgressBar(stderr)
	heapWritten := memProfile == ""
	rep, err := importer.Run(ctx, importer.Config{Exec: m.API(), Store: m.Store(), Workers: workers, Window: window,
		Progress: func(p importer.Progress) {
			if !heapWritten && p.Total > 0 && p.Done >= p.Total/2 {
				// Half way the windows, the caches and the store's index
				// are all in use: what the heap holds then is typical.
				heapWritten = true
				if err := writeHeapProfile(memProfile); err != nil {
					fmt.Fprintf(stderr, "writing the heap profile: %v\n", err)
				}
			}
			bar.show(p.Phase, p.Done, p.Total, fmt.Sprintf("%s events, %s/s", thousands(int(p.Events)), thousands(int(rate(p.Events, p.Elapsed)))), p.Elapsed)
		}}, in)
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s items (%s users) in %s: %s written, %s already there, %s refused\n",
		thousands(rep.Items), thousands(rep.Users), rep.Took.Round(time.Millisecond),
		thousands(rep.Written), thousands(rep.Replayed), thousands(rep.Refused))
	fmt.Fprintf(stdout, "appended %s events at %s events/s (the file read as it went; %s waiting for it)\n",
		thousands(int(rep.Events)), thousands(int(rep.EventsPerSec)), rep.Read.Round(time.Millisecond))
	if rep.Refused > 0 {
		var codes []string
		for c, n := range rep.RefusedBy {
			codes = append(codes, fmt.Sprintf("%s %d", c, n))
		}
		fmt.Fprintf(stdout, "refused by code: %s; the first ones:\n", strings.Join(codes, ", "))
		_ = importer.MarshalRefusals(stdout, rep.Refusals)
	}
	// Like sync: a backlog that did not all get in is a failure (exit 1),
	// after what was written has been made readable.
	var refused error
	if rep.Refused > 0 {
		refused = fmt.Errorf("%s of %s items were refused (see above)", thousands(rep.Refused), thousands(rep.Items))
	}
	if noRebuild {
		return refused
	}
	rb, err := m.Read().Rebuild(ctx)
	if err != nil {
		return fmt.Errorf("rebuilding the read models: %w", err)
	}
	fmt.Fprintf(stdout, "rebuilt the read models from %s events in %s (%s events/s; saving them took %s)\n",
		thousands(int(rb.Events)), rb.Took.Round(time.Millisecond), thousands(int(rb.PerSec)), rb.Saved.Round(time.Millisecond))
	return refused
}

// importHeapLimit is the Go heap's soft limit during an import. It trades
// CPU for memory: on clea, collection took about 40% of the import's CPU
// under 640 MiB. The store's memory-mapped file comes on top, in RSS; the
// importer releases its pages every so often (it grew to 600 MB of the
// process's 1.2 GB when it did not), which leaves room for a higher limit
// within the importer's 1 GB: at 850 MiB the import took about 18% less CPU
// per event than at 640 MiB on clea.
const importHeapLimit = 768 << 20

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); fh.Close() }, nil
}

// writeHeapProfile writes what the heap holds now to path.
func writeHeapProfile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the profile is as of the last collection: make it now
	if err := pprof.WriteHeapProfile(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// thousands formats n as 1,234,567.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// progressBar draws progress on a terminal in place, and elsewhere (a log,
// a CI run) as a line every few seconds.
type progressBar struct {
	w        io.Writer
	tty      bool
	last     time.Time
	drawn    bool
	lastLine string
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty}
}

func (b *progressBar) show(phase string, done, total int, extra string, elapsed time.Duration) {
	if !b.tty && time.Since(b.last) < 5*time.Second {
		return
	}
	b.last = time.Now()
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	fill := int(frac * width)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	eta := ""
	if frac > 0.01 && frac < 1 {
		eta = " ETA " + (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
	}
	line := fmt.Sprintf("%-6s [%s] %5.1f%% %s/%s %s%s", phase, bar, 100*frac, thousands(done), thousands(total), extra, eta)
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\x1b[K", line)
		b.drawn = true
		return
	}
	fmt.Fprintln(b.w, line)
}

func (b *progressBar) finish() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
	}
}

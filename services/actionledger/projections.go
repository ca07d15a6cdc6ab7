package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"go.uber.org/zap"
)

const projectionsUsage = `usage: actionledger projections rebuild (--data-dir DIR | --server URL)

  rebuild   rebuild the read models from the first event

Example:
  actionledger projections rebuild --data-dir ./data

Run "actionledger projections rebuild --help" for its flags.
`

// projectionsCmd: `actionledger projections rebuild`, against a data dir
// (server stopped) or a running server (it keeps serving the old models
// until the new ones are ready).
func projectionsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help"):
		fmt.Fprint(stdout, projectionsUsage)
		return nil
	case len(args) == 0 || args[0] != "rebuild":
		fmt.Fprint(stderr, projectionsUsage)
		return errors.New("projections: give a command (rebuild)")
	}
	var dataDir, serverURL, logLevel, cpuProfile, memProfile string
	f := newFlags("projections rebuild", stderr)
	f.describe(stdout, `Rebuilds the read models (completion, referrals, feedback, trust) from the first
event. Offline (--data-dir, the server stopped) it writes a new projections.db;
against a running server (--server, ACTIONLEDGER_ADMIN_TOKEN) the current models
keep serving until the new ones have caught up.`,
		"actionledger projections rebuild --data-dir ./data",
		`ACTIONLEDGER_ADMIN_TOKEN="$(cat data/admin.token)" actionledger projections rebuild --server http://127.0.0.1:8080`)
	f.String(&dataDir, "data-dir", "", "rebuild offline in this data dir (the server must be stopped)")
	f.String(&serverURL, "server", "", "ask a running server to rebuild (needs ACTIONLEDGER_ADMIN_TOKEN)")
	f.String(&logLevel, "log-level", "warn", "debug, info, warn or error")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of an offline rebuild to this file (diagnostics)")
	f.StringVar(&memProfile, "memprofile", "", "write a heap profile to this file when an offline rebuild ends, before the models are released (diagnostics)")
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	if cpuProfile != "" && dataDir != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	switch {
	case serverURL != "":
		return rebuildRemote(ctx, serverURL, os.Getenv("ACTIONLEDGER_ADMIN_TOKEN"), stdout)
	case dataDir != "":
		log, err := newLogger(stderr, logLevel)
		if err != nil {
			return err
		}
		return rebuildOffline(ctx, dataDir, log, stdout, memProfile)
	}
	return errors.New("give --data-dir or --server")
}

func rebuildOffline(ctx context.Context, dataDir string, log *zap.Logger, stdout io.Writer, memProfile string) error {
	store, err := boltstore.Open(filepath.Join(dataDir, "events.db"), boltstore.Options{OpenTimeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("opening the event store (is the server still running?): %w", err)
	}
	defer store.Close()
	eng, err := projections.Open(ctx, projections.Config{Store: store, Path: filepath.Join(dataDir, "projections.db"), Logger: log, Fresh: true})
	if err != nil {
		return err
	}
	defer eng.Close()
	rep, err := eng.Rebuild(ctx)
	if err != nil {
		return err
	}
	if memProfile != "" {
		if err := writeHeapProfile(memProfile); err != nil {
			return err
		}
	}
	return printReport(stdout, rep)
}

func rebuildRemote(ctx context.Context, base, token string, stdout io.Writer) error {
	if token == "" {
		return errors.New("set ACTIONLEDGER_ADMIN_TOKEN")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/v1/admin/projections/rebuild", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s: %s", resp.Status, body)
	}
	var rep projections.RebuildReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return err
	}
	return printReport(stdout, rep)
}

func printReport(w io.Writer, r projections.RebuildReport) error {
	_, err := fmt.Fprintf(w, "rebuilt read models from %d events in %s (%s events/s; saving them took %s), %d skipped; now at position %d\n",
		r.Events, r.Took.Round(time.Millisecond), strconv.FormatFloat(r.PerSec, 'f', 0, 64), r.Saved.Round(time.Millisecond), r.Skipped, r.Position)
	return err
}

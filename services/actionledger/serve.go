package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/actionledger/actionledger/projections"
	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg server.Config
	var logLevel string
	f := newFlags("serve", stderr)
	f.String(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.String(&cfg.DataDir, "data-dir", "./data", "directory of the embedded store and generated secrets")
	f.Bool(&cfg.Demo, "demo", false, "load the demo data set and print a token per role")
	f.Duration(&cfg.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests may finish on SIGTERM")
	f.String(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.Bool(&cfg.RebuildProjections, "rebuild-projections", false, "rebuild the read models from the first event after start, serving the stored ones meanwhile")
	f.Duration(&cfg.SnapshotEvery, "snapshot-every", time.Minute, "how often read models are saved with their checkpoint (a restart replays at most this much of the log)")
	f.String(&cfg.DebugAddr, "debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty)")
	var weights string
	f.String(&weights, "trust-weights", "0.4,0.2,0.2,0.2", "weights of T1,T2,T3,T4 in the trust index")
	f.Int(&cfg.TrustMinVisits, "trust-min-visits", projections.DefaultTrustMinVisits, "visits each of the two weeks must rest on before the trust index is called falling")
	f.String(&cfg.Store, "store", server.StoreBolt, "event store: bolt (embedded, in --data-dir) or kurrentdb (ACTIONLEDGER_KURRENTDB_URL, shared by replicas)")
	var relayOpts relayOptions
	relayOpts.flags(f, "relay-nats-url")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := parseWeights(weights, &cfg.TrustWeights); err != nil {
		return err
	}
	if cfg.TrustMinVisits < 1 {
		return fmt.Errorf("--trust-min-visits: want at least 1, got %d", cfg.TrustMinVisits)
	}
	// Secrets come from the environment only: a flag would show in ps.
	cfg.AdminToken = os.Getenv("ACTIONLEDGER_ADMIN_TOKEN")
	cfg.TokenSecret = os.Getenv("ACTIONLEDGER_TOKEN_SECRET")
	// The connection string may carry a password.
	cfg.KurrentDBURL = os.Getenv("ACTIONLEDGER_KURRENTDB_URL")

	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting actionledger", cfg.Masked()...)

	m, err := server.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := m.Close(); err != nil {
			log.Error("closing", zap.Error(err))
		}
	}()
	if cfg.Demo {
		printDemo(stdout, m, cfg)
	}
	if relayOpts.natsURL == "" {
		return m.Serve(ctx)
	}
	// The relay in the server process: the way to run it on the embedded
	// store, whose file only one process may open. It stops with the server.
	rctx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		superviseRelay(rctx, m.Store(), cfg.DataDir, relayOpts, log)
	}()
	serveErr := m.Serve(ctx)
	stopRelay()
	<-relayDone
	return serveErr
}

// printDemo shows a newcomer how to call the demo: one token per role (these
// are demo credentials, printed on purpose) and a curl line to try.
func printDemo(w io.Writer, m *server.Main, cfg server.Config) {
	base := m.URL()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nactionledger demo is up on %s (data in %s)\n\n", base, cfg.DataDir)
	fmt.Fprintln(tw, "role\tarea\ttoken")
	for _, u := range m.DemoTokens {
		token := u.Token
		if u.Role == "admin" {
			token = "see ACTIONLEDGER_ADMIN_TOKEN or " + cfg.DataDir + "/admin.token"
		}
		area := u.Area.District
		if area == "" {
			area = "national"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Role, area, token)
	}
	_ = tw.Flush()
	var mob, coord string
	for _, u := range m.DemoTokens {
		switch u.Role {
		case "mobilizer":
			mob = u.Token
		case "coordinator":
			coord = u.Token
		}
	}
	fmt.Fprintf(w, "\nTry:\n")
	fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' %s/v1/action-points/KEN-NON-11-AP1\n", mob, base)
	fmt.Fprintf(w, "  curl -s -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n    -d '{\"note\":\"Buckets delivered\"}' %s/v1/action-points/KEN-NON-11-AP1/progress\n", mob, base)
	fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' %s/v1/referrals/KEN-NON-11-R1\n", coord, base)
	fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' '%s/v1/stats/completion?interval=week'\n", coord, base)
	fmt.Fprintf(w, "  curl -s -H 'Authorization: Bearer %s' %s/v1/stats/trust\n", coord, base)
	fmt.Fprintf(w, "\nThe API is described at %s/v1/openapi.json\n%s\n", base, strings.Repeat("-", 60))
}

func parseWeights(s string, out *[4]float64) error {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return fmt.Errorf("--trust-weights: want four comma-separated numbers, got %q", s)
	}
	sum := 0.0
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 {
			return fmt.Errorf("--trust-weights: %q is not a non-negative number", p)
		}
		out[i] = v
		sum += v
	}
	if sum == 0 {
		return errors.New("--trust-weights: at least one weight must be positive")
	}
	return nil
}

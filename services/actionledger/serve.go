package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	f.describe(stdout, `Runs the HTTP API (/v1, /healthz, /readyz, /metrics) on the embedded store in
--data-dir, or on KurrentDB with --store kurrentdb. With --demo it first loads a
small demo data set (idempotent: a second start writes nothing new) and prints a
token per role and curl lines to try.`,
		"actionledger serve --demo --data-dir ./demo-data",
		"actionledger serve --addr 0.0.0.0:8080 --data-dir /var/lib/actionledger")
	f.String(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.String(&cfg.DataDir, "data-dir", "./data", "directory of the embedded store and generated secrets")
	f.Bool(&cfg.Demo, "demo", false, "load the demo data set and print a token per role")
	f.Duration(&cfg.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests may finish on SIGTERM")
	f.Int(&cfg.MaxInFlight, "max-in-flight", server.DefaultMaxInFlight, "requests served at once; one more waits up to 1s for room, then is answered 503 overloaded")
	f.String(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.Bool(&cfg.RebuildProjections, "rebuild-projections", false, "rebuild the read models from the first event after start, serving the stored ones meanwhile")
	f.Duration(&cfg.SnapshotEvery, "snapshot-every", projections.DefaultSnapshotEvery, "the longest a changed read model goes unsaved (a save encodes the whole model)")
	f.Int(&cfg.SnapshotEvents, "snapshot-events", projections.DefaultSnapshotEvents, "a read model is saved sooner once it has applied this many events since its last save: a restart replays at most about this many")
	f.String(&cfg.DebugAddr, "debug-addr", "", "serve Go's profiler (/debug/pprof/, with the mutex and block profiles sampled) on this address, e.g. 127.0.0.1:6060 (off when empty)")
	var weights string
	f.String(&weights, "trust-weights", "0.4,0.2,0.2,0.2", "weights of T1,T2,T3,T4 in the trust index")
	f.String(&cfg.PlacesFile, "places", "", "places list (CSV: district_code,district,chiefdom_code,chiefdom) to check places against (default: Sierra Leone's, built in)")
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
		// The banner comes last, once the read models hold the demo: what
		// it suggests then answers with the demo's numbers, and the startup
		// lines do not push it off the screen.
		head, err := m.Store().Head(ctx)
		if err != nil {
			return err
		}
		bctx, stopBanner := context.WithCancel(ctx)
		defer stopBanner()
		go func() {
			if m.Read().WaitFor(bctx, head) == nil {
				printDemo(stdout, m, cfg)
			}
		}()
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

// printDemo shows a newcomer how to call the demo, once it has loaded: where
// the server answers, one token per role (demo credentials, printed on
// purpose), export lines for the README's examples (including the dates the
// demo's data covers, so dated examples work whatever day it was loaded)
// and curl lines to try.
func printDemo(w io.Writer, m *server.Main, cfg server.Config) {
	base := m.URL()
	fmt.Fprintf(w, "\nactionledger demo is ready (data in %s)\n\n", cfg.DataDir)
	fmt.Fprintf(w, "  API:          %s/v1/...  (described at %s/v1/openapi.json)\n", base, base)
	fmt.Fprintf(w, "  server root:  %s/\n", base)
	fmt.Fprintf(w, "  health:       %s/healthz  %s/readyz  %s/metrics\n\n", base, base, base)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  role\tarea\ttoken")
	adminToken := "$(cat " + filepath.Join(cfg.DataDir, "admin.token") + ")"
	if cfg.AdminToken != "" {
		adminToken = `"$ACTIONLEDGER_ADMIN_TOKEN"`
	}
	tokens := map[string]string{}
	for _, u := range m.DemoTokens {
		token := u.Token
		if u.Role == "admin" {
			token = "see ACTIONLEDGER_ADMIN_TOKEN or " + filepath.Join(cfg.DataDir, "admin.token")
		}
		area := u.Area.District
		if area == "" {
			area = "national"
		}
		tokens[u.Role] = u.Token
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", u.Role, area, token)
	}
	_ = tw.Flush()
	loaded := m.DemoLoadedAt.UTC()
	from := loaded.AddDate(0, 0, -server.DemoDays).Format(time.DateOnly)
	at := loaded.AddDate(0, 0, -server.DemoDays/2).Format(time.DateOnly)
	to := loaded.AddDate(0, 0, 1).Format(time.DateOnly)
	fmt.Fprintf(w, "\nThe demo's field times run from %s to %s, the day it was first loaded.\n", from, loaded.Format(time.DateOnly))
	fmt.Fprintf(w, "To follow the README's examples, paste:\n\n")
	fmt.Fprintf(w, "  export AL=%s\n", base)
	fmt.Fprintf(w, "  export ADMIN=%s\n", adminToken)
	fmt.Fprintf(w, "  export MOB=%s COORD=%s AUDIT=%s\n", tokens["mobilizer"], tokens["coordinator"], tokens["auditor"])
	fmt.Fprintf(w, "  export FROM=%s AT=%s TO=%s\n", from, at, to)
	fmt.Fprintf(w, "\nTry:\n")
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $MOB\" $AL/v1/action-points/KEN-NON-11-AP1\n")
	fmt.Fprintf(w, "  curl -s -X POST -H \"Authorization: Bearer $MOB\" -H 'Content-Type: application/json' \\\n    -d '{\"note\":\"Buckets delivered\"}' $AL/v1/action-points/KEN-NON-11-AP1/progress\n")
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $COORD\" $AL/v1/referrals/KEN-NON-11-R1\n")
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $COORD\" \"$AL/v1/stats/completion?interval=week\"\n")
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $COORD\" $AL/v1/stats/trust\n")
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $AUDIT\" \"$AL/v1/audit/as-of?at=$AT&basis=occurred&district=Kenema\"\n")
	fmt.Fprintf(w, "\nThe web console is at %s/ and the mobilizers' app at %s/app/ (sign in with a token above).\n", base, base)
	fmt.Fprintf(w, "The API is described at %s/v1/openapi.json\n", base)
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 72))
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

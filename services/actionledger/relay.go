package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore"
	"github.com/actionledger/actionledger/services/relay"
	"github.com/actionledger/actionledger/services/server"
)

// relayCheckpointFile is the relay's checkpoint, in the data dir.
const relayCheckpointFile = "relay.checkpoint"

// relayOptions are the relay's flags, shared by `relay` and `serve
// --relay-nats-url`.
type relayOptions struct {
	natsURL         string
	stream          string
	subjectPrefix   string
	duplicateWindow time.Duration
	checkpointEvery time.Duration
	types           string
}

func (o *relayOptions) flags(f flags, natsName string) {
	f.String(&o.natsURL, natsName, "", "NATS server to relay domain events to, e.g. nats://127.0.0.1:4222")
	f.String(&o.stream, "relay-stream", "ACTIONLEDGER_EVENTS", "JetStream stream the relay creates and publishes to")
	f.String(&o.subjectPrefix, "relay-subject-prefix", "actionledger.events", "subjects are <prefix>.<category>.<event type>")
	f.Duration(&o.duplicateWindow, "relay-duplicate-window", 7*24*time.Hour, "JetStream de-duplication window: the longest relay outage that still publishes each event once")
	f.Duration(&o.checkpointEvery, "relay-checkpoint-every", time.Second, "how often the relay saves its position")
	f.String(&o.types, "relay-types", "", "comma-separated event types to relay (default: every domain event but users and exports)")
}

// runRelay publishes store's log to NATS until ctx ends.
func runRelay(ctx context.Context, store eventstore.Store, dataDir string, o relayOptions, log *zap.Logger) error {
	var types []string
	for t := range strings.SplitSeq(o.types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			types = append(types, t)
		}
	}
	r, err := relay.New(relay.Config{
		Store: store, NATSURL: o.natsURL, Stream: o.stream, SubjectPrefix: o.subjectPrefix,
		DuplicateWindow: o.duplicateWindow, CheckpointEvery: o.checkpointEvery, Types: types,
		CheckpointPath: filepath.Join(dataDir, relayCheckpointFile), Logger: log,
	})
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// superviseRelay runs the relay inside the server until ctx ends, restarting
// it after a failure (NATS unreachable at start, say): an integration outage
// must not take the API down, and the relay picks up from its checkpoint.
func superviseRelay(ctx context.Context, store eventstore.Store, dataDir string, o relayOptions, log *zap.Logger) {
	backoff := time.Second
	for {
		began := time.Now()
		err := runRelay(ctx, store, dataDir, o, log)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			backoff = time.Second // it ran for a while: a fresh failure
		}
		log.Error("relay stopped; restarting", zap.Error(err), zap.Duration("backoff", backoff))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// relayCmd: `actionledger relay`, the relay on its own (one per deployment;
// with KurrentDB it runs beside any number of servers). On the embedded store
// it needs the server stopped (bbolt: one process per file); use `serve
// --relay-nats-url` there.
func relayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		o        relayOptions
		cfg      server.Config
		logLevel string
	)
	f := newFlags("relay", stderr)
	f.describe(stdout, `Publishes every domain event (users and exports excepted) to NATS JetStream, each
once (Nats-Msg-Id is the event id), resuming from its checkpoint in --data-dir.
On the embedded store the server must be stopped; run serve --relay-nats-url there.`,
		"ACTIONLEDGER_KURRENTDB_URL='esdb://127.0.0.1:2113?tls=false' actionledger relay --store kurrentdb --nats-url nats://127.0.0.1:4222 --data-dir ./relay")
	o.flags(f, "nats-url")
	f.String(&cfg.DataDir, "data-dir", "./data", "directory of the relay's checkpoint (and of the embedded store)")
	f.String(&cfg.Store, "store", server.StoreBolt, "event store: bolt (in --data-dir; the server must be stopped) or kurrentdb (ACTIONLEDGER_KURRENTDB_URL)")
	f.String(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := f.parse(args); err != nil {
		return err
	}
	if o.natsURL == "" {
		return errors.New("relay: give --nats-url (or ACTIONLEDGER_NATS_URL)")
	}
	cfg.KurrentDBURL = os.Getenv("ACTIONLEDGER_KURRENTDB_URL")
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	log.Info("starting the relay", zap.String("nats_url", kurrentstore.MaskURL(o.natsURL)), zap.String("data_dir", cfg.DataDir),
		zap.String("store", cfg.Store), zap.String("kurrentdb_url", kurrentstore.MaskURL(cfg.KurrentDBURL)))
	store, err := server.OpenStore(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("opening the event store: %w", err)
	}
	defer store.Close()
	return runRelay(ctx, store, cfg.DataDir, o, log)
}

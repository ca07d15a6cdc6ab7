package kurrentstore_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore"
	"github.com/actionledger/actionledger/services/eventstore/kurrentstore/kurrenttest"
	"github.com/actionledger/actionledger/services/eventstore/storetest"
)

// realURLEnv names a real KurrentDB to run the suite against as well.
const realURLEnv = "ACTIONLEDGER_KURRENTDB_URL"

func openStore(t *testing.T, url string, opts kurrentstore.Options) storetest.Opener {
	t.Helper()
	return func() (eventstore.Store, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return kurrentstore.Open(ctx, url, opts)
	}
}

// TestConformance runs the port's conformance suite through the real client
// library against the in-process gRPC server (a fresh server per sub-test),
// with system events interleaved in the log as a real server has them.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		srv := kurrenttest.Start(t, kurrenttest.Options{SystemEventEvery: 3})
		return openStore(t, srv.URL(), kurrentstore.Options{})
	})
}

// TestConformanceRealKurrentDB runs the same suite against the KurrentDB
// named by ACTIONLEDGER_KURRENTDB_URL, each sub-test in a namespace of its
// own, so that one database serves every run.
func TestConformanceRealKurrentDB(t *testing.T) {
	url := os.Getenv(realURLEnv)
	if url == "" {
		t.Skipf("%s is not set: the conformance suite ran against the in-process KurrentDB protocol server only "+
			"(set it to an esdb:// connection string, e.g. esdb://127.0.0.1:2113?tls=false, to run it against a real server)", realURLEnv)
	}
	t.Logf("running against %s", kurrentstore.MaskURL(url))
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		ns := "conformance_" + strings.ReplaceAll(uuid.NewString(), "-", "")
		return openStore(t, url, kurrentstore.Options{Namespace: ns})
	})
}

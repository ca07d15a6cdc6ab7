package tests_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// relayNATS is the NATS server .ci/run starts: loopback, JetStream on.
const relayNATS = "nats://127.0.0.1:4222"

// natsMissing skips a test that needs NATS with JetStream on relayNATS when
// there is none, saying why — except in CI (CI=true), where NATS is part of
// the setup and a skip would hide that the relay went untested: there it
// fails.
func natsMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: the relay tests must run)", args...)
	}
	t.Skipf(format, args...)
}

// TestRelayKilledMidStream runs the real binary's `relay` on an embedded
// store, kills it with SIGKILL while it publishes, starts it again, and
// counts the messages per event id on the JetStream stream: every relayed
// event is there exactly once.
func TestRelayKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	nc, err := nats.Connect(relayNATS, nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		natsMissing(t, "no NATS server at %s (%v): this test needs nats-server -js on loopback, as .ci/run starts it", relayNATS, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		natsMissing(t, "NATS at %s has no JetStream (%v)", relayNATS, err)
	}

	// A log of referrals (relayed) and users (kept inside).
	dir := t.TempDir()
	store, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const referrals, writers = 6000, 16
	want := map[string]bool{}
	evs := make([]eventstore.EventData, referrals)
	for i := range evs {
		typ, data := domain.Marshal(&domain.ReferralRaised{ID: fmt.Sprintf("R%d", i), CommunityID: "KEN-1",
			Place: domain.Place{District: "Kenema", Chiefdom: "Nongowa"}, Kind: "suspected_case", Channel: "mobilizer"})
		evs[i] = eventstore.EventData{ID: uuid.New(), Type: typ, Data: data}
		want[evs[i].ID.String()] = true
	}
	// Concurrent appends share the store's group commits: seconds, not tens.
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < referrals; i += writers {
				if _, err := store.Append(ctx, domain.ReferralStream(fmt.Sprintf("R%d", i)), eventstore.NoStream, evs[i]); err != nil {
					errs <- err
					return
				}
				if i%100 == 0 {
					typ, data := domain.Marshal(&domain.UserCreated{ID: fmt.Sprintf("u%d", i), Name: "Name", Role: "mobilizer"})
					if _, err := store.Append(ctx, domain.UsersStream, eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: typ, Data: data}); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	var b [6]byte
	_, _ = rand.Read(b[:])
	stream, prefix := "RELAYKILL_"+hex.EncodeToString(b[:]), "relaykill."+hex.EncodeToString(b[:])
	defer func() { _ = js.DeleteStream(context.Background(), stream) }()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	startRelay := func() *exec.Cmd {
		cmd := exec.Command(bin, "relay", "--store", "bolt", "--data-dir", dir, "--nats-url", relayNATS,
			"--relay-stream", stream, "--relay-subject-prefix", prefix, "--relay-checkpoint-every", "50ms", "--log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	msgs := func() uint64 {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return 0 // not created yet
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	checkpointPath := filepath.Join(dir, "relay.checkpoint")
	first := startRelay()
	// Killed once it has saved a checkpoint: the events acknowledged since
	// are published again after the restart, for JetStream to drop.
	wait("a checkpoint and some messages on the stream", func() bool {
		_, err := os.Stat(checkpointPath)
		return err == nil && msgs() >= referrals/6
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	atKill := msgs()
	if atKill >= referrals {
		t.Fatalf("the relay published everything (%d) before it was killed", atKill)
	}
	checkpoint, _ := os.ReadFile(checkpointPath)

	second := startRelay()
	wait("every referral on the stream", func() bool { return msgs() >= referrals })
	// A graceful stop, waited for: the relay publishes synchronously, so
	// once it has exited nothing of its is still in flight, and the count
	// below sees every message it ever sent.
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("the relay did not stop cleanly on SIGTERM: %v", err)
	}

	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		count[m.Header.Get(nats.MsgIdHdr)]++
	}
	for id := range want {
		if count[id] != 1 {
			t.Errorf("event %s is on the stream %d times", id, count[id])
		}
	}
	if len(count) != len(want) || info.State.Msgs != referrals {
		t.Errorf("stream holds %d messages with %d distinct ids, want %d (users must not be relayed)", info.State.Msgs, len(count), referrals)
	}
	t.Logf("killed with %d of %d messages on the stream (checkpoint then: %s); after the restart: %d messages, each id once",
		atKill, referrals, checkpoint, info.State.Msgs)
}

// TestServeRunsTheRelay: on the embedded store (one process per file) the
// relay runs inside `serve --relay-nats-url`; a write through the API reaches
// JetStream.
func TestServeRunsTheRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	nc, err := nats.Connect(relayNATS, nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		natsMissing(t, "no NATS server at %s (%v): this test needs nats-server -js on loopback, as .ci/run starts it", relayNATS, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		natsMissing(t, "NATS at %s has no JetStream (%v)", relayNATS, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	stream, prefix := "RELAYSERVE_"+hex.EncodeToString(b[:]), "relayserve."+hex.EncodeToString(b[:])
	defer func() { _ = js.DeleteStream(context.Background(), stream) }()

	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir,
		"--relay-nats-url", relayNATS, "--relay-stream", stream, "--relay-subject-prefix", prefix)
	cmd.Env = append(os.Environ(), "ACTIONLEDGER_ADMIN_TOKEN="+adminToken, "ACTIONLEDGER_TOKEN_SECRET="+tokenSecret)
	e := &env{t: t, base: startCmd(t, cmd), tokens: map[string]string{"admin": adminToken}}
	e.staff()
	e.community("KEN-1")
	e.must(http.StatusCreated, req{method: "POST", path: "/v1/referrals", token: "mob", body: map[string]any{
		"id": "R-1", "community_id": "KEN-1", "kind": "death_alert", "channel": "hotline_117"}})

	subject := prefix + ".referral.ReferralRaised.v1"
	for {
		st, err := js.Stream(ctx, stream)
		if err == nil {
			if m, err := st.GetLastMsgForSubject(ctx, subject); err == nil {
				if !strings.Contains(string(m.Data), `"id":"R-1"`) {
					t.Fatalf("message on %s: %s", subject, m.Data)
				}
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no message on %s", subject)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

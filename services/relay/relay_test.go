package relay_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/actionledger/actionledger/services/relay"
)

// natsURL is the NATS server CI starts (.ci/run): loopback, JetStream on.
const natsURL = "nats://127.0.0.1:4222"

// natsMissing skips a test that needs NATS with JetStream when there is
// none, saying why — except in CI (CI=true), where NATS is part of the setup
// and a skip would hide that the relay went untested: there it fails.
func natsMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: the relay tests must run)", args...)
	}
	t.Skipf(format, args...)
}

// jetStream connects to the test NATS server, or skips the test saying why
// (fails, in CI).
func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		natsMissing(t, "no NATS server at %s (%v): the relay tests need nats-server -js on loopback, as .ci/run starts it", natsURL, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		natsMissing(t, "NATS at %s has no JetStream (%v): start nats-server with -js", natsURL, err)
	}
	return js
}

// names returns a stream name and subject prefix no other test run uses,
// and deletes the stream when the test ends.
func names(t *testing.T, js jetstream.JetStream) (stream, prefix string) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	stream, prefix = "RELAYTEST_"+id, "relaytest."+id
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
	return stream, prefix
}

// fill writes n referrals (raised and acknowledged) and, between them, users
// (never relayed) to a fresh embedded store, and returns the ids that must
// reach JetStream.
func fill(t *testing.T, s eventstore.Store, n int) []uuid.UUID {
	t.Helper()
	var want []uuid.UUID
	for i := range n {
		raised := &domain.ReferralRaised{ID: fmt.Sprintf("R%d", i), CommunityID: "KEN-1",
			Place: domain.Place{District: "Kenema", Chiefdom: "Nongowa"}, Kind: "death_alert", Channel: "hotline_117"}
		var evs []eventstore.EventData
		for _, e := range []domain.Event{raised, &domain.ReferralAcknowledged{}} {
			typ, data := domain.Marshal(e)
			evs = append(evs, eventstore.EventData{ID: uuid.New(), Type: typ, Data: data,
				Meta: eventstore.Metadata{OccurredAt: time.Date(2015, 2, 1, 9, 0, 0, 0, time.UTC), CorrelationID: "c" + raised.ID}})
			want = append(want, evs[len(evs)-1].ID)
		}
		if _, err := s.Append(t.Context(), domain.ReferralStream(raised.ID), eventstore.NoStream, evs...); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			typ, data := domain.Marshal(&domain.UserCreated{ID: fmt.Sprintf("u%d", i), Name: "Private Name", Role: "mobilizer"})
			if _, err := s.Append(t.Context(), domain.UsersStream, eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: typ, Data: data}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return want
}

// stored counts the messages of stream per Nats-Msg-Id.
func stored(t *testing.T, js jetstream.JetStream, stream string) (map[string]int, []*jetstream.RawStreamMsg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		count[m.Header.Get(nats.MsgIdHdr)]++
		msgs = append(msgs, m)
	}
	return count, msgs
}

// run starts a relay and returns a function that stops it and reports its
// error.
func run(t *testing.T, cfg relay.Config) (*relay.Relay, func() error) {
	t.Helper()
	r, err := relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return r, stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The relay is stopped mid-stream and started again from a checkpoint that
// is behind what JetStream acknowledged (as after a kill between an ack and
// the checkpoint's write), or gone: every selected event is on the stream
// exactly once.
func TestRelayPublishesEachEventOnceAcrossRestarts(t *testing.T) {
	js := jetStream(t)
	cases := []struct {
		name string
		// tamper changes the checkpoint between the two runs.
		tamper func(t *testing.T, path string, positions []uint64)
	}{
		{"stopped cleanly", func(*testing.T, string, []uint64) {}},
		{"checkpoint behind the acks", func(t *testing.T, path string, positions []uint64) {
			if err := relay.WriteCheckpoint(path, positions[len(positions)/10]); err != nil {
				t.Fatal(err)
			}
		}},
		{"checkpoint lost", func(t *testing.T, path string, _ []uint64) {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			store, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			want := fill(t, store, 400)
			all, err := store.ReadAll(t.Context(), 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			positions := make([]uint64, len(all))
			for i := range all {
				positions[i] = all[i].Position
			}
			stream, prefix := names(t, js)
			cfg := relay.Config{Store: store, NATSURL: natsURL, Stream: stream, SubjectPrefix: prefix,
				DuplicateWindow: time.Hour, CheckpointPath: filepath.Join(dir, "relay.checkpoint"), CheckpointEvery: 10 * time.Millisecond}

			r, stop := run(t, cfg)
			waitFor(t, "a third of the events", func() bool { return r.Published() >= uint64(len(want)/3) })
			if err := stop(); err != nil {
				t.Fatalf("first run: %v", err)
			}
			first := r.Published()
			if first >= uint64(len(want)) {
				t.Fatalf("the first run published everything (%d) before it was stopped", first)
			}
			c.tamper(t, cfg.CheckpointPath, positions)

			r2, stop2 := run(t, cfg)
			waitFor(t, "the last event's checkpoint", func() bool { return r2.Position() == positions[len(positions)-1] })
			if err := stop2(); err != nil {
				t.Fatalf("second run: %v", err)
			}
			count, _ := stored(t, js, stream)
			if len(count) != len(want) {
				t.Errorf("%d distinct event ids on the stream, want %d", len(count), len(want))
			}
			for _, id := range want {
				if n := count[id.String()]; n != 1 {
					t.Errorf("event %s is on the stream %d times", id, n)
				}
			}
			t.Logf("published %d before the stop, %d after (JetStream dropped the repeats); %d messages stored", first, r2.Published(), len(count))
		})
	}
}

func TestRelayMessageShape(t *testing.T) {
	js := jetStream(t)
	dir := t.TempDir()
	store, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	want := fill(t, store, 1)
	stream, prefix := names(t, js)
	r, stop := run(t, relay.Config{Store: store, NATSURL: natsURL, Stream: stream, SubjectPrefix: prefix,
		CheckpointPath: filepath.Join(dir, "relay.checkpoint")})
	waitFor(t, "two messages", func() bool { return r.Published() == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, msgs := stored(t, js, stream)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	cases := []struct {
		name, subject, typ string
		id                 uuid.UUID
		check              func(t *testing.T, data []byte)
	}{
		{"raised", prefix + ".referral.ReferralRaised.v1", "ReferralRaised.v1", want[0], func(t *testing.T, data []byte) {
			var body map[string]any
			if err := json.Unmarshal(data, &body); err != nil || body["id"] != "R0" || body["district"] != "Kenema" || body["kind"] != "death_alert" {
				t.Errorf("payload %s (%v): want the referral as JSON", data, err)
			}
		}},
		{"acknowledged", prefix + ".referral.ReferralAcknowledged.v1", "ReferralAcknowledged.v1", want[1], func(*testing.T, []byte) {}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := msgs[i]
			if m.Subject != c.subject {
				t.Errorf("subject %q, want %q", m.Subject, c.subject)
			}
			for h, v := range map[string]string{
				nats.MsgIdHdr: c.id.String(), relay.HeaderEventType: c.typ, relay.HeaderStream: "referral-R0",
				relay.HeaderRevision: fmt.Sprint(i + 1), relay.HeaderCorrelationID: "cR0", relay.HeaderOccurredAt: "2015-02-01T09:00:00Z",
			} {
				if got := m.Header.Get(h); got != v {
					t.Errorf("header %s = %q, want %q", h, got, v)
				}
			}
			c.check(t, m.Data)
		})
	}
}

func TestCheckpointFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		prepare func(path string)
		want    uint64
		wantErr bool
	}{
		{"missing reads as the start", func(string) {}, 0, false},
		{"written then read", func(p string) { _ = relay.WriteCheckpoint(p, 4242) }, 4242, false},
		{"overwritten", func(p string) { _ = relay.WriteCheckpoint(p, 1); _ = relay.WriteCheckpoint(p, 77) }, 77, false},
		{"damaged", func(p string) { _ = os.WriteFile(p, []byte("{not json"), 0o600) }, 0, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("cp-%d", i))
			c.prepare(path)
			got, err := relay.ReadCheckpoint(path)
			if (err != nil) != c.wantErr || got != c.want {
				t.Fatalf("ReadCheckpoint = %d, %v; want %d (error: %v)", got, err, c.want, c.wantErr)
			}
		})
	}
}

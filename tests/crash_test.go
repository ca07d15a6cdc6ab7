package tests_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// buildBinary compiles services/actionledger once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "actionledger-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "actionledger")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/actionledger/actionledger/services/actionledger").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is the real binary running `serve`.
type process struct {
	cmd  *exec.Cmd
	base string
}

func startProcess(t *testing.T, dataDir string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "ACTIONLEDGER_ADMIN_TOKEN="+adminToken, "ACTIONLEDGER_TOKEN_SECRET="+tokenSecret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				addr <- line.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return &process{cmd: cmd, base: "http://" + a}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start within 20s")
	}
	return nil
}

// TestKill9KeepsEveryAcknowledgedWrite kills the server with SIGKILL in the
// middle of writes from several clients, restarts it, and checks that every
// write answered 2xx is stored exactly once — and that clients retrying the
// writes they got no answer for (same Idempotency-Key) duplicate nothing.
func TestKill9KeepsEveryAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	dir := t.TempDir()
	p := startProcess(t, dir)
	e := &env{t: t, base: p.base, tokens: map[string]string{"admin": adminToken}}
	e.staff()
	e.community("KEN-1")

	type write struct {
		key  string
		path string
		body map[string]any
	}
	const clients = 8
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		sent  []write
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("AP-%d-%d", c, i)
				writes := []write{
					{fmt.Sprintf("c%d-%d-raise", c, i), "/v1/action-points", map[string]any{"id": id, "community_id": "KEN-1", "title": "t", "category": "hygiene", "kind": "continuous"}},
					{fmt.Sprintf("c%d-%d-start", c, i), "/v1/action-points/" + id + "/start", map[string]any{}},
					{fmt.Sprintf("c%d-%d-visit", c, i), "/v1/communities/KEN-1/visits", map[string]any{"kind": "follow_up", "trust_rating": 1 + i%5}},
				}
				for _, w := range writes {
					mu.Lock()
					sent = append(sent, w)
					mu.Unlock()
					status, err := post(p.base, e.tokens["mob"], w.key, w.path, w.body)
					if err != nil {
						return // the server is gone
					}
					if status/100 != 2 {
						t.Errorf("%s: status %d", w.key, status)
						return
					}
					mu.Lock()
					acked[w.key] = true
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once the clients are well into their writes (some acknowledged,
	// others in flight), however fast this machine is.
	const killAfter = 100
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= killAfter {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes acknowledged within 60s", n, killAfter)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	_ = p.cmd.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d writes acknowledged before the kill; the test proves little", len(acked))
	}

	// Restart on the same data; clients retry what they never heard back on.
	p2 := startProcess(t, dir)
	for _, w := range sent {
		if acked[w.key] {
			continue
		}
		status, err := post(p2.base, e.tokens["mob"], w.key, w.path, w.body)
		if err != nil || status/100 != 2 {
			t.Fatalf("retry %s after restart: %d %v", w.key, status, err)
		}
	}
	// Replaying everything once more writes nothing new.
	for _, w := range sent {
		if status, err := post(p2.base, e.tokens["mob"], w.key, w.path, w.body); err != nil || status/100 != 2 {
			t.Fatalf("replay %s: %d %v", w.key, status, err)
		}
	}
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop after SIGTERM: %v", err)
	}

	store, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	count := map[string]int{}
	var after uint64
	for {
		page, err := store.ReadAll(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if ev.Meta.IdempotencyKey != "" {
				count[ev.Meta.IdempotencyKey]++
			}
		}
		after = page[len(page)-1].Position
	}
	for key := range acked {
		if count[key] != 1 {
			t.Errorf("acknowledged write %s stored %d times", key, count[key])
		}
	}
	for _, w := range sent {
		if count[w.key] != 1 {
			t.Errorf("write %s stored %d times after retries", w.key, count[w.key])
		}
	}
	t.Logf("%d writes acknowledged before SIGKILL, %d sent in all", len(acked), len(sent))
}

func post(base, token, key, path string, body map[string]any) (int, error) {
	raw, _ := json.Marshal(body)
	r, _ := http.NewRequest(http.MethodPost, base+path, bytesReader(raw))
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

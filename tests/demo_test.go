package tests_test

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/server"
	"go.uber.org/zap"
)

// openDemoAt opens (and closes) the demo on dir with the server's clock at
// now, as `serve --demo` on that day would.
func openDemoAt(t *testing.T, dir string, now time.Time, check func(m *server.Main)) {
	t.Helper()
	m, err := server.Open(context.Background(), server.Config{Addr: "127.0.0.1:0", DataDir: dir, AdminToken: adminToken,
		TokenSecret: tokenSecret, Demo: true, Clock: func() time.Time { return now }}, zap.NewNop())
	if err != nil {
		t.Fatalf("opening the demo: %v", err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	check(m)
}

// The demo's field times are relative to the day it is first loaded, so its
// dated examples work whatever the day; loaded again later (same data dir),
// it says the day its data is relative to, not today.
func TestDemoDatesFollowTheDayItWasFirstLoaded(t *testing.T) {
	dir := t.TempDir()
	first := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	var tokens []server.DemoUser
	openDemoAt(t, dir, first, func(m *server.Main) {
		if !m.DemoLoadedAt.Equal(first) {
			t.Errorf("DemoLoadedAt = %s, want %s", m.DemoLoadedAt, first)
		}
		evs, err := m.Store().ReadStream(context.Background(), domain.CommunityStream("KEN-NON-11"), 0, 1)
		if err != nil || len(evs) != 1 {
			t.Fatalf("reading the demo community: %v (%d events)", err, len(evs))
		}
		want := first.AddDate(0, 0, -server.DemoDays)
		if got := evs[0].Meta.OccurredAt; got.Sub(want).Abs() > time.Minute {
			t.Errorf("the demo community was registered at %s, want %d days before the load (%s)", got, server.DemoDays, want)
		}
		tokens = m.DemoTokens
	})
	openDemoAt(t, dir, first.AddDate(0, 1, 0), func(m *server.Main) {
		if !m.DemoLoadedAt.Equal(first) {
			t.Errorf("loaded again a month later: DemoLoadedAt = %s, want the first load's %s", m.DemoLoadedAt, first)
		}
		if len(m.DemoTokens) != len(tokens) {
			t.Fatalf("tokens: %d then %d", len(tokens), len(m.DemoTokens))
		}
		for i := range tokens {
			if m.DemoTokens[i].Token != tokens[i].Token {
				t.Errorf("the %s's token changed between loads", tokens[i].Role)
			}
		}
	})
}

// `serve --demo` ends its start with the banner a newcomer reads: where the
// server answers, a token per role, export lines with the dates the demo
// covers, and curl lines that work. The ~500 commands of the load log at
// debug, not at the default level, so they do not bury it.
func TestServeDemoBanner(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var mu sync.Mutex
	var logLines []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logLines = append(logLines, sc.Text())
			mu.Unlock()
		}
	}()
	bannerc := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "-----") {
				break
			}
		}
		bannerc <- b.String()
	}()
	var banner string
	select {
	case banner = <-bannerc:
	case <-time.After(60 * time.Second):
		t.Fatal("no banner within 60s")
	}

	mu.Lock()
	for _, l := range logLines {
		if strings.Contains(l, `"command handled"`) {
			t.Errorf("the demo load logs its commands at the default level: %s", l)
			break
		}
	}
	mu.Unlock()

	root := regexp.MustCompile(`(?m)^  server root:  (http://127\.0\.0\.1:\d+)/$`).FindStringSubmatch(banner)
	if root == nil {
		t.Fatalf("the banner names no server root:\n%s", banner)
	}
	base := root[1]
	exports := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+)=(\S+)`).FindAllStringSubmatch(strings.Join(regexp.MustCompile(`(?m)^  export .*$`).FindAllString(banner, -1), " "), -1) {
		exports[m[1]] = m[2]
	}
	for _, name := range []string{"AL", "MOB", "COORD", "AUDIT", "FROM", "AT", "TO"} {
		if exports[name] == "" {
			t.Errorf("the banner exports no %s:\n%s", name, banner)
		}
	}
	if exports["AL"] != base {
		t.Errorf("export AL=%s, but the server root is %s", exports["AL"], base)
	}
	today := time.Now().UTC()
	if want := today.AddDate(0, 0, -server.DemoDays).Format(time.DateOnly); exports["FROM"] != want &&
		exports["FROM"] != today.Add(-time.Hour).AddDate(0, 0, -server.DemoDays).Format(time.DateOnly) {
		t.Errorf("FROM=%s; the demo loaded today starts %d days ago (%s)", exports["FROM"], server.DemoDays, want)
	}

	// The banner's curl lines, with its exports, answer 200.
	curls := regexp.MustCompile(`(?m)^  curl -s (?:-H "Authorization: Bearer \$(\w+)" )("?\$AL\S+?"?)$`).FindAllStringSubmatch(banner, -1)
	if len(curls) < 3 {
		t.Fatalf("the banner shows %d GET curl lines:\n%s", len(curls), banner)
	}
	for _, c := range curls {
		url := strings.Trim(c[2], `"`)
		for k, v := range exports {
			url = strings.ReplaceAll(url, "$"+k, v)
		}
		r, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+exports[c[1]])
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s as %s: %d", url, c[1], resp.StatusCode)
		}
	}
}

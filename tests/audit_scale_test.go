package tests_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/actionledger/actionledger/domain"
	"github.com/actionledger/actionledger/services/app"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
	"github.com/google/uuid"
)

// TestAuditExportScale measures what an export of a large history costs:
// peak RSS and time of the real binary exporting a data dir, against the
// RSS of the same binary only opening it. It needs ACTIONLEDGER_SCALE (the
// number of events to generate, e.g. 1000000) and takes a minute or two:
//
//	ACTIONLEDGER_SCALE=1000000 go test ./tests -run TestAuditExportScale -v -timeout 30m
func TestAuditExportScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ACTIONLEDGER_SCALE"))
	if n <= 0 {
		t.Skip("set ACTIONLEDGER_SCALE to the number of events, e.g. 1000000")
	}
	dir := t.TempDir()
	const token = "alt_scale-test-auditor"
	start := time.Now()
	events := generateDataDir(t, dir, n, token)
	t.Logf("generated %d events in %s", events, time.Since(start).Round(time.Second))
	env := []string{"ACTIONLEDGER_TOKEN=" + token}

	// Peak RSS counts the store's in-memory index and the pages of the
	// mapped file a scan touches; the Go heap's live size after each
	// collection (GODEBUG=gctrace=1) is what an export itself holds.
	measure := func(name string, args ...string) (liveMB, rssMB float64, took time.Duration, stdout string) {
		t.Helper()
		bin, err := buildBinary()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), append(env, "GODEBUG=gctrace=1")...)
		out, err := os.CreateTemp(t.TempDir(), "out")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		var errb syncBuffer
		cmd.Stdout, cmd.Stderr = out, &errb
		begin := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, errb.String())
		}
		took = time.Since(begin)
		rssMB = float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
		for _, m := range gcLive.FindAllStringSubmatch(errb.String(), -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			liveMB = max(liveMB, v)
		}
		t.Logf("%-36s peak live heap %6.1f MB, peak RSS %6.1f MB, %8s", name, liveMB, rssMB, took.Round(time.Millisecond))
		return liveMB, rssMB, took, out.Name()
	}
	baseLive, _, _, _ := measure("open the store (history --limit 1)", "audit", "history", "--data-dir", dir, "--limit", "1")
	live := map[string]float64{}
	for _, tc := range []struct {
		name, format string
		extra        []string
		count        bool
	}{
		{"export ndjson, national", "ndjson", nil, true},
		{"export csv, national", "csv", nil, false},
		{"export ndjson, one district", "ndjson", []string{"--district", "D03"}, false},
		{"export html, national", "html", nil, false},
	} {
		heap, _, took, file := measure(tc.name, append([]string{"audit", "export", "--data-dir", dir, "--format", tc.format}, tc.extra...)...)
		live[tc.name] = heap
		if tc.count {
			lines := countLines(t, file)
			if lines != events+1 { // every event, and the export's own record
				t.Errorf("%s: %d lines, want %d", tc.name, lines, events+1)
			}
			t.Logf("  %d events in %s: %.0f events/s", lines, took.Round(time.Millisecond), float64(lines)/took.Seconds())
		}
		_ = os.Remove(file)
	}
	// Flat: writing every event holds no more than writing a sixteenth of
	// them, and not much more than opening the store (whose in-memory index
	// grows by one entry, and may double a map, when the export's record is
	// appended). The HTML report holds its read models by design.
	national, district := live["export ndjson, national"], live["export ndjson, one district"]
	if national-district > 16 || national-baseLive > 48 {
		t.Errorf("the live heap peaks at %.0f MB for the national export, %.0f MB for one district, %.0f MB to open the store: the export is not streaming",
			national, district, baseLive)
	}
}

// gcLive matches the live heap after a collection in a gctrace line
// ("gc 7 @0.1s 2%: ... ms cpu, 40->42->21 MB, ...").
var gcLive = regexp.MustCompile(`\d+->\d+->(\d+) MB`)

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return string(s.b) }

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			n++
		}
		if err == io.EOF {
			return n
		}
		if err != nil && err != bufio.ErrBufferFull {
			t.Fatal(err)
		}
	}
}

// generateDataDir writes about n domain events into dir/events.db directly
// (many events per append, from 64 goroutines) and a national auditor whose
// token is token, and returns how many events it wrote. Each community gets
// its registration and triggering, 40 weekly visits, and five action points
// with a progress note every week.
func generateDataDir(t *testing.T, dir string, n int, token string) int {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(dir, "events.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ev := func(e domain.Event, at time.Time, actor string) eventstore.EventData {
		typ, data := domain.Marshal(e)
		return eventstore.EventData{ID: uuid.New(), Type: typ, Data: data, Meta: eventstore.Metadata{OccurredAt: at, ActorID: actor, ActorRole: "mobilizer"}}
	}
	if _, err := s.Append(ctx, domain.UsersStream, eventstore.Any, ev(&domain.UserCreated{ID: "u-auditor", Name: "Scale Auditor", Role: "auditor",
		TokenHash: app.HashToken(token)}, time.Now(), "admin")); err != nil {
		t.Fatal(err)
	}
	const perCommunity = 2 + 40 + 5*(1+40) // 247
	communities := max(1, n/perCommunity)
	base := time.Date(2014, 10, 6, 9, 0, 0, 0, time.UTC)
	var total atomic.Int64
	total.Add(1)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for w := range 64 {
		wg.Go(func() {
			appendAll := func(stream string, evs []eventstore.EventData) bool {
				for len(evs) > 0 {
					k := min(len(evs), 16)
					if _, err := s.Append(ctx, stream, eventstore.Any, evs[:k]...); err != nil {
						if failed.CompareAndSwap(false, true) {
							t.Errorf("append: %v", err)
						}
						return false
					}
					total.Add(int64(k))
					evs = evs[k:]
				}
				return true
			}
			for c := w; c < communities; c += 64 {
				id := fmt.Sprintf("C%06d", c)
				place := domain.Place{District: fmt.Sprintf("D%02d", c%16), Chiefdom: fmt.Sprintf("CH%02d", c/16%12)}
				actor := fmt.Sprintf("u-mob-%d", c/5)
				cs := []eventstore.EventData{
					ev(&domain.CommunityRegistered{ID: id, Name: "Village " + id, Place: place, Population: 800}, base, actor),
					ev(&domain.CommunityTriggered{Attendance: 120}, base.Add(time.Hour), actor),
				}
				for wk := range 40 {
					cs = append(cs, ev(&domain.VisitRecorded{Kind: "follow_up", TrustRating: 1 + (c+wk)%5}, base.AddDate(0, 0, 7*wk+2), actor))
				}
				if !appendAll(domain.CommunityStream(id), cs) {
					return
				}
				for j := range 5 {
					apID := fmt.Sprintf("%s-AP%d", id, j)
					evs := []eventstore.EventData{ev(&domain.ActionPointRaised{ID: apID, CommunityID: id, Place: place, Title: "Action point " + apID,
						Category: domain.Categories[j], Kind: "continuous"}, base.AddDate(0, 0, 1), actor)}
					for wk := range 40 {
						evs = append(evs, ev(&domain.ActionPointProgressNoted{Note: "Kept up this week"}, base.AddDate(0, 0, 7*wk+3), actor))
					}
					if !appendAll(domain.ActionPointStream(apID), evs) {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		t.FailNow()
	}
	return int(total.Load())
}

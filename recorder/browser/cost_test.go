package browser_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/browser"
)

// pss returns a process's proportional set size (shared pages divided
// among their users, so that a tree's sum is what it really holds).
func pss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// treeUsage returns the CPU time (user + system) and proportional memory
// of process pid and its descendants.
func treeUsage(pid int) (cpu time.Duration, rss int64) {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	stats := map[int][]string{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 22 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		parent[p] = pp
		stats[p] = f
	}
	const tick = 10 * time.Millisecond // USER_HZ 100
	for p, f := range stats {
		for q := p; q != 0; q = parent[q] {
			if q == pid {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				cpu += time.Duration(ut+st) * tick
				rss += pss(p)
				break
			}
		}
	}
	return cpu, rss
}

// TestBridgeCost measures the browser bridge's Chromium (every process
// of its tree) while it records participants publishing 1280x720 VP8 at
// 15 fps and Opus, over a window after they joined, and logs the CPU
// share of one core and the resident memory per participant. The Go side
// (sockets, muxing) runs in the test process beside the publishers and is
// not in the figure. A measurement, not a check: run on demand with
// ROOMTAPE_BRIDGE_COST=1 (ROOMTAPE_BRIDGE_NODECODE=1 for Config.NoDecode).
func TestBridgeCost(t *testing.T) {
	if os.Getenv("ROOMTAPE_BRIDGE_COST") != "1" {
		t.Skip("SKIPPING BRIDGE COST MEASUREMENT: set ROOMTAPE_BRIDGE_COST=1 (a measurement, not a check)")
	}
	const room, participants, window = "cost", 2, 15 * time.Second
	srv := inRoom(t, room)
	if srv == nil {
		return
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sess, err := recorder.NewSession(recorder.Config{ID: "cost", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pids := make(chan int, 1)
	done := make(chan error, 1)
	noDecode := os.Getenv("ROOMTAPE_BRIDGE_NODECODE") == "1"
	go func() {
		done <- browser.Record(ctx, sess, browser.Config{
			Room: botRoom(t, srv, room), NoDecode: noDecode,
			OnBrowser: func(pid int) { pids <- pid },
		})
	}()
	pid := <-pids
	for i := range participants {
		c, err := lktest.MakeClip(ctx, t.TempDir(), i, []lktest.Size{{W: 1280, H: 720}}, false)
		if err != nil {
			t.Fatal(err)
		}
		id := string(rune('a' + i))
		p, err := lktest.JoinAndPublish(ctx, srv.URL, room, id, id, c)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Leave()
	}
	time.Sleep(5 * time.Second)
	cpu0, _ := treeUsage(pid)
	t0 := time.Now()
	time.Sleep(window)
	cpu1, rss := treeUsage(pid)
	el := time.Since(t0)
	share := float64(cpu1-cpu0) / float64(el) * 100
	t.Logf("bridge Chromium (decode %v): %.1f%% of a core for %d participants at 1280x720 15 fps (%.1f%% each), PSS %.0f MiB (%.0f MiB each)",
		!noDecode, share, participants, share/participants, float64(rss)/(1<<20), float64(rss)/(1<<20)/participants)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

package browser

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roomtape/roomtape/recorder"
)

// orphanHelperEnv makes the test binary run TestOrphanHelper as the bot
// that TestNoOrphanOnKill kills.
const orphanHelperEnv = "ROOMTAPE_ORPHAN_HELPER"

// orphanBound bounds how long the kernel takes to kill Chromium after the
// bot died (parent-death signal) and its children to follow.
const orphanBound = 5 * time.Second

// TestNoOrphanOnKill runs a bridge in a child process, kills that process
// with SIGKILL (no chance to clean up) and checks that its Chromium dies
// with it.
func TestNoOrphanOnKill(t *testing.T) {
	if _, err := os.Stat(DefaultChromium); err != nil {
		if os.Getenv("ROOMTAPE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium: %v", err)
		}
		t.Skipf("SKIPPING ORPHAN TEST: %v (run scripts/setup.sh)", err)
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestOrphanHelper$", "-test.v")
	cmd.Env = append(os.Environ(), orphanHelperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "chromium pid "); ok {
			pid, _ = strconv.Atoi(v)
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("the helper never started Chromium")
	}
	time.Sleep(time.Second) // the page is up
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(orphanBound)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("Chromium %d still running %v after its bot was killed", pid, orphanBound)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("Chromium %d gone after its bot was killed", pid)
}

// TestOrphanHelper is the bot of TestNoOrphanOnKill; it does nothing in a
// normal run.
func TestOrphanHelper(t *testing.T) {
	if os.Getenv(orphanHelperEnv) != "1" {
		t.Skip("helper of TestNoOrphanOnKill")
	}
	sess, err := recorder.NewSession(recorder.Config{ID: "orphan", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_ = Record(ctx, sess, Config{
		Room:      DailyRoom{URL: "https://roomtape.daily.co/standup", offline: true},
		OnBrowser: func(pid int) { fmt.Printf("chromium pid %d\n", pid) },
	})
}

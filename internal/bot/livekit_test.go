package bot

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Timing of the LiveKit test.
const (
	lkStay    = 8 * time.Second  // the publisher's presence
	lkIdle    = time.Second      // the bot's idle timeout after it left
	lkTimeout = 90 * time.Second // the whole test
	// lkAVTolerance: this test checks the bot's wiring of the LiveKit
	// transport (join, hidden bot, idle end, composition). A/V alignment
	// through the SFU is recorder/livekit's to guarantee and its tests
	// check it; here the lktest publisher's flashes and beeps come out a
	// 29-68 ms apart (measured 2026-11-25, constant within a run), under
	// this bound.
	lkAVTolerance = 100 * time.Millisecond
)

// TestLiveKit runs the bot with --room-url against a real livekit-server
// (in a network namespace: the SDK leaves loopback out of ICE) with one
// synthetic publisher, and checks that the composed MP4 shows and plays it.
func TestLiveKit(t *testing.T) {
	if testing.Short() {
		t.Skip("records a LiveKit room")
	}
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return
	}
	srv := lktest.StartServer(t, ns.Addr)
	ctx, cancel := context.WithTimeout(t.Context(), lkTimeout)
	defer cancel()
	const w, h = 320, 180
	cfg, err := ParseArgs([]string{
		"--room-url", srv.URL, "--api-key", lktest.APIKey, "--api-secret", lktest.APISecret,
		"--room", "standup", "--idle-timeout", lkIdle.String(),
		"--width", "320", "--height", "180", "--preset", "ultrafast",
		"--recordings-dir", t.TempDir(), "--env-file", "",
	}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	done := runAsync(ctx, cfg, Options{Out: &out, Logger: testLogger(t)})

	clip, err := lktest.MakeClip(ctx, t.TempDir(), 0, []lktest.Size{{W: 320, H: 180}}, false)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := lktest.JoinAndPublish(ctx, srv.URL, "standup", "alice", "Alice", clip)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(lkStay)
	pub.Leave()

	var r runResult
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatalf("bot did not finish: %v\n%s", ctx.Err(), out.String())
	}
	t.Logf("bot output:\n%s", out.String())
	if r.err != nil {
		t.Fatal(r.err)
	}
	m, err := manifest.Load(r.res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Participants) != 1 || m.Participants[0].Name != "Alice" {
		t.Fatalf("participants %+v, want Alice only (the bot is hidden)", m.Participants)
	}
	if d := m.Participants[0].LeaveTimeS - m.Participants[0].JoinTimeS; d < (lkStay - 2*time.Second).Seconds() {
		t.Errorf("Alice present %.1fs, want about %v", d, lkStay)
	}
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	checkSyntheticAV(t, r.res.Output, cm, w, h, []synthParticipant{{"Alice", 0}}, lkAVTolerance)
}

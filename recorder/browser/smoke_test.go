package browser_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/browser"
	"github.com/roomtape/roomtape/recorder/livekit"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// testLogger logs to t at debug level when ROOMTAPE_TEST_DEBUG=1.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if os.Getenv("ROOMTAPE_TEST_DEBUG") != "1" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// inRoom runs the calling test in a network namespace with a
// livekit-server and the room; nil in the parent process.
func inRoom(t *testing.T, room string) *lktest.Server {
	t.Helper()
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return nil
	}
	srv := lktest.StartServer(t, ns.Addr)
	if _, err := srv.RoomService().CreateRoom(t.Context(), &lkproto.CreateRoomRequest{Name: room}); err != nil {
		t.Fatal(err)
	}
	return srv
}

// botRoom is the bridge's LiveKit room with a recorder token.
func botRoom(t *testing.T, srv *lktest.Server, room string) browser.LiveKitRoom {
	t.Helper()
	tok, err := livekit.BotToken(lktest.APIKey, lktest.APISecret, room, livekit.DefaultIdentity, livekit.DefaultIdentity, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return browser.LiveKitRoom{URL: srv.URL, Token: tok}
}

// TestRestart records a publisher, kills the bridge's Chromium mid-way
// (SIGKILL, as a crash) and checks that the bridge restarts it: the
// participant stays present in one interval, its tracks stop at the crash
// and start again in new files after a gap, and no Chromium is left
// running once Record returns.
func TestRestart(t *testing.T) {
	const room = "restart"
	srv := inRoom(t, room)
	if srv == nil {
		return
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sess, err := recorder.NewSession(recorder.Config{ID: "restart", Dir: testDir(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	pids := make(chan int, 4)
	done := make(chan error, 1)
	go func() {
		done <- browser.Record(ctx, sess, browser.Config{
			Room: botRoom(t, srv, room), Logger: testLogger(t),
			OnBrowser: func(pid int) { pids <- pid },
		})
	}()
	c, err := lktest.MakeClip(ctx, t.TempDir(), 0, []lktest.Size{{W: 320, H: 180}}, false)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := lktest.JoinAndPublish(ctx, srv.URL, room, "alice", "Alice", c)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Leave()
	first := <-pids
	time.Sleep(5 * time.Second)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	crashed := time.Since(sess.StartedAt())
	var second int
	select {
	case second = <-pids:
	case <-time.After(restartBound):
		t.Fatalf("no new browser %v after the crash", restartBound)
	}
	time.Sleep(8 * time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{first, second} {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("Chromium %d still running after Record returned", pid)
		}
	}
	if err := sess.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(sess.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Participants) != 1 || len(m.Participants[0].Intervals()) != 1 {
		t.Fatalf("participants %+v: want alice in one interval across the crash", m.Participants)
	}
	var video []manifest.Track
	for _, tr := range m.Participants[0].Tracks {
		if tr.Kind == manifest.KindVideo {
			video = append(video, tr)
		}
		end := -1.0
		if tr.EndS != nil {
			end = *tr.EndS
		}
		t.Logf("%s %s %.2f-%.2f %s", tr.Kind, tr.Codec, tr.StartS, end, tr.Path)
	}
	if len(video) != 2 || video[0].EndS == nil {
		t.Fatalf("video tracks %+v: want one before and one after the crash", video)
	}
	gapFrom, gapTo := manifest.FromSeconds(*video[0].EndS), manifest.FromSeconds(video[1].StartS)
	t.Logf("crash at %v: gap %v-%v (%v)", crashed.Round(time.Millisecond), gapFrom.Round(time.Millisecond), gapTo.Round(time.Millisecond), (gapTo - gapFrom).Round(time.Millisecond))
	if gapFrom > crashed+time.Second || gapTo <= gapFrom {
		t.Errorf("gap %v-%v does not follow the crash at %v", gapFrom, gapTo, crashed)
	}
}

// restartBound bounds noticing a crash and starting a new browser: the
// browser's exit is seen at once, the restart waits restartDelay (0.5 s)
// and Chromium starts in about 2 s on a loaded machine.
const restartBound = 15 * time.Second

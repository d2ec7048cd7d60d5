package browser_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
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

func TestSmoke(t *testing.T) {
	const room = "smoke"
	srv := inRoom(t, room)
	if srv == nil {
		return
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sess, err := recorder.NewSession(recorder.Config{ID: "smoke", Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- browser.Record(ctx, sess, browser.Config{Room: botRoom(t, srv, room), Logger: testLogger(t)})
	}()
	c, err := lktest.MakeClip(ctx, t.TempDir(), 0, []lktest.Size{{W: 320, H: 180}}, false)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := lktest.JoinAndPublish(ctx, srv.URL, room, "alice", "Alice", c)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second)
	pub.Leave()
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(sess.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Participants {
		t.Logf("%s %q intervals %v", p.Key(), p.Name, p.Intervals())
		for _, tr := range p.Tracks {
			st, _ := os.Stat(tr.Path)
			t.Logf("  %s %s %s start %.2f size %d", tr.Kind, tr.Codec, tr.Path, tr.StartS, st.Size())
		}
	}
}

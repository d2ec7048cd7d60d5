package livekit_test

import (
	"context"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/livekit"
)

// TestDisableScreenShare records a participant who shares a screen with
// screen shares left out: the camera is recorded, the screen is not, and
// no screen entry joins the session.
func TestDisableScreenShare(t *testing.T) {
	t.Parallel() // a namespace and a server of its own
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return
	}
	ctx := t.Context()
	srv := lktest.StartServer(t, ns.Addr)
	const room = "noscreen"
	cam, err := lktest.MakeClip(ctx, t.TempDir(), 0, []lktest.Size{{W: 160, H: 90}}, true)
	if err != nil {
		t.Fatal(err)
	}
	screen, err := lktest.MakeClip(ctx, t.TempDir(), 3, []lktest.Size{{W: 160, H: 90}}, true)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := lktest.Join(ctx, srv.URL, room, "alice", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Leave()
	if _, err := alice.PublishVideo(cam, lkproto.TrackSource_CAMERA, "camera"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PublishVideo(screen, lkproto.TrackSource_SCREEN_SHARE, "screen"); err != nil {
		t.Fatal(err)
	}
	var evs eventLog
	s, err := recorder.NewSession(recorder.Config{DisableFiles: true, Sinks: []recorder.Sink{recorder.EventFunc(evs.add)}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = livekit.Record(rctx, s, livekit.Config{
		URL: srv.URL, APIKey: lktest.APIKey, APISecret: lktest.APISecret, Room: room,
		DisableScreenShare: true, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	var tracks []string
	for _, e := range evs.events() {
		if e.Kind == recorder.TrackStarted {
			tracks = append(tracks, e.ParticipantID+"/"+string(e.Track.Source))
		}
		if e.ParticipantID == "alice"+livekit.ScreenSuffix {
			t.Errorf("screen entry in the session: %+v", e)
		}
	}
	if len(tracks) != 1 || tracks[0] != "alice/camera" {
		t.Errorf("tracks started %v, want alice/camera only", tracks)
	}
}

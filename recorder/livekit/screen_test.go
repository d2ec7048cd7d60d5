package livekit_test

import (
	"context"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/livekit"
)

// TestDisableScreenShare records a participant who shares a screen with
// screen shares left out: the camera is recorded, the screen is not, and
// no screen entry joins the session.
func TestDisableScreenShare(t *testing.T) {
	t.Parallel() // a namespace and a server of its own
	const room = "noscreen"
	srv := inRoom(t, room)
	if srv == nil {
		return // the test ran in its namespace child
	}
	ctx := t.Context()
	alice, err := lktest.JoinAndPublish(ctx, srv.URL, room, "alice", "Alice", clip(t, 0, true, lktest.Size{W: 160, H: 90}))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Leave()
	if _, err := alice.PublishVideo(clip(t, 3, true, lktest.Size{W: 160, H: 90}), lkproto.TrackSource_SCREEN_SHARE, "screen"); err != nil {
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

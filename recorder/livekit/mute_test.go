package livekit_test

import (
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Timings of TestMute (session times).
const (
	muteAt   = 3 * time.Second
	unmuteAt = 7 * time.Second
	muteEnd  = 11 * time.Second
	// muteSettle bounds how long frames keep coming after a mute (the
	// SFU's blank frames, frames in flight) and how long after an unmute
	// the first picture takes (a keyframe on the bot's PLI).
	muteSettle = 1500 * time.Millisecond
)

// TestMute mutes a camera for a few seconds: the participant stays, its
// video has a gap while muted and comes back after.
func TestMute(t *testing.T) {
	t.Parallel() // a namespace and a server of its own
	const room = "mute"
	srv := inRoom(t, room)
	if srv == nil {
		return // the test ran in its namespace child
	}
	ctx := t.Context()
	alice, err := lktest.Join(ctx, srv.URL, room, "alice", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Leave()
	cam, err := alice.PublishVideo(clip(t, 0, true, lktest.Size{W: 160, H: 90}), lkproto.TrackSource_CAMERA, "camera")
	if err != nil {
		t.Fatal(err)
	}
	s, err := recorder.NewSession(recorder.Config{ID: "mute", Dir: testDir(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := startBot(t, srv, room, s)
	runPlan(t, s.StartedAt(), []step{
		{muteAt, "alice mutes her camera", func() error { return alice.Mute(cam, true) }},
		{unmuteAt, "alice unmutes", func() error { return alice.Mute(cam, false) }},
		{muteEnd, "recording stopped", func() error { cancel(); return <-done }},
	})
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(s.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Participants) != 1 || len(m.Participants[0].Intervals()) != 1 {
		t.Fatalf("participants %+v: want alice, present throughout", m.Participants)
	}
	// Frame times on the session clock, over all of alice's video files.
	var frames []time.Duration
	for _, tr := range m.Participants[0].Tracks {
		if tr.Kind != manifest.KindVideo {
			continue
		}
		rep, err := mediacheck.Analyze(tr.Path, mediacheck.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Frames {
			frames = append(frames, manifest.FromSeconds(tr.StartS)+f.T)
		}
		t.Logf("video file %s from %.2fs: %d frames", tr.Path, tr.StartS, len(rep.Frames))
	}
	var during, before, after int
	for _, f := range frames {
		switch {
		case f > muteAt+muteSettle && f < unmuteAt:
			during++
		case f < muteAt:
			before++
		case f > unmuteAt+muteSettle:
			after++
		}
	}
	t.Logf("frames: %d before the mute, %d while muted, %d after", before, during, after)
	if during > 0 || before == 0 || after == 0 {
		t.Errorf("want frames before %v and after %v and none in between (after the SFU's blank frames)", muteAt, unmuteAt+muteSettle)
	}
}

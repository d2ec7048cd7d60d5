package service_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/recorder/service"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Timing of the LiveKit auto-recording test.
const (
	// lkStay is the publisher's time in the room before it is deleted.
	lkStay = 8 * time.Second
	// lkAutoStart bounds room_started → the service's job recording:
	// LiveKit posts the webhook at once, the bot joins in a second or
	// two on a loaded machine.
	lkAutoStart = 20 * time.Second
	// servicePort is the service's port in the test's own namespace
	// (a port space of its own: no collision).
	servicePort = "18080"
)

// lkFreq is the lktest publisher 0's tone.
var lkFreq = testmedia.Freqs[0]

// TestLiveKitAutoRecord runs a real livekit-server whose webhooks go to a
// real service process (both in the test's network namespace): a room
// whose name matches the auto-record rule is recorded without any API
// call from its first publisher on, and the recording ends when the room
// is deleted; a room that does not match is not recorded; a forged
// webhook is refused.
func TestLiveKitAutoRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("records a LiveKit room")
	}
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return
	}
	addr := net.JoinHostPort(ns.Addr.String(), servicePort)
	lk := lktest.StartServerWebhooks(t, ns.Addr, "http://"+addr+"/v1/livekit/webhook")
	srv := startServer(t, addr, t.TempDir(), []string{
		"LIVEKIT_API_KEY=" + lktest.APIKey, "LIVEKIT_API_SECRET=" + lktest.APISecret,
	}, "--livekit-url", lk.URL, "--auto-record", "standup-*", "--layout", "columns")

	// A forged webhook (signed with another secret) is refused.
	code, _ := srv.do("POST", "/v1/livekit/webhook", "", `{"event":"room_started","room":{"name":"standup-9"}}`)
	if code != 401 {
		t.Errorf("unsigned LiveKit webhook: %d, want 401", code)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	rooms := lksdk.NewRoomServiceClient(lk.HTTPURL, lktest.APIKey, lktest.APISecret)
	if _, err := rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "ops-1"}); err != nil {
		t.Fatal(err)
	}
	clip, err := lktest.MakeClip(ctx, t.TempDir(), 0, []lktest.Size{{W: 320, H: 180}}, false)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := lktest.JoinAndPublish(ctx, lk.URL, "standup-1", "alice", "Alice", clip)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Leave()
	var job service.Job
	waitFor(t, lkAutoStart, "auto-recording of standup-1", func() bool {
		for _, j := range srv.list("/v1/recordings") {
			if j.Room != nil && j.Room.Name == "standup-1" && j.Progress.Participants == 1 {
				job = j
				return true
			}
		}
		return false
	})
	time.Sleep(lkStay)
	if _, err := rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "standup-1"}); err != nil {
		t.Fatal(err)
	}
	j, states := srv.waitJob("/v1/recordings/"+job.ID, jobDone)
	t.Logf("states %v", states)
	if j.State != service.StateDone {
		t.Fatalf("%s: %s", j.State, j.Error)
	}
	for _, o := range srv.list("/v1/recordings") {
		if o.Room != nil && o.Room.Name == "ops-1" {
			t.Errorf("room ops-1 recorded against the rule: %+v", o)
		}
	}
	rec, _ := j.File(service.FileRecording)
	mf, _ := j.File(service.FileManifest)
	m, err := manifest.Load(mf.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Participants) != 1 || m.Participants[0].Name != "Alice" {
		t.Fatalf("participants %+v, want Alice only (the recorder is hidden)", m.Participants)
	}
	if d := m.Participants[0].LeaveTimeS - m.Participants[0].JoinTimeS; d < (lkStay - 2*time.Second).Seconds() {
		t.Errorf("Alice recorded for %.1fs, want about %v", d, lkStay)
	}
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	// A/V through the SFU is recorder/livekit's to check; here: the MP4
	// holds Alice's picture and markers for the whole stay.
	rep, err := mediacheck.Analyze(rec.Path, mediacheck.Options{Regions: nil, Freqs: []float64{lkFreq}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Video == nil || rep.Audio == nil || (rep.Duration-cm.End()).Abs() > durTolerance {
		t.Fatalf("output %+v %+v lasts %v, session %v", rep.Video, rep.Audio, rep.Duration, cm.End())
	}
	if n, want := len(rep.BeepOnsets(lkFreq)), mediacheck.MinPairs(int(cm.End()/(2*time.Second))); n < want {
		t.Errorf("%d beeps of Alice in the MP4, want at least %d", n, want)
	}
	srv.stop()
}

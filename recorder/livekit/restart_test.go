package livekit_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/livekit"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// botEnv carries the configuration of a bot run as a separate process by
// TestBotProcess.
const botEnv = "ROOMTAPE_LIVEKIT_BOT"

// botProcessConfig is what TestBotProcess records.
type botProcessConfig struct {
	URL, Room, Dir, ID string
}

// TestBotProcess is not a test: it is the bot process of TestBotRestart,
// which starts the test binary with botEnv set and kills it.
func TestBotProcess(t *testing.T) {
	raw := os.Getenv(botEnv)
	if raw == "" {
		t.Skip("helper process of TestBotRestart")
	}
	var c botProcessConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	s, err := recorder.NewSession(recorder.Config{ID: c.ID, Dir: c.Dir})
	if err != nil {
		t.Fatal(err)
	}
	err = livekit.Record(t.Context(), s, livekit.Config{
		URL: c.URL, APIKey: lktest.APIKey, APISecret: lktest.APISecret, Room: c.Room,
		Output: livekit.Output{Width: outW, Height: outH},
	})
	t.Errorf("Record returned (%v) before the bot process was killed", err)
}

// Timings of TestBotRestart.
const (
	// killAfter is how long the first bot records before it is killed.
	killAfter = 6 * time.Second
	// crashLoss bounds the media a killed bot loses at the end of each
	// file: the recorder flushes its files every second (its checkpoint
	// interval), plus a frame in flight.
	crashLoss = 1500 * time.Millisecond
)

// TestBotRestart kills a recording bot and starts another one: the first
// session's files stay readable up to about the kill, and the second
// session records the room from its own start on, including who was
// already there.
func TestBotRestart(t *testing.T) {
	t.Parallel() // a namespace and a server of its own
	const room = "restart"
	srv := inRoom(t, room)
	if srv == nil {
		return // the test ran in its namespace child
	}
	ctx := t.Context()
	aliceClip := clip(t, 0, false, lktest.Size{W: 320, H: 180})
	bobClip := clip(t, 1, false, lktest.Size{W: 320, H: 180})
	join := func(id, name string, c *lktest.Clip) *lktest.Publisher {
		p, err := lktest.JoinAndPublish(ctx, srv.URL, room, id, name, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Leave)
		return p
	}
	alice := join("alice", "Alice", aliceClip)

	// The first bot, in a process of its own.
	dir := testDir(t)
	raw, err := json.Marshal(botProcessConfig{URL: srv.URL, Room: room, Dir: dir, ID: "first"})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestBotProcess$", "-test.count", "1")
	cmd.Env = append(os.Environ(), botEnv+"="+string(raw))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	time.Sleep(killAfter)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	t.Logf("first bot killed after %v", killed.Sub(started).Round(time.Millisecond))
	if out.Len() > 0 {
		t.Logf("first bot's output:\n%s", out.String())
	}

	// The second bot, here, while alice is still in the room.
	second, err := recorder.NewSession(recorder.Config{ID: "second", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	recDone, _ := startBot(t, srv, room, second)
	time.Sleep(3 * time.Second)
	bobJoin := second.Elapsed()
	bob := join("bob", "Bob", bobClip)
	bobJoined := second.Elapsed()
	time.Sleep(6 * time.Second)
	deleted := second.Elapsed()
	if _, err := srv.RoomService().DeleteRoom(ctx, &lkproto.DeleteRoomRequest{Room: room}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-recDone:
		if err != nil {
			t.Fatalf("second Record: %v", err)
		}
	case <-time.After(endTolerance):
		t.Fatalf("second Record still running %v after the room was deleted", endTolerance)
	}
	if err := second.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The first session: session.json as last checkpointed, files readable
	// up to about the kill, with alice's markers where she sent them.
	first, err := manifest.Load(filepath.Join(dir, "first", recorder.ManifestName))
	if err != nil {
		t.Fatalf("first session's manifest after the kill: %v", err)
	}
	checkKilledSession(t, first, alice, killed)

	// The second session: alice from its start, bob from his join.
	m2, err := manifest.Load(second.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	checkPresence(t, m2, map[string][]manifest.Interval{
		"alice": {{JoinS: 0, LeaveS: manifest.ToSeconds(deleted)}},
		"bob":   {{JoinS: manifest.ToSeconds(bobJoined), LeaveS: manifest.ToSeconds(deleted)}},
	})
	t.Logf("bob joined at %v-%v of the second session", bobJoin, bobJoined)
	o2 := second.StartedAt()
	checkComposition(t, m2, map[string]markers{
		"alice": {sentMarkers(o2, "camera", alice), sentMarkers(o2, "mic", alice), 0},
		"bob":   {sentMarkers(o2, "camera", bob), sentMarkers(o2, "mic", bob), 1},
	})
}

// checkKilledSession checks the session of a bot killed at killed: alice
// is in its manifest, and her files decode up to about the kill (crashLoss
// before it at most), with her flashes and beeps where she sent them.
func checkKilledSession(t *testing.T, m *manifest.Session, alicePub *lktest.Publisher, killed time.Time) {
	t.Helper()
	start, err := time.Parse(time.RFC3339Nano, m.StartedAt)
	if err != nil {
		t.Fatalf("first session's started_at %q: %v", m.StartedAt, err)
	}
	var alice *manifest.Participant
	for i := range m.Participants {
		if m.Participants[i].Key() == "alice" {
			alice = &m.Participants[i]
		}
	}
	if alice == nil {
		t.Fatalf("first session has no alice: %+v", m.Participants)
	}
	if len(alice.Tracks) < 2 {
		t.Fatalf("first session: alice has tracks %+v, want camera and microphone", alice.Tracks)
	}
	end := killed.Sub(start)
	for _, tr := range alice.Tracks {
		opts := mediacheck.Options{Freqs: []float64{testmedia.Freqs[0]}}
		if tr.Kind == manifest.KindVideo {
			opts = mediacheck.Options{Regions: []timeline.Rect{{X: 40, Y: 20, W: 240, H: 140}}}
		}
		rep, err := mediacheck.Analyze(tr.Path, opts)
		if err != nil {
			t.Errorf("first session's %s file %s after the kill: %v", tr.Kind, tr.Path, err)
			continue
		}
		// File time 0 is session time StartS.
		from := manifest.FromSeconds(tr.StartS)
		var last time.Duration
		var onsets, sent []time.Duration
		if rep.Video != nil {
			last, onsets, sent = rep.Video.End, rep.FlashOnsets(0), sentMarkers(start, "camera", alicePub)
		} else if rep.Audio != nil {
			last, onsets, sent = rep.Audio.End, rep.BeepOnsets(testmedia.Freqs[0]), sentMarkers(start, "mic", alicePub)
		}
		t.Logf("first session's %s file: media %.2fs-%.2fs, killed at %.2fs, markers at %v (file time)",
			tr.Kind, tr.StartS, (from + last).Seconds(), end.Seconds(), onsets)
		if lost := end - (from + last); lost > crashLoss {
			t.Errorf("first session's %s file ends %v before the kill, want at most %v", tr.Kind, lost, crashLoss)
		}
		if len(onsets) < 2 {
			t.Errorf("first session's %s file: markers at %v, want at least 2", tr.Kind, onsets)
		}
		for _, o := range onsets {
			at := from + o
			if want := nearest(sent, at); absDur(at-want) > markerTolerance {
				t.Errorf("first session's %s file: marker at %v, sent at %v (tolerance %v)", tr.Kind, at, want, markerTolerance)
			}
		}
	}
}

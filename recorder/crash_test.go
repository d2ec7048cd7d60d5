package recorder_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/recorder/internal/mkv"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// crashEnv makes the test binary run crashChild (a recording process to
// be killed) instead of the tests; its value is the recordings root.
const crashEnv = "ROOMTAPE_RECORDER_CRASH_DIR"

// crashLoss is what a kill -9 may lose, README's promise ("everything up
// to about a second before the kill"): the open cluster, at most
// mkv.ClusterTime of media (the muxer closes one at that length and the
// checkpoint every second), plus crashSlack.
const crashLoss = mkv.ClusterTime + crashSlack

// crashSlack covers a frame interval (40 ms at the child's 25 fps), the
// packet the muxer holds back to interleave audio with video, and the
// child's report of its last frame reaching the test before the kill.
const crashSlack = 200 * time.Millisecond

// crashRecordFor is how long the child records before the parent kills it;
// long enough for several clusters and checkpoints.
const crashRecordFor = 3500 * time.Millisecond

// crashChild records a participant's VP8 camera and Opus microphone in
// real time until it is killed, printing "video <pts ms>" after each video
// frame it wrote.
func crashChild() int {
	if err := runCrashChild(os.Getenv(crashEnv)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runCrashChild(dir string) error {
	s, err := recorder.NewSession(recorder.Config{ID: "crash", Dir: dir})
	if err != nil {
		return err
	}
	p, err := s.Join("carol", "Carol")
	if err != nil {
		return err
	}
	cam, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.VP8})
	if err != nil {
		return err
	}
	mic, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	if err != nil {
		return err
	}
	venc, err := avtest.NewVideo(avtest.LibVPX, 160, 120, 25, 50, 0)
	if err != nil {
		return err
	}
	aenc, err := avtest.NewOpus(2, 1400)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	base := s.Elapsed()
	var next time.Duration // media time of the next audio block
	for k := 0; ; k++ {
		time.Sleep(time.Until(s.StartedAt().Add(base + next)))
		apkts, err := aenc.Next()
		if err != nil {
			return err
		}
		for _, pk := range apkts {
			if err := mic.WriteFrame(recorder.Frame{Payload: pk.Data, PTS: base + pk.PTS}); err != nil {
				return err
			}
		}
		if k%2 == 0 { // 25 fps video beside 50 packets/s of audio
			vpkts, err := venc.Next()
			if err != nil {
				return err
			}
			for _, pk := range vpkts {
				if err := cam.WriteFrame(recorder.Frame{Payload: pk.Data, PTS: base + pk.PTS, Keyframe: pk.Key}); err != nil {
					return err
				}
				if _, err := fmt.Fprintf(out, "video %d\n", (base + pk.PTS).Milliseconds()); err != nil {
					return err
				}
				if err := out.Flush(); err != nil {
					return err
				}
			}
		}
		next += avtest.OpusFrameDuration
	}
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("records in real time")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	}()

	sc := bufio.NewScanner(stdout)
	var last time.Duration // last video PTS the child reported written
	for sc.Scan() {
		ms, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "video "), 10, 64)
		require.NoError(t, err, sc.Text())
		last = time.Duration(ms) * time.Millisecond
		if last >= crashRecordFor {
			break
		}
	}
	require.GreaterOrEqual(t, last, crashRecordFor, "child stopped early")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	killed = true
	_ = cmd.Wait()

	sessionDir := filepath.Join(dir, "crash")
	m, err := manifest.Load(filepath.Join(sessionDir, recorder.ManifestName))
	require.NoError(t, err, "session.json must be valid after kill -9")
	require.Len(t, m.Participants, 1)
	mp := m.Participants[0]
	assert.GreaterOrEqual(t, mp.LeaveTimeS, (last - crashLoss).Seconds(), "presence checkpointed")
	for _, tc := range []struct {
		kind string
		tr   func() (manifest.Track, bool)
	}{{"video", mp.VideoTrack}, {"audio", mp.AudioTrack}} {
		tr, ok := tc.tr()
		require.True(t, ok, tc.kind)
		assert.Nil(t, tr.EndS, "%s track was still recording", tc.kind)
		r, err := avtest.Probe(tr.Path)
		require.NoError(t, err, tc.kind)
		assert.Zero(t, r.DecodeErrors, tc.kind)
		require.NotEmpty(t, r.PacketPTS, tc.kind)
		end := tr.Start() + r.Last()
		t.Logf("%s: killed after %v, file holds media up to %v (%d packets)", tc.kind, last, end, len(r.PacketPTS))
		assert.GreaterOrEqual(t, end, last-crashLoss, "%s file lost more than %v", tc.kind, crashLoss)
	}
}

// TestCheckpointFlushes checks that what was written reaches the file
// while the track is open and no more frames come (a muted or DTX
// microphone), so that a crash then loses nothing but the packet the
// Matroska muxer holds back to pair audio with video.
func TestCheckpointFlushes(t *testing.T) {
	const interval = 50 * time.Millisecond
	s, err := recorder.NewSession(recorder.Config{Dir: t.TempDir(), CheckpointInterval: interval})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close(t.Context())) }()
	p, err := s.Join("dave", "Dave")
	require.NoError(t, err)
	mic, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus, Channels: 1})
	require.NoError(t, err)
	enc, err := avtest.NewOpus(1, 1700)
	require.NoError(t, err)
	defer enc.Close()
	fed := feed(t, mic, enc, 25, 0)
	require.Eventually(t, func() bool {
		r, err := avtest.Probe(mic.Path())
		return err == nil && len(r.PacketPTS) >= len(fed)-1
	}, 5*time.Second, interval, "packets must reach the file without Close")
	m, err := manifest.Load(s.ManifestPath())
	require.NoError(t, err)
	assert.Nil(t, m.EndTimeS)
}

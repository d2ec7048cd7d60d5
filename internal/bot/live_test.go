package bot

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testhook"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// liveBotEnv carries the arguments of the bot that TestLiveBotProcess runs
// for TestLiveCrash.
const liveBotEnv = "ROOMTAPE_LIVE_BOT_ARGS"

// TestLiveBotProcess is not a test: it is the bot process of
// TestLiveCrash, which starts the test binary with liveBotEnv set and kills
// it with SIGKILL.
func TestLiveBotProcess(t *testing.T) {
	raw := os.Getenv(liveBotEnv)
	if raw == "" {
		t.Skip("helper process of TestLiveCrash")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	err := Main(t.Context(), args, noEnv, os.Stdout, os.Stderr, nil)
	t.Errorf("the bot returned (%v) before it was killed", err)
}

// Timings of TestLiveCrash.
const (
	// crashDemo is the demo's length; the bot is killed long before its
	// end.
	crashDemo = 40 * time.Second
	// crashAfter is how long after the first join the bot is killed.
	crashAfter = 14 * time.Second
	// crashComposedLoss bounds what the partial composed file lacks at
	// the kill: the live delay (compose.DefaultDelay), the last fragment
	// the muxer had not written (about a second), and 2 s of lag the live
	// composer may build up on a loaded 2-core machine.
	crashComposedLoss = compose.DefaultDelay + 3*time.Second
)

// TestLiveCrash kills a live-composing bot with SIGKILL in the middle of
// a call: the partial composed file plays up to a few seconds before the
// kill, and finalising it later (examples/compose --finalize) gives a
// faststart MP4 with the same content.
func TestLiveCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("records and kills a live-composing bot")
	}
	const w, h = 320, 180
	dir := t.TempDir()
	const id = "crash"
	args := []string{
		"--demo-duration", crashDemo.String(), "--demo-replay", "--demo-width", "320", "--demo-height", "180",
		"--width", "320", "--height", "180", "--preset", "ultrafast", "--session-id", id,
		"--recordings-dir", dir, "--env-file", "",
	}
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestLiveBotProcess$", "-test.count", "1")
	cmd.Env = append(os.Environ(), liveBotEnv+"="+string(raw))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	// Wait for the first join in session.json, then record a while.
	sessDir := filepath.Join(dir, id)
	var first time.Time
	deadline := time.Now().Add(30 * time.Second)
	for first.IsZero() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		m, err := manifest.Load(filepath.Join(sessDir, "session.json"))
		if err != nil || len(m.Participants) == 0 {
			continue
		}
		started, err := time.Parse(time.RFC3339Nano, m.StartedAt)
		if err != nil {
			t.Fatal(err)
		}
		first = started.Add(manifest.FromSeconds(m.Participants[0].JoinTimeS))
	}
	if first.IsZero() {
		t.Fatalf("nobody joined within 30 s; bot output:\n%s", out.String())
	}
	time.Sleep(time.Until(first.Add(crashAfter)))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killedAt := time.Since(first)
	t.Logf("bot killed %v after the first join; its output:\n%s", killedAt.Round(time.Millisecond), out.String())

	output := OutputPath(sessDir, id)
	partial := compose.PartialPath(output)
	prep, err := mediacheck.Analyze(partial, mediacheck.Options{Regions: nil})
	if err != nil {
		t.Fatalf("the partial composed file does not play: %v", err)
	}
	t.Logf("partial file %s: %v of video (%d frames) composed before the kill at %v", partial, prep.Duration, len(prep.Frames), killedAt)
	if prep.Duration < killedAt-crashComposedLoss {
		t.Errorf("partial file holds %v, want at least %v (killed at %v, loss bound %v)", prep.Duration, killedAt-crashComposedLoss, killedAt, crashComposedLoss)
	}
	if _, err := os.Stat(output); err == nil {
		t.Errorf("%s exists although the bot was killed", output)
	}

	// Finalise it as examples/compose --finalize does.
	done, err := compose.FinalizeDir(t.Context(), sessDir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0] != output {
		t.Fatalf("finalised %v, want [%s]", done, output)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("partial file still there after finalising: %v", err)
	}
	rep, err := mediacheck.Analyze(output, mediacheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	frame := time.Second / time.Duration(compose.DefaultFPS)
	if d := rep.Duration - prep.Duration; d > frame || d < -frame || rep.Video == nil || rep.Audio == nil || rep.Video.Width != w || rep.Video.Height != h {
		t.Errorf("finalised %v (video %+v, audio %v), partial %v: want the same %dx%d content", rep.Duration, rep.Video, rep.Audio != nil, prep.Duration, w, h)
	}
	if faststart, err := moovFirst(output); err != nil || !faststart {
		t.Errorf("finalised file is not faststart (moov before mdat): %v %v", faststart, err)
	}
}

// moovFirst reports whether the MP4's moov box comes before its mdat.
func moovFirst(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	moov, mdat := bytes.Index(b, []byte("moov")), bytes.Index(b, []byte("mdat"))
	return moov >= 0 && mdat >= 0 && moov < mdat, nil
}

// starvedEncodeDelay slows the composer's encoder to about half of real
// time at 30 fps (33 ms a frame), so that it must fall behind.
const starvedEncodeDelay = 60 * time.Millisecond

// TestLiveStarved composes live with an encoder too slow to keep up: the
// composer lags, recording loses nothing (every file complete, the media
// checks pass), and the output is complete after the call.
func TestLiveStarved(t *testing.T) {
	if testing.Short() {
		t.Skip("records a 16 s session")
	}
	testhook.EncodeDelay.Store(int64(starvedEncodeDelay))
	defer testhook.EncodeDelay.Store(0)
	const w, h = 320, 180
	_, res, out := runSmallDemo(t)
	if strings.Contains(out.String(), "Live composition failed") {
		t.Errorf("the starved composer failed instead of lagging")
	}
	m, err := manifest.Load(res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Participants {
		for _, tr := range p.Tracks {
			if !tr.Complete {
				t.Errorf("%s: %s not complete", p.Name, tr.Path)
			}
		}
	}
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	// Half speed over the call: the rest is composed after it.
	if minCatchUp := cm.End() / 4; res.Composition < minCatchUp {
		t.Errorf("composition after the call took %v: the starved composer did not lag (want at least %v)", res.Composition, minCatchUp)
	}
	checkSynthetic(t, res.Output, cm, w, h, []synthParticipant{{"Aditya", 0}, {"iPhone", 1}})
}

package bot

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// joinSlack is how much later than planned a synthetic participant may be
// recorded as joining: the publisher sets up ICE before the WHIP POST and
// joins once connected, which takes up to a second or more on a loaded
// 2-core machine under the race detector.
const joinSlack = 3 * time.Second

// maxPostCall bounds the composition after a live-composed call: what is
// left is the last minimum window (2 s of output, which waits for the end
// of the call) and a remux, measured at 0.4 s; the bound leaves the live
// composer 5 s of lag on a loaded 2-core machine under the race detector.
const maxPostCall = 8 * time.Second

// TestDemo runs the bot's demo, shortened and small, with replaying
// publishers (the same synthetic media, encoded once, so that live
// encoders starved of CPU on a busy machine do not blur the timing), and
// checks the composed MP4 by decoding it.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("records a 16 s session")
	}
	const w, h = 320, 180
	cfg, res, out := runSmallDemo(t)
	dir := cfg.RecordingsDir
	for _, want := range []string{"Step 1 done in ", "Composition done in ", "DONE — total post-processing: ", "Recording: " + res.Output} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if want := filepath.Join(dir, res.SessionID, res.SessionID+"_recording.mp4"); res.Output != want {
		t.Errorf("output %s, want %s", res.Output, want)
	}
	m, err := manifest.Load(res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	plan := demoPlan(cfg)
	if len(m.Participants) != len(plan) {
		t.Fatalf("%d participants in session.json, want %d", len(m.Participants), len(plan))
	}
	first := m.Participants[0].JoinTimeS
	for _, p := range m.Participants {
		first = min(first, p.JoinTimeS)
	}
	for i, p := range m.Participants {
		dp := plan[i]
		iv := p.Intervals()
		if p.Name != dp.Name || len(iv) != 1 {
			t.Fatalf("participant %d: %s with %d intervals, want %s with 1", i, p.Name, len(iv), dp.Name)
		}
		// Joins relative to the first (the clips are encoded before the
		// plan starts).
		if d := iv[0].Join() - manifest.FromSeconds(first) - dp.Join; d < -joinSlack || d > joinSlack {
			t.Errorf("%s joined %v after the first join, planned %v (slack %v)", p.Name, iv[0].Join()-manifest.FromSeconds(first), dp.Join, joinSlack)
		}
		for _, path := range []string{p.VideoPath, p.AudioPath} {
			if st, err := os.Stat(path); err != nil || st.Size() == 0 {
				t.Errorf("%s: media file %s: %v", p.Name, path, err)
			}
		}
		if vt, ok := p.VideoTrack(); !ok || vt.Width != dp.Width || vt.Height != dp.Height {
			t.Errorf("%s video track %+v, want %dx%d", p.Name, vt, dp.Width, dp.Height)
		}
	}
	if strings.Contains(out.String(), "Live composition failed") {
		t.Errorf("the demo did not compose live")
	}
	if res.Composition > maxPostCall {
		t.Errorf("composition took %v after the call, want at most %v", res.Composition, maxPostCall)
	}
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	want := []synthParticipant{{"Aditya", 0}, {"iPhone", 1}}
	liveRep := checkSynthetic(t, res.Output, cm, w, h, want)

	// The same session composed offline from its files: the same layout,
	// markers, A/V and length, within a frame.
	offline := filepath.Join(t.TempDir(), "offline.mp4")
	if err := composeSession(t.Context(), cfg, res.ManifestPath, offline, testLogger(t), &printer{w: io.Discard}, nil); err != nil {
		t.Fatal(err)
	}
	offRep := checkSynthetic(t, offline, cm, w, h, want)
	checkSameComposition(t, liveRep, offRep, cfg.FPS, len(regions(t, cm, mustWindows(t, cm), w, h)), want)
}

// runSmallDemo runs the bot's demo, 16 s at 320x180 with replaying
// publishers (extra arguments added, later ones winning), and returns its
// configuration, result and printed lines.
func runSmallDemo(t *testing.T, extra ...string) (Config, *Result, *bytes.Buffer) {
	t.Helper()
	return runSmallDemoEnv(t, noEnv, extra...)
}

// runSmallDemoEnv is runSmallDemo with the environment env.
func runSmallDemoEnv(t *testing.T, env Env, extra ...string) (Config, *Result, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := ParseArgs(append([]string{
		"--demo-duration", "16s", "--demo-replay", "--demo-width", "320", "--demo-height", "180",
		"--width", "320", "--height", "180", "--preset", "ultrafast",
		"--recordings-dir", dir, "--env-file", "",
	}, extra...), env, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Run(t.Context(), cfg, Options{Out: &out, Logger: testLogger(t)})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	return cfg, res, &out
}

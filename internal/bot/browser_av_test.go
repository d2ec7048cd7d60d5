package bot

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Plan and tolerances of TestBrowserAV.
const (
	// browserIndex is the tint and tone the browser's marker publisher
	// (publishMarkers in testdata/publish.html) draws and sounds, other
	// than the synthetic participant's.
	browserIndex = 3
	// browserMaxAV bounds the browser participant's flash/beep offset in
	// its recorded files. The page starts each beep on the audio clock as
	// it draws the flash's first frame, so the two leave together; the
	// audio context renders in 10 ms quanta, and a beep onset is located
	// within mediacheck.ToneHop. The rest is Chromium's: its capture
	// timestamps of canvas frames and WebAudio chunks and its Sender
	// Reports (sparse for audio, every few seconds) differ by up to a
	// frame at 30 fps (measured: within ±37 ms at load average 10-12 on
	// 2 cores, after the page stopped sending frames off its 30 fps grid,
	// which the encoder's frame-rate limit dropped and which moved
	// flashes by up to 190 ms).
	browserMaxAV = 10*time.Millisecond + mediacheck.ToneHop + testFrame
	// browserMaxClockSpread and a flash drawn more than a frame late tell
	// a starved browser (pageHealth.starved): a healthy page's audio clock
	// strays from real time by the bursts its render buffers deliver in
	// (measured 74-130 ms), a starved one's by seconds of skipped audio
	// (1.0-1.9 s measured at load average 10-13 on 2 cores, with flashes
	// and beeps lost). Its A/V then says nothing of the recorder's.
	browserMaxClockSpread = 250 * time.Millisecond
	// browserAttempts bounds the sessions run when the browser was
	// starved (a starved session measures Chromium's scheduling, not the
	// recorder, so it is discarded); the last one is checked whatever its
	// health.
	browserAttempts = 3
	// browserAVEnv opts in to TestBrowserAV (see there).
	browserAVEnv = "ROOMTAPE_BROWSER_AV"
)

// TestBrowserAV publishes from Chromium to the bot over WHIP, alongside a
// synthetic participant, what a synthetic participant sends: a test page
// draws the synthetic pattern on a canvas and sounds its beeps with
// WebAudio (publishMarkers in testdata/publish.html). The composed MP4
// must show the browser's tile in its tint, its flashes and beeps in sync
// and on their grid like a synthetic participant's, and its recorded files
// must have every marker sent but one paired within browserMaxAV. The bot
// composes after the call (--offline) to leave the CPU to Chromium during
// it; a session in which the page could not keep its own timing
// (pageHealth.starved) is run again, up to browserAttempts.
//
// It runs when ROOMTAPE_BROWSER_AV=1, which make test sets: on a 2-core
// machine at a load average of 12-13 (several suites at once) Chromium
// starves in most sessions (its audio clock skips by a second, flashes
// and beeps are lost), which says nothing of the recorder, so a plain
// go test run skips it unless the variable is set.
func TestBrowserAV(t *testing.T) {
	if os.Getenv(browserAVEnv) != "1" {
		t.Skipf("SKIPPING BROWSER A/V TEST: set %s=1 (make test sets it; a starved Chromium cannot keep its own A/V, so it is left out of plain go test runs on a loaded machine)", browserAVEnv)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return
	}
	const w, h = 320, 180
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(publishPage)
	}))
	defer page.Close()
	tint := testmedia.Tints[browserIndex%len(testmedia.Tints)]
	publish := func(whipURL string) string {
		return fmt.Sprintf(`publishMarkers(%s, "Chromium", [%g, %g, %g], %g)`,
			jsString(whipURL), tint[0], tint[1], tint[2], synth.Freq(browserIndex))
	}
	var out string
	var m *manifest.Session
	for attempt := 1; ; attempt++ {
		var health pageHealth
		out, m, health = runBrowserSession(t, page.URL, publish, "--offline")
		if why := health.starved(); why != "" && attempt < browserAttempts {
			t.Logf("attempt %d: the browser was starved (%s): its A/V cannot be judged; once more", attempt, why)
			continue
		}
		break
	}
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	checkSynthetic(t, out, cm, w, h, []synthParticipant{{"Synth", 0}, {"Chromium", browserIndex}})
	checkRecordedAV(t, m, "Chromium", browserIndex, browserMaxAV)
}

// pageHealth is what the publishing page reports of its own timing.
type pageHealth struct {
	// Flashes: how late (ms) the page drew each flash's first frame.
	Flashes []struct {
		Late float64 `json:"late"`
	} `json:"flashes"`
	// AudioClock.Spread: how far (ms) its audio clock strayed from real
	// time.
	AudioClock struct {
		Spread float64 `json:"spread"`
	} `json:"audioClock"`
}

// starved says why the page could not keep its own timing ("" if it did).
func (h pageHealth) starved() string {
	if sp := time.Duration(h.AudioClock.Spread * float64(time.Millisecond)); sp > browserMaxClockSpread {
		return fmt.Sprintf("its audio clock strayed by %v, more than %v", sp, browserMaxClockSpread)
	}
	for _, f := range h.Flashes {
		if late := time.Duration(f.Late * float64(time.Millisecond)); late > testFrame {
			return fmt.Sprintf("a flash was drawn %v late, more than a frame", late)
		}
	}
	return ""
}

// checkRecordedAV checks the flashes and beeps of participant name (tint
// and tone index) in its recorded files: every marker sent while it was
// present but one (mediacheck.MinPairs) pairs within maxAV.
func checkRecordedAV(t *testing.T, m *manifest.Session, name string, index int, maxAV time.Duration) {
	t.Helper()
	p, vt, at := browserTracks(t, m, name)
	vrep, err := mediacheck.Analyze(vt.Path, mediacheck.Options{Regions: []timeline.Rect{{X: 0, Y: 0, W: vt.Width, H: vt.Height}}})
	if err != nil {
		t.Fatal(err)
	}
	freq := synth.Freq(index)
	arep, err := mediacheck.Analyze(at.Path, mediacheck.Options{Freqs: []float64{freq}})
	if err != nil {
		t.Fatal(err)
	}
	var flashes, beeps []time.Duration
	for _, f := range vrep.FlashOnsets(0) {
		flashes = append(flashes, vt.Start()+f)
	}
	for _, b := range arep.BeepOnsets(freq) {
		beeps = append(beeps, at.Start()+b)
	}
	sent := 0
	for _, iv := range p.Intervals() {
		sent += int((iv.Leave() - iv.Join()) / testmedia.MarkerPeriod)
	}
	offs, err := mediacheck.CheckAV(flashes, beeps, mediacheck.MinPairs(sent), maxAV)
	t.Logf("%s recorded files: %d markers sent while present, pairs %v", name, sent, offs)
	if err != nil {
		t.Errorf("%s recorded files: %v", name, err)
	}
}

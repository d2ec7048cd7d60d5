package bot

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

//go:embed testdata/publish.html
var publishPage []byte

// The browser test's plan on the test's clock, and its checks.
const (
	browserJoin  = 2 * time.Second // after the synthetic participant
	browserStay  = 6 * time.Second
	synthStay    = 12 * time.Second // a tail longer than MinWindow after the browser
	browserIdle  = time.Second      // the bot's idle timeout after everyone left
	browserLimit = 90 * time.Second
	// browserMinLuma: Chromium's fake camera is a bright animated test
	// card; the placeholder tile is dark grey (0x26) and letterbox bars
	// are black.
	browserMinLuma = 60.0
	// browserMinChange is the least mean absolute difference (0-255)
	// between the browser tile's mean colours at probes 1 s apart: the
	// fake camera's pattern moves, a frozen or placeholder tile does not.
	browserMinChange = 1.0
	// browserMaxFreeze is the longest the browser tile may stand still
	// while the browser is present: the fake camera's pie turns and its
	// counter ticks every frame, so a second without any change is a
	// frozen stream (or a held last frame), not the camera.
	browserMaxFreeze = time.Second
	// browserMinRMS is the least audio RMS (full scale 1) in the mix
	// while the browser is present, away from the synthetic beeps:
	// Chromium's fake microphone beeps every second, and a 100 ms block
	// around each beep averages well above it; silence is 0.
	browserMinRMS = 0.005
	// silenceMaxRMS is the most audio RMS where nobody sounds.
	silenceMaxRMS = 0.002
	// rmsBlock is the audio analysis block: long enough to hold a beep
	// of Chromium's fake microphone when it sounds once a second.
	rmsBlock = time.Second
	// beepGuard widens the spans left out around the synthetic
	// participant's beeps (found in the mix to within a few ms) by the
	// AAC frame and filter smearing.
	beepGuard = 2 * testFrame
)

// chromiumPath is Debian's Chromium (scripts/setup.sh installs it).
const chromiumPath = "/usr/bin/chromium"

// TestBrowser publishes Chromium's fake camera and microphone to the bot
// over WHIP from a test page, alongside a synthetic participant, and
// checks that the composed MP4 shows and plays the browser while it was
// present. Chromium leaves loopback out of ICE, so the test runs in a
// network namespace of its own with a veth pair (internal/netns).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("records a 13 s session with a browser")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("ROOMTAPE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium: %v", err)
		}
		t.Skipf("SKIPPING BROWSER TEST: %v (run scripts/setup.sh)", err)
	}
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return
	}
	const w, h = 320, 180
	// The publishing page, on 127.0.0.1 (a secure context, for
	// getUserMedia); its origin is allowed to publish.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(publishPage)
	}))
	defer page.Close()
	out, m, _ := runBrowserSession(t, page.URL, func(whipURL string) string {
		return `publish(` + jsString(whipURL) + `, "Chromium")`
	})
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	checkSynthetic(t, out, cm, w, h, []synthParticipant{{"Synth", 0}})
	checkBrowser(t, out, cm, w, h, "Chromium")
}

// runBrowserSession runs the bot for one session: the synthetic
// participant, then Chromium publishing from the page at pageURL for
// browserStay through the JavaScript call publish returns for the WHIP
// URL (publish or publishMarkers of testdata/publish.html, with the name
// "Chromium"). args are more bot flags. It returns the composed
// output, the manifest and what the page reported of its own timing.
func runBrowserSession(t *testing.T, pageURL string, publish func(whipURL string) string, args ...string) (string, *manifest.Session, pageHealth) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), browserLimit)
	defer cancel()
	cfg, err := ParseArgs(append([]string{
		"--whip-listen", "127.0.0.1:0", "--idle-timeout", browserIdle.String(), "--whip-origin", pageURL,
		"--width", "320", "--height", "180", "--preset", "ultrafast",
		"--recordings-dir", t.TempDir(), "--env-file", "",
	}, args...), noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.PublicICE {
		t.Fatal("WHIP mode must offer the namespace's veth address")
	}
	urls := make(chan string, 1)
	var out syncbuf.Buffer
	done := runAsync(ctx, cfg, Options{Out: &out, Logger: testLogger(t), OnListen: func(u string) { urls <- u }})
	var whipURL string
	select {
	case whipURL = <-urls:
	case r := <-done:
		t.Fatalf("bot ended before listening: %v", r.err)
	}

	// The synthetic participant first, replaying pre-encoded media so
	// that it does not compete with Chromium for the CPU.
	sp := synth.Participant{Name: "Synth", Index: 0, Width: 320, Height: 180}
	clip, err := synth.EncodeClip(sp, DefaultClipLength)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := synth.PublishClip(ctx, whipURL, sp, clip)
	if err != nil {
		t.Fatal(err)
	}
	synthStart := time.Now()

	// Then the browser, from the page.
	bctx, stopBrowser := startChromium(ctx, t)
	defer stopBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatal(err)
	}
	sleepUntil(ctx, synthStart.Add(browserJoin))
	resource, err := chromedp.Run(bctx, chromedp.Evaluate[string](
		publish(whipURL), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browser publish: %v", err)
	}
	t.Logf("browser publishing as %s", resource)
	sleepUntil(ctx, time.Now().Add(browserStay))
	var health pageHealth
	report, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({flashes: window.markerLog, audioClock: window.audioClock})`))
	if err != nil {
		t.Fatalf("browser page report: %v", err)
	}
	t.Logf("browser page: %s", report)
	if err := json.Unmarshal([]byte(report), &health); err != nil {
		t.Fatalf("browser page report %q: %v", report, err)
	}
	status, err := chromedp.Run(bctx, chromedp.Evaluate[int](`unpublish()`, chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusOK {
		t.Fatalf("browser unpublish: status %d, %v", status, err)
	}
	stopBrowser()
	sleepUntil(ctx, synthStart.Add(synthStay))
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}

	r := <-done
	t.Logf("bot output:\n%s", out.String())
	if r.err != nil {
		t.Fatal(r.err)
	}
	m, err := manifest.Load(r.res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	return r.res.Output, m, health
}

// startChromium starts headless Chromium with fake media devices.
func startChromium(ctx context.Context, t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // root in the test's user namespace
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Real addresses in host candidates rather than mDNS names.
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	return bctx, func() {
		cancelTab()
		cancelAlloc()
	}
}

// jsString quotes s for JavaScript (URLs here need no more than this).
func jsString(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// browserTracks returns participant name of m and its video and audio
// tracks; it fails the test if one is missing.
func browserTracks(t *testing.T, m *manifest.Session, name string) (*manifest.Participant, manifest.Track, manifest.Track) {
	t.Helper()
	var bp *manifest.Participant
	for i := range m.Participants {
		if m.Participants[i].Name == name {
			bp = &m.Participants[i]
		}
	}
	if bp == nil {
		t.Fatalf("no participant %q in session.json", name)
	}
	vt, okV := bp.VideoTrack()
	at, okA := bp.AudioTrack()
	if !okV || !okA {
		t.Fatalf("%s: video %v audio %v tracks", name, okV, okA)
	}
	return bp, vt, at
}

// checkBrowser checks the browser participant name in the output: its
// tile shows a bright, moving picture that is not a synthetic tint while
// it is present, and its microphone is heard in the mix then (and nothing
// is heard but synthetic beeps otherwise).
func checkBrowser(t *testing.T, out string, m *manifest.Session, w, h int, name string) {
	t.Helper()
	bp, vt, _ := browserTracks(t, m, name)
	ivs := bp.Intervals()
	if len(ivs) != 1 || ivs[0].Leave()-ivs[0].Join() < browserStay-time.Second {
		t.Fatalf("%s presence %+v, want one interval of about %v", name, ivs, browserStay)
	}
	ws, err := m.Windows(timeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var win *timeline.Window
	var tile timeline.Rect
	for i := range ws {
		for j, p := range ws[i].Participants {
			if p.ID == bp.Key() {
				win, tile = &ws[i], ws[i].Tiles(w, h)[j]
			}
		}
	}
	if win == nil {
		t.Fatalf("%s is in no layout window: %+v", name, ws)
	}
	dst, _ := timeline.Place(tile, vt.Width, vt.Height, timeline.Letterbox)
	reg := timeline.Rect{X: dst.X + dst.W/regionInset, Y: dst.Y + dst.H/regionInset, W: dst.W / 2, H: dst.H / 2}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{reg}})
	if err != nil {
		t.Fatal(err)
	}
	palette := tintPalette()
	var prev *mediacheck.RGB
	moved := 0
	probes := 0
	// Probe while the browser is present (a window may outlast its
	// presence by less than MinWindow).
	for at := max(win.Start, ivs[0].Join()) + windowEdge; at < min(win.End, ivs[0].Leave())-windowEdge; at += time.Second {
		c, ok := rep.MeanAt(0, at)
		if !ok {
			t.Fatalf("no frame at %v", at)
		}
		probes++
		k, sim := mediacheck.Nearest(c, palette)
		t.Logf("%s tile at %v: mean %.1f/%.1f/%.1f luma %.1f (nearest tint %d, %.3f)", name, at, c.R, c.G, c.B, c.Luma(), k, sim)
		if c.Luma() < browserMinLuma {
			t.Errorf("%s tile at %v is dark (luma %.1f): placeholder or black, not the camera", name, at, c.Luma())
		}
		if k == 0 && sim >= minTintSimilarity {
			t.Errorf("%s tile at %v looks like the synthetic participant's tint", name, at)
		}
		if prev != nil && (math.Abs(c.R-prev.R)+math.Abs(c.G-prev.G)+math.Abs(c.B-prev.B))/3 >= browserMinChange {
			moved++
		}
		prev = &c
	}
	if probes < 3 || moved == 0 {
		t.Errorf("%s tile: %d probes, %d changes: the fake camera's moving pattern is not there", name, probes, moved)
	}
	// The picture keeps moving, frame to frame, all the while.
	from, to := max(win.Start, ivs[0].Join())+windowEdge, min(win.End, ivs[0].Leave())-windowEdge
	for _, fz := range rep.Freezes(0, browserMaxFreeze) {
		if fz.End > from && fz.Start < to {
			t.Errorf("%s tile frozen from %v to %v (present %v to %v)", name, fz.Start, fz.End, from, to)
		}
	}

	// Audio: RMS per block, away from the synthetic participants' beeps
	// (found in the mix itself).
	var freqs []float64
	for i, p := range m.Participants {
		if p.Key() != bp.Key() {
			freqs = append(freqs, testmedia.Freqs[i%len(testmedia.Freqs)])
		}
	}
	arep, err := mediacheck.Analyze(out, mediacheck.Options{Freqs: freqs})
	if err != nil {
		t.Fatal(err)
	}
	var beeps []time.Duration
	for _, f := range freqs {
		beeps = append(beeps, arep.BeepOnsets(f)...)
	}
	t.Logf("synthetic beeps in the mix: %v", beeps)
	rms := blockRMS(t, out, rmsBlock, func(at time.Duration) bool {
		for _, b := range beeps {
			if at > b-beepGuard && at < b+testmedia.BeepDuration+beepGuard {
				return true
			}
		}
		return false
	})
	join, leave := ivs[0].Join(), ivs[0].Leave()
	heard, quiet := 0, 0
	for i, v := range rms {
		from := time.Duration(i) * rmsBlock
		to := from + rmsBlock
		switch {
		case math.IsNaN(v): // too short
		case from >= join+windowEdge && to <= leave:
			if v < browserMinRMS {
				t.Errorf("audio [%v, %v) while %s present: RMS %.4f < %.4f", from, to, name, v, browserMinRMS)
			}
			heard++
		case to <= join || from >= leave+windowEdge:
			if v > silenceMaxRMS {
				t.Errorf("audio [%v, %v) while %s absent: RMS %.4f > %.4f", from, to, name, v, silenceMaxRMS)
			}
			quiet++
		}
	}
	if heard == 0 {
		t.Errorf("no audio block checked while %s was present", name)
	}
	t.Logf("%s: audio blocks heard %d, quiet %d", name, heard, quiet)
}

// blockRMS decodes the audio of path (mono 48 kHz) and returns the RMS of
// each block, leaving out the samples for which skip is true; a block with
// less than half of its samples left is NaN.
func blockRMS(t *testing.T, path string, block time.Duration, skip func(at time.Duration) bool) []float64 {
	t.Helper()
	const rate = 48000
	r, err := demux.OpenAudio(path, rate, 1, demux.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := int64(block.Seconds() * rate)
	var sums []float64
	var counts []int64
	for {
		start, s, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range s {
			idx := start + int64(i)
			if skip(time.Duration(idx) * time.Second / rate) {
				continue
			}
			k := int(idx / n)
			for len(sums) <= k {
				sums, counts = append(sums, 0), append(counts, 0)
			}
			sums[k] += float64(v) * float64(v)
			counts[k]++
		}
	}
	out := make([]float64, len(sums))
	for k := range sums {
		if counts[k] < n/2 {
			out[k] = math.NaN()
			continue
		}
		out[k] = math.Sqrt(sums[k] / float64(counts[k]))
	}
	return out
}

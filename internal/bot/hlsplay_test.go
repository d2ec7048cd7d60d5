package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// hlsJS is hls.js as scripts/fetch-js.sh installs it (pinned by
// recorder/browser/js/package-lock.json).
const hlsJS = "../../recorder/browser/js/node_modules/hls.js/dist/hls.min.js"

// Timings of the HLS playback check.
const (
	// hlsPlayTimeout bounds loading the player and the whole check.
	hlsPlayTimeout = 60 * time.Second
	// hlsSamples are taken hlsSampleEvery apart while the video plays.
	hlsSamples     = 12
	hlsSampleEvery = 500 * time.Millisecond
	// minHLSProbes is how many samples must land inside a window, off
	// flashes and edges, and show the right tints.
	minHLSProbes = 3
)

const hlsPage = `<!doctype html><meta charset="utf-8">
<video id="v" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
const v = document.getElementById("v");
window.errors = [];
if (!Hls.isSupported()) window.errors.push("hls.js: MSE unsupported");
const hls = new Hls();
hls.on(Hls.Events.ERROR, (e, d) => { if (d.fatal) window.errors.push(d.type + ": " + d.details); });
hls.loadSource("/hls/" + new URLSearchParams(location.search).get("src"));
hls.attachMedia(v);
v.play().catch(e => window.errors.push("play: " + e));
// grab returns the video time and the mean colour of each rectangle.
window.grab = (rects) => {
	const c = document.createElement("canvas");
	c.width = v.videoWidth; c.height = v.videoHeight;
	const g = c.getContext("2d");
	g.drawImage(v, 0, 0);
	const means = rects.map(r => {
		const d = g.getImageData(r.X, r.Y, r.W, r.H).data;
		let s = [0, 0, 0];
		for (let i = 0; i < d.length; i += 4) { s[0] += d[i]; s[1] += d[i+1]; s[2] += d[i+2]; }
		const n = d.length / 4;
		return [s[0] / n, s[1] / n, s[2] / n];
	});
	return {t: v.currentTime, w: v.videoWidth, means: means};
};
</script>`

// hlsGrab is what the page's grab returns.
type hlsGrab struct {
	T     float64      `json:"t"`
	W     int          `json:"w"`
	Means [][3]float64 `json:"means"`
}

// playHLS plays playlist (a file of hlsDir) in headless Chromium with
// hls.js, both served from 127.0.0.1, and returns, hlsSampleEvery apart,
// the video's time and the mean colour of each of rects. It takes no
// *testing.T: it may run beside a live call.
func playHLS(ctx context.Context, hlsDir, playlist string, rects []timeline.Rect) ([]hlsGrab, error) {
	if _, err := os.Stat(chromiumPath); err != nil {
		return nil, fmt.Errorf("chromium (scripts/setup.sh installs it): %w", err)
	}
	js, err := os.ReadFile(hlsJS)
	if err != nil {
		return nil, fmt.Errorf("hls.js (scripts/fetch-js.sh installs it): %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		_, _ = rw.Write([]byte(hlsPage))
	})
	mux.HandleFunc("/hls.min.js", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/javascript")
		_, _ = rw.Write(js)
	})
	mux.Handle("/hls/", http.StripPrefix("/hls/", http.FileServer(http.Dir(hlsDir))))
	srv := httptest.NewServer(mux) // 127.0.0.1
	defer srv.Close()

	ctx, cancel := context.WithTimeout(ctx, hlsPlayTimeout)
	defer cancel()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	if _, err := chromedp.Run(tctx, chromedp.Navigate(srv.URL+"/?src="+playlist)); err != nil {
		return nil, err
	}
	rj, err := json.Marshal(rects)
	if err != nil {
		return nil, err
	}
	var grabs []hlsGrab
	for range hlsSamples {
		time.Sleep(hlsSampleEvery)
		errs, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`window.errors`))
		if err != nil {
			return grabs, err
		}
		if len(errs) > 0 {
			return grabs, fmt.Errorf("hls.js: %v", errs)
		}
		g, err := chromedp.Run(tctx, chromedp.Evaluate[hlsGrab](fmt.Sprintf(`window.grab(%s)`, rj)))
		if err != nil {
			return grabs, err
		}
		grabs = append(grabs, g)
	}
	return grabs, nil
}

// checkHLSPlayback plays the VOD playlist in hlsDir (playHLS): the
// video's currentTime must advance and the tiles show their participants'
// tints.
func checkHLSPlayback(t *testing.T, hlsDir string, m *manifest.Session, w, h int, want []synthParticipant) {
	t.Helper()
	regs := regions(t, m, mustWindows(t, m), w, h)
	byID := map[string]synthParticipant{}
	for _, p := range m.Participants {
		for _, sp := range want {
			if p.Name == sp.Name {
				byID[p.Key()] = sp
			}
		}
	}
	var rects []timeline.Rect
	for _, r := range regs {
		rects = append(rects, r.rect)
	}
	grabs, err := playHLS(t.Context(), hlsDir, compose.HLSVODPlaylist, rects)
	if err != nil {
		t.Fatal(err)
	}
	palette := tintPalette()
	var times []float64
	probes := 0
	for _, g := range grabs {
		times = append(times, g.T)
		if g.W == 0 {
			continue // no picture yet
		}
		at := time.Duration(g.T * float64(time.Second))
		for i, r := range regs {
			sp, ok := byID[r.id]
			start := videoStart(m, r.id)
			if !ok || at < max(r.window.Start, start)+windowEdge || at >= r.window.End-windowEdge || inFlash(at, start) {
				continue
			}
			c := mediacheck.RGB{R: g.Means[i][0], G: g.Means[i][1], B: g.Means[i][2]}
			k, sim := mediacheck.Nearest(c, palette)
			probes++
			if k != sp.Index%len(palette) || sim < minTintSimilarity {
				t.Errorf("HLS playback: %s tile at %v: mean %v is tint %d (similarity %.3f), want tint %d", sp.Name, at, c, k, sim, sp.Index)
			}
		}
	}
	t.Logf("HLS playback in Chromium: currentTime %v, %d tile probes", times, probes)
	if len(times) < 2 || times[len(times)-1] <= times[0] || times[len(times)-1] < hlsSampleEvery.Seconds() {
		t.Errorf("the video's currentTime did not advance: %v", times)
	}
	if probes < minHLSProbes {
		t.Errorf("only %d tile probes in the played HLS, want at least %d", probes, minHLSProbes)
	}
}

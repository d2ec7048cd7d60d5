package service_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // screenshots
	_ "image/png"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roomtape/roomtape/recorder/browser"
	"github.com/roomtape/roomtape/recorder/service"
)

// Bounds of the web page test, each with its reason.
const (
	// pageWait bounds what the page shows after the API has it: it polls
	// every second; Chromium is slow on a loaded machine.
	pageWait = 15 * time.Second
	// minColours is the least number of distinct colours a screenshot of
	// the page with a table, a timeline and a video frame holds; a blank
	// or unstyled page has a handful.
	minColours = 64
	// liveWait bounds the live player's start: the live composition runs
	// compose.DefaultDelay behind the call, the first HLS segment closes
	// 2 s later, hls.js loads the playlist and buffers a segment, all on
	// a loaded machine.
	liveWait = 45 * time.Second
	// minLiveAdvance is how far the live player's currentTime must move
	// while the call goes on: more than one 2 s segment, so it follows
	// the live playlist as it grows, not only a first segment.
	minLiveAdvance = 3.0
)

// TestWebPage opens the web page in headless Chromium, signs in with the
// API key, and checks that it lists a recording while it runs with its
// progress advancing, plays its live HLS stream while the call runs (the
// live player's currentTime advancing), draws its layout timeline, and
// plays the finished MP4 (canplay, currentTime advancing); a screenshot
// must not be blank.
func TestWebPage(t *testing.T) {
	if testing.Short() {
		t.Skip("records a short call and runs Chromium")
	}
	chromium := needChromium(t, "WEB PAGE TEST")
	srv := startServer(t, "127.0.0.1:0", t.TempDir(), nil)
	rec := srv.createRecording(service.RecordingRequest{
		Room:   service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "alice", Name: "Alice"}}, IdleTimeoutS: 1},
		Output: service.Output{Width: outW, Height: outH, Preset: "ultrafast", HLS: true},
	})
	if code, body := srv.do("GET", "/vendor/hls.min.js", "", nil); code != 200 || len(body) < 1000 {
		t.Fatalf("GET /vendor/hls.min.js: %d, %d bytes: the page's live player is not built in (run scripts/fetch-js.sh, then rebuild)", code, len(body))
	}
	pub := publish(t.Context(), t, rec.WHIP.URL, rec.WHIP.Tokens["alice"], 0, roomStart)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1200, 900),
		chromedp.Flag("mute-audio", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelT()
	row := `#recordings tr[data-id="` + rec.Job.ID + `"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible("#key"),
		chromedp.SendKeys("#key", testKey),
		chromedp.Click("#login button"),
		chromedp.WaitVisible(row),
		chromedp.Click(row),
	); err != nil {
		t.Fatalf("sign in and list: %v", err)
	}
	// Live progress: the recorded time advances while the call runs.
	recorded := func() float64 {
		s, err := chromedp.Run(ctx, cellText(row+" td.recorded"))
		if err != nil {
			t.Fatal(err)
		}
		var m, sec int
		if _, err := fmt.Sscanf(s, "%d:%d", &m, &sec); err != nil {
			t.Fatalf("recorded %q: %v", s, err)
		}
		return float64(60*m + sec)
	}
	first := recorded()
	time.Sleep(3 * time.Second)
	present, err := chromedp.Run(ctx, cellText(row+" td.present"))
	if err != nil {
		t.Fatal(err)
	}
	if second := recorded(); second <= first || present != "1" {
		t.Errorf("page shows %v then %v recorded, %s present: want progress while recording with 1 present", first, second, present)
	}
	// The live stream plays while the call goes on.
	advance, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`new Promise((resolve) => {
			const v = document.querySelector('#live');
			const t0 = performance.now();
			let first = -1;
			const check = () => {
				if (v.dataset.job === `+strconv.Quote(rec.Job.ID)+` && v.readyState >= 3 && v.currentTime > 0) {
					if (first < 0) first = v.currentTime;
					if (v.currentTime - first >= `+strconv.FormatFloat(minLiveAdvance, 'f', 1, 64)+`) { resolve(v.currentTime - first); return; }
				}
				if (performance.now() - t0 > `+strconv.Itoa(int(liveWait.Milliseconds()))+`) { resolve(first < 0 ? -1 : v.currentTime - first); return; }
				if (v.paused) v.play().catch(() => {});
				setTimeout(check, 100);
			};
			check();
		})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if advance < minLiveAdvance {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const v = document.querySelector('#live'); return v.dataset.job + ' ' + v.readyState + ' ' + v.currentTime + ' ' + (v.error && v.error.message) + ' ' + document.querySelector('#live-state').textContent; })()`))
		t.Errorf("the live player advanced %.1f s during the recording, want %.1f (job, readyState, currentTime, error, state: %s)", advance, minLiveAdvance, state)
	} else {
		t.Logf("the live player advanced %.1f s during the recording", advance)
	}
	if err := pub.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if j, _ := srv.waitJob("/v1/recordings/"+rec.Job.ID, jobDone); j.State != service.StateDone {
		t.Fatalf("%s: %s", j.State, j.Error)
	}
	// The finished MP4 plays; the timeline is drawn.
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#player")); err != nil {
		t.Fatal(err)
	}
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((resolve) => {
			const v = document.querySelector('#player');
			const t0 = performance.now();
			const check = () => {
				if (v.readyState >= 3 && v.currentTime > 0.5) { resolve(true); return; }
				if (performance.now() - t0 > `+strconv.Itoa(int(pageWait.Milliseconds()))+`) { resolve(false); return; }
				if (v.paused) v.play().catch(() => {});
				setTimeout(check, 100);
			};
			check();
		})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(ctx, chromedp.AttributeValue("#timeline", "data-bars"))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const v = document.querySelector('#player'); return v.readyState + ' ' + v.currentTime + ' ' + (v.error && v.error.message); })()`))
		t.Errorf("the MP4 did not play (readyState, currentTime, error: %s)", state)
	}
	if bars.Value != "1" {
		t.Errorf("timeline has %q bars, want 1 (Alice's presence)", bars.Value)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	if n := colours(t, shot); n < minColours {
		t.Errorf("screenshot has %d colours, want at least %d", n, minColours)
	}
	srv.stop()
}

// needChromium returns the Chromium to run; without one it fails the test
// under ROOMTAPE_REQUIRE_BROWSER=1 (make test), else skips it saying why.
func needChromium(t *testing.T, test string) string {
	t.Helper()
	chromium := os.Getenv("ROOMTAPE_CHROMIUM")
	if chromium == "" {
		chromium = browser.DefaultChromium
	}
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("ROOMTAPE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium: %v", err)
		}
		t.Skipf("SKIPPING %s: %v (run scripts/setup.sh)", test, err)
	}
	return chromium
}

// cellText reads an element's text in one evaluation (the page rebuilds
// its table every second, so a node looked up first may be gone).
func cellText(sel string) chromedp.Action[string] {
	return chromedp.Evaluate[string](`(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e ? e.textContent : ''; })()`)
}

// colours counts the distinct colours of a PNG or JPEG screenshot.
func colours(t *testing.T, b []byte) int {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[3]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			seen[[3]uint32{cr >> 8, cg >> 8, cb >> 8}] = true
		}
	}
	return len(seen)
}

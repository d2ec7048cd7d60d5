package browser_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	lkproto "github.com/livekit/protocol/livekit"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/browser"
	"github.com/roomtape/roomtape/recorder/livekit"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Tolerances of the end-to-end test, each with its reason.
const (
	// presenceTolerance: the SFU relays participant updates within
	// milliseconds; livekit-client in Chromium then reports them through
	// the page's socket. A loaded 2-core machine running the server, two
	// browsers, a Go bot and four publishers delays that.
	presenceTolerance = time.Second
	// markerTolerance bounds a flash or beep in the output against the
	// instant the publisher sent it: the bridge places frames at their
	// least transit delay, a few ms here, plus the 33 ms output frame
	// grid, a 66 ms frame at 15 fps and livekit-server's own RTP
	// rewriting when a downtrack starts before the publisher's first
	// packet (recorder/livekit saw up to ~300 ms from that).
	markerTolerance = 400 * time.Millisecond
	// avTolerance is the budget for a participant's audio against
	// its video in the recorded files (median over the participant's
	// flash/beep pairs).
	avTolerance = 40 * time.Millisecond
	// srSlack bounds how much worse the bridge's A/V may be than the Go
	// SDK's, timed from Sender Reports, for the same participant in the
	// same run. The synthetic publishers encode VP8 live, and on a loaded
	// 2-core machine their video leaves 60-110 ms after the audio of the
	// same instant: both recorders then see the same skew on the wire
	// (measured 2026-12-02: bridge -62/-68 ms, Go SDK -61/-87 ms; in a
	// quieter run bridge -21/-24 ms, Go SDK -67/-113 ms). Where the
	// reference exceeds avTolerance the bridge must match it within this.
	srSlack = 20 * time.Millisecond
	// composedAVTolerance bounds the A/V offset in the composed output,
	// per flash/beep pair. Measured: the output shows the flashes 60-100
	// ms after the beeps while the recorded files have them within about
	// 25 ms (the Go SDK's files of the same run: 60-150 ms): the
	// composition's own video placement (33 ms frame grid, 15 fps
	// sources) adds to the files' offset. A pair beyond it passes only
	// when the publisher's own send skew for that flash and that beep
	// explains it (the output's offset minus that skew is within the
	// tolerance): a loaded publisher sometimes sends a flash frame late
	// (seen in CI: one pair of seven at -248 ms whose flash left 235 ms
	// after its beep), and the bridge, which times frames from their
	// RTP timestamps at their least transit delay, then shows part of
	// that lateness. The send times themselves can be late too (the
	// publisher's goroutine noting them is delayed under -race), which
	// is why the skew only excuses a pair, never condemns one.
	composedAVTolerance = 130 * time.Millisecond
	// minAVPairs is the least number of matched flash/beep pairs per
	// participant with camera and microphone: a check that finds nothing
	// fails.
	minAVPairs = 3
	// endTolerance bounds how long Record takes to return after the room
	// is deleted.
	endTolerance = 10 * time.Second
	// sizeRatio bounds a track file's size against the Go SDK's recording
	// of the same track: both receive the same stream from the SFU, but
	// they start and stop a few frames apart and may get another
	// simulcast layer for a second after a layout change.
	sizeRatio = 2.0
	// outW and outH are the composed output size.
	outW, outH = 640, 360
	// stepSlack is how long a plan step may take before it delays the
	// next ones (a join takes about a second).
	stepSlack = 1500 * time.Millisecond
	// edgeMargin keeps measurements away from window edges.
	edgeMargin = 500 * time.Millisecond
)

// step is one action of a test plan at a time after the session started.
type step struct {
	at   time.Duration
	name string
	do   func() error
}

// runPlan runs the steps at their times after origin and returns for
// each the session times at which it started and finished.
func runPlan(t *testing.T, origin time.Time, steps []step) (start, end []time.Duration) {
	t.Helper()
	var shift time.Duration
	for _, s := range steps {
		at := s.at + shift
		time.Sleep(time.Until(origin.Add(at)))
		start = append(start, time.Since(origin))
		if err := s.do(); err != nil {
			t.Fatalf("plan step %q at %v: %v", s.name, at, err)
		}
		end = append(end, time.Since(origin))
		took := end[len(end)-1] - start[len(start)-1]
		shift += max(0, took-stepSlack)
		t.Logf("plan %6.2fs %-40s ran %6.3fs-%6.3fs", s.at.Seconds(), s.name, start[len(start)-1].Seconds(), end[len(end)-1].Seconds())
	}
	return start, end
}

// publishPage publishes Chromium's fake camera (simulcast) and microphone
// to a LiveKit room with livekit-client, the same bundle the bridge uses.
const publishPage = `<!doctype html><html><body><script src="sdk/livekit-client.umd.js"></script><script>
let room;
async function publish(url, token) {
  room = new LivekitClient.Room({videoCaptureDefaults: {resolution: {width: 640, height: 360, frameRate: 15}}, publishDefaults: {simulcast: true}});
  await room.connect(url, token);
  await room.localParticipant.enableCameraAndMicrophone();
  return room.localParticipant.identity;
}
async function leave() { await room.disconnect(); return true; }
</script></body></html>`

// browserPublisher is a Chromium publishing its fake camera and microphone.
type browserPublisher struct {
	ctx    context.Context
	cancel func()
}

func startBrowserPublisher(ctx context.Context, t *testing.T, pageURL, lkURL, token string) (*browserPublisher, error) {
	t.Helper()
	actx, c1 := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser.DefaultChromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("use-fake-device-for-media-stream", true), chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"), chromedp.Flag("mute-audio", true))
	bctx, c2 := chromedp.NewContext(actx)
	p := &browserPublisher{ctx: bctx, cancel: func() { c2(); c1() }}
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		p.cancel()
		return nil, err
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[string]("publish("+jsq(lkURL)+","+jsq(token)+")", chromedp.EvalAwaitPromise)); err != nil {
		p.cancel()
		return nil, err
	}
	return p, nil
}

func (p *browserPublisher) leave() error {
	_, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool]("leave()", chromedp.EvalAwaitPromise))
	p.cancel()
	return err
}

// jsq quotes a URL or token for JavaScript.
func jsq(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// TestRecordRoom records a LiveKit room through the browser bridge while
// the Go SDK's recorder (recorder/livekit) records the same room: three
// synthetic participants (alice with a simulcast camera and a screen
// share, bob who leaves and rejoins, carol with a microphone only) and
// one real Chromium publisher (dana: fake camera in simulcast, fake
// microphone). It composes the bridge's session and checks the layout,
// the markers and A/V per participant, and compares its files with the Go
// SDK's.
func TestRecordRoom(t *testing.T) {
	const room = "standup"
	srv := inRoom(t, room)
	if srv == nil {
		return
	}
	ctx := t.Context()
	aliceClip := clip(t, 0, false, lktest.Size{W: 640, H: 360}, lktest.Size{W: 320, H: 180}, lktest.Size{W: 160, H: 90})
	bobClip := clip(t, 1, false, lktest.Size{W: 320, H: 180})
	carolClip := clip(t, 2, false)
	screenClip := clip(t, 3, true, lktest.Size{W: 320, H: 180})

	dir := testDir(t)
	sess, err := recorder.NewSession(recorder.Config{ID: "browser", Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	goSess, err := recorder.NewSession(recorder.Config{ID: "gosdk", Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	recDone := make(chan error, 1)
	joined := make(chan struct{}, 1)
	go func() {
		recDone <- browser.Record(ctx, sess, browser.Config{
			Room: botRoom(t, srv, room), Output: browser.Output{Width: outW, Height: outH}, Logger: testLogger(t),
			OnJoined: func() {
				select {
				case joined <- struct{}{}:
				default:
				}
			},
		})
	}()
	goDone := make(chan error, 1)
	go func() {
		goDone <- livekit.Record(ctx, goSess, livekit.Config{
			URL: srv.URL, APIKey: lktest.APIKey, APISecret: lktest.APISecret, Room: room, Identity: "roomtape-go",
			Output: livekit.Output{Width: outW, Height: outH}, Logger: testLogger(t),
		})
	}()
	origin := sess.StartedAt()

	page := httptest.NewServer(http.StripPrefix("/sdk/", http.FileServer(http.Dir("page/sdk"))))
	defer page.Close()
	pageMux := http.NewServeMux()
	pageMux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(publishPage))
	})
	pageMux.Handle("/sdk/", http.StripPrefix("/sdk/", http.FileServer(http.Dir("page/sdk"))))
	page.Config.Handler = pageMux

	var (
		pubs   = map[string]*lktest.Publisher{}
		all    []*lktest.Publisher
		byID   = map[string][]*lktest.Publisher{}
		screen string
		dana   *browserPublisher
	)
	join := func(id, name string, c *lktest.Clip) func() error {
		return func() error {
			p, err := lktest.JoinAndPublish(ctx, srv.URL, room, id, name, c)
			if err != nil {
				return err
			}
			pubs[id] = p
			all = append(all, p)
			byID[id] = append(byID[id], p)
			return nil
		}
	}
	steps := []step{
		{1500 * time.Millisecond, "alice joins (simulcast camera, mic)", join("alice", "Alice", aliceClip)},
		{4500 * time.Millisecond, "bob joins (camera, mic)", join("bob", "Bob", bobClip)},
		{7500 * time.Millisecond, "carol joins (mic only)", join("carol", "Carol", carolClip)},
		{9 * time.Second, "dana joins from Chromium (fake camera, mic)", func() (err error) {
			tok, err := lktest.Token(room, "dana", "Dana", true, time.Hour)
			if err != nil {
				return err
			}
			dana, err = startBrowserPublisher(ctx, t, page.URL, srv.URL, tok)
			return err
		}},
		{11500 * time.Millisecond, "alice shares her screen", func() (err error) {
			screen, err = pubs["alice"].PublishVideo(screenClip, lkproto.TrackSource_SCREEN_SHARE, "screen")
			return err
		}},
		{14500 * time.Millisecond, "bob leaves", func() error { pubs["bob"].Leave(); return nil }},
		{17500 * time.Millisecond, "alice stops sharing", func() error { return pubs["alice"].Unpublish(screen) }},
		{20500 * time.Millisecond, "bob rejoins", join("bob", "Bob", bobClip)},
		{22500 * time.Millisecond, "dana leaves", func() error { return dana.leave() }},
		{26 * time.Second, "room deleted", func() error {
			_, err := srv.RoomService().DeleteRoom(ctx, &lkproto.DeleteRoomRequest{Room: room})
			return err
		}},
	}
	// The plan starts once the bridge is in the room: Chromium starts,
	// loads the page and joins in 1.5-3 s, and up to 10 s on a loaded
	// 2-core machine; a participant who joins before the bot is seen
	// when the bot joins.
	select {
	case <-joined:
	case err := <-recDone:
		t.Fatalf("Record ended before joining: %v", err)
	}
	startup := time.Since(origin)
	t.Logf("bridge joined after %v", startup.Round(time.Millisecond))
	for i := range steps {
		steps[i].at += startup
	}
	stepStart, stepEnd := runPlan(t, origin, steps)
	for name, ch := range map[string]chan error{"browser": recDone, "go sdk": goDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("%s Record after the room was deleted: %v", name, err)
			}
		case <-time.After(endTolerance):
			t.Fatalf("%s Record still running %v after the room was deleted", name, endTolerance)
		}
	}
	for _, p := range all {
		p.Leave()
	}
	for _, s := range []*recorder.Session{sess, goSess} {
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m, err := manifest.Load(sess.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	gm, err := manifest.Load(goSess.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	// A join or leave happens while its plan step runs: between the
	// step's start and its end (a Chromium publisher's join takes
	// seconds, and the room sees it before the step returns).
	iv := func(join, leave int) planned {
		return planned{stepStart[join], stepEnd[join], stepStart[leave], stepEnd[leave]}
	}
	checkPresence(t, m, map[string][]planned{
		"alice":        {iv(0, 9)},
		"bob":          {iv(1, 5), iv(7, 9)},
		"carol":        {iv(2, 9)},
		"dana":         {iv(3, 8)},
		"alice#screen": {iv(4, 6)},
	})
	sent := func(id, video, audio string, index int) markers {
		return markers{
			Flashes: sentMarkers(origin, video, byID[id]...), Beeps: sentMarkers(origin, audio, byID[id]...),
			MediaFlashes: mediaMarkers(origin, video, byID[id]...), MediaBeeps: mediaMarkers(origin, audio, byID[id]...),
			Index: index,
		}
	}
	checkComposition(t, m, map[string]markers{
		"alice":        sent("alice", "camera", "mic", 0),
		"bob":          sent("bob", "camera", "mic", 1),
		"carol":        sent("carol", "camera", "mic", 2),
		"alice#screen": sent("alice", "screen", "", 3),
	})
	compareWithGoSDK(t, m, gm)
	for _, id := range []string{"alice", "bob"} {
		checkAVAgainstGoSDK(t, m, gm, id, map[string]int{"alice": 0, "bob": 1}[id])
	}
	checkBrowserPublisher(t, m, "dana")
}

// compareWithGoSDK checks that the bridge recorded what the Go SDK
// recorded: the same participants, for each the same tracks in the same
// codecs (as received: no transcoding), and files of similar sizes.
func compareWithGoSDK(t *testing.T, m, gm *manifest.Session) {
	t.Helper()
	byKey := func(s *manifest.Session) map[string]manifest.Participant {
		out := map[string]manifest.Participant{}
		for _, p := range s.Participants {
			out[p.Key()] = p
		}
		return out
	}
	b, g := byKey(m), byKey(gm)
	if !slices.Equal(slices.Sorted(maps.Keys(b)), slices.Sorted(maps.Keys(g))) {
		t.Errorf("participants: bridge %v, Go SDK %v", slices.Sorted(maps.Keys(b)), slices.Sorted(maps.Keys(g)))
	}
	for key, bp := range b {
		gp, ok := g[key]
		if !ok {
			continue
		}
		sig := func(p manifest.Participant) []string {
			var out []string
			for _, tr := range p.Tracks {
				out = append(out, tr.Kind+"/"+tr.Codec)
			}
			slices.Sort(out)
			return out
		}
		if !slices.Equal(sig(bp), sig(gp)) {
			t.Errorf("%s tracks: bridge %v, Go SDK %v", key, sig(bp), sig(gp))
			continue
		}
		size := func(p manifest.Participant, kind string) int64 {
			var n int64
			for _, tr := range p.Tracks {
				if tr.Kind == kind {
					if st, err := os.Stat(tr.Path); err == nil {
						n += st.Size()
					}
				}
			}
			return n
		}
		for _, kind := range []string{manifest.KindVideo, manifest.KindAudio} {
			bs, gs := size(bp, kind), size(gp, kind)
			if bs == 0 && gs == 0 {
				continue
			}
			r := float64(bs) / float64(max(gs, 1))
			t.Logf("%s %s: bridge %d bytes, Go SDK %d bytes (ratio %.2f)", key, kind, bs, gs, r)
			if r > sizeRatio || r < 1/sizeRatio {
				t.Errorf("%s %s files: bridge %d bytes, Go SDK %d bytes: ratio %.2f outside [1/%v, %v]", key, kind, bs, gs, r, sizeRatio, sizeRatio)
			}
		}
	}
}

// fileAV returns the A/V offsets (beep minus flash, session time) of a
// participant's first camera and microphone files.
func fileAV(t *testing.T, m *manifest.Session, key string, index int) []mediacheck.Offset {
	t.Helper()
	for _, p := range m.Participants {
		if p.Key() != key {
			continue
		}
		v, okV := p.VideoTrack()
		a, okA := p.AudioTrack()
		if !okV || !okA {
			t.Errorf("%s in %s: video %v audio %v", key, m.SessionDir, okV, okA)
			return nil
		}
		vr, err := mediacheck.Analyze(v.Path, mediacheck.Options{Regions: []timeline.Rect{{W: 64, H: 36}}})
		if err != nil {
			t.Fatal(err)
		}
		f := testmedia.Freqs[index]
		ar, err := mediacheck.Analyze(a.Path, mediacheck.Options{Freqs: []float64{f}})
		if err != nil {
			t.Fatal(err)
		}
		shift := func(ts []time.Duration, start float64) []time.Duration {
			var out []time.Duration
			for _, x := range ts {
				out = append(out, x+manifest.FromSeconds(start))
			}
			return out
		}
		return mediacheck.Offsets(shift(vr.FlashOnsets(0), v.StartS), shift(ar.BeepOnsets(f), a.StartS), mediacheck.PairWindow)
	}
	t.Errorf("no %s in %s", key, m.SessionDir)
	return nil
}

// checkAVAgainstGoSDK checks a participant's A/V in the bridge's files:
// the median offset within avTolerance, or, when the Go SDK's recording of
// the same participant in the same run (timed from Sender Reports) shows
// the source itself skewed by more, no worse than it by srSlack.
func checkAVAgainstGoSDK(t *testing.T, m, gm *manifest.Session, key string, index int) {
	t.Helper()
	b, g := fileAV(t, m, key, index), fileAV(t, gm, key, index)
	med := func(os []mediacheck.Offset) time.Duration {
		var v []time.Duration
		for _, o := range os {
			v = append(v, o.AV)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	if len(b) < minAVPairs || len(g) < minAVPairs {
		t.Errorf("%s: %d (bridge) and %d (Go SDK) flash/beep pairs in the files, want at least %d each", key, len(b), len(g), minAVPairs)
		return
	}
	mb, mg := med(b), med(g)
	t.Logf("%s A/V in the files (beep - flash, median of %d/%d pairs): bridge %v, Go SDK %v, difference %v",
		key, len(b), len(g), mb.Round(time.Millisecond), mg.Round(time.Millisecond), (mb - mg).Round(time.Millisecond))
	if absDur(mb) > avTolerance && absDur(mb) > absDur(mg)+srSlack {
		t.Errorf("%s: bridge A/V %v in the files: more than %v, and worse than the Go SDK's %v by more than %v", key, mb, avTolerance, mg, srSlack)
	}
}

// checkBrowserPublisher checks the Chromium publisher's recording: a
// camera in a browser codec whose picture moves and a microphone.
func checkBrowserPublisher(t *testing.T, m *manifest.Session, key string) {
	t.Helper()
	for _, p := range m.Participants {
		if p.Key() != key {
			continue
		}
		v, okV := p.VideoTrack()
		a, okA := p.AudioTrack()
		if !okV || !okA {
			t.Fatalf("%s: video %v, audio %v", key, okV, okA)
		}
		t.Logf("%s: camera %s %dx%d, microphone %s", key, v.Codec, v.Width, v.Height, a.Codec)
		rep, err := mediacheck.Analyze(v.Path, mediacheck.Options{Regions: []timeline.Rect{{W: 64, H: 36}}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Video == nil || rep.Video.Duration() < 5*time.Second {
			t.Errorf("%s camera file %s: too little video, want most of its 13 s", key, v.Path)
		}
		return
	}
	t.Errorf("no participant %s", key)
}

// checkComposition composes the session and checks every window: the
// tiles' tints and each participant's markers at the instants its
// publisher sent them, and A/V per participant within avTolerance.
func checkComposition(t *testing.T, m *manifest.Session, sent map[string]markers) {
	t.Helper()
	out := filepath.Join(filepath.Dir(m.SessionDir), filepath.Base(m.SessionDir)+".mp4")
	cfg := compose.Config{Width: outW, Height: outH, Preset: "ultrafast", FullSpan: true} // output time is session time
	if err := compose.Session(t.Context(), m, out, cfg); err != nil {
		t.Fatal(err)
	}
	graphs, err := compose.Graphs(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]manifest.Participant{}
	for _, p := range m.Participants {
		byID[p.Key()] = p
	}
	span := func(tr manifest.Track, ok bool) (from, to time.Duration) {
		if !ok {
			return 0, 0
		}
		from, to = manifest.FromSeconds(tr.StartS), m.End()
		if tr.EndS != nil {
			to = manifest.FromSeconds(*tr.EndS)
		}
		return from, to
	}
	type tile struct {
		win    timeline.Window
		id     string
		region int
	}
	var regions []timeline.Rect
	var tiles []tile
	for _, g := range graphs {
		w := g.Window
		var names []string
		for i, r := range w.Tiles(outW, outH) {
			id := w.Participants[i].ID
			names = append(names, id)
			tiles = append(tiles, tile{w, id, len(regions)})
			dst, _ := timeline.Place(r, 16, 9, cfg.Fit)
			regions = append(regions, inset(dst))
		}
		t.Logf("layout %6.2fs-%6.2fs: %s", w.Start.Seconds(), w.End.Seconds(), strings.Join(names, " | "))
	}
	freqs := map[string]float64{}
	for id, mo := range sent {
		freqs[id] = testmedia.Freqs[mo.Index]
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: regions, Freqs: slices.Collect(maps.Values(freqs))})
	if err != nil {
		t.Fatal(err)
	}
	palette := testmedia.Palette()
	checkMarkers := func(what, id string, got, sent, media []time.Duration, from, to time.Duration) int {
		var offs []string
		for _, f := range got {
			if f < from+edgeMargin || f > to-edgeMargin {
				continue
			}
			want, due := nearest(sent, f), nearest(media, f)
			offs = append(offs, (f - want).Round(time.Millisecond).String())
			if absDur(f-want) > markerTolerance && absDur(f-due) > markerTolerance {
				t.Errorf("%s %s at %v, sent at %v, due at %v (tolerance %v)", id, what, f, want, due, markerTolerance)
			}
		}
		if len(offs) > 0 {
			t.Logf("%s %s times in the output minus send times: %v", id, what, offs)
		}
		return len(offs)
	}
	flashes := map[string]int{}
	probed := 0
	for _, tl := range tiles {
		mo, ok := sent[tl.id]
		if !ok || len(mo.Flashes) == 0 {
			continue // the browser publisher, or no camera
		}
		from, to := span(byID[tl.id].VideoTrack())
		from, to = max(from, tl.win.Start), min(to, tl.win.End)
		if to-from < 2*edgeMargin {
			continue
		}
		at := mo.between(from, to)
		c, ok := rep.MeanAt(tl.region, at)
		if !ok {
			t.Errorf("%s: no frame at %v", tl.id, at)
			continue
		}
		probed++
		if i, _ := mediacheck.Nearest(c, palette); i != mo.Index {
			t.Errorf("tile of %s at %v is coloured %+v (nearest tint %d), want tint %d", tl.id, at, c, i, mo.Index)
		}
		flashes[tl.id] += checkMarkers("flash", tl.id, rep.FlashOnsets(tl.region), mo.Flashes, mo.MediaFlashes, from, to)
	}
	if probed == 0 {
		t.Error("no tile probed")
	}
	within := func(ts []time.Duration, from, to time.Duration) []time.Duration {
		var out []time.Duration
		for _, x := range ts {
			if x >= from+edgeMargin && x <= to-edgeMargin {
				out = append(out, x)
			}
		}
		return out
	}
	for _, id := range slices.Sorted(maps.Keys(freqs)) {
		n := 0
		if from, to := span(byID[id].AudioTrack()); from != to {
			n = checkMarkers("beep", id, rep.BeepOnsets(freqs[id]), sent[id].Beeps, sent[id].MediaBeeps, from, to)
		}
		var av []mediacheck.Offset
		for _, tl := range tiles {
			if tl.id == id {
				w := tl.win
				av = append(av, mediacheck.Offsets(within(rep.FlashOnsets(tl.region), w.Start, w.End),
					within(rep.BeepOnsets(freqs[id]), w.Start, w.End), mediacheck.PairWindow)...)
			}
		}
		// A pair is bad when neither its offset in the output nor that
		// offset minus the publisher's send skew is within tolerance.
		var avs []string
		var bad []mediacheck.Offset
		for _, o := range av {
			skew := nearest(sent[id].Beeps, o.Beep) - nearest(sent[id].Flashes, o.Flash)
			if absDur(o.AV) > composedAVTolerance && absDur(o.AV-skew) > composedAVTolerance {
				bad = append(bad, o)
			}
			avs = append(avs, fmt.Sprintf("%v(sent %v)", o.AV.Round(time.Millisecond), skew.Round(time.Millisecond)))
		}
		t.Logf("%s: %d flashes, %d beeps checked, A/V (beep - flash) in the output (and as sent) %v", id, flashes[id], n, avs)
		_, hasV := byID[id].VideoTrack()
		_, hasA := byID[id].AudioTrack()
		if hasV && hasA && len(av) < minAVPairs {
			t.Errorf("%s: %d flash/beep pairs matched, want at least %d", id, len(av), minAVPairs)
		}
		if len(bad) > 0 {
			t.Errorf("%s: %d flash/beep pairs in the composed output off by more than %v, beyond the publisher's own skew: %+v", id, len(bad), composedAVTolerance, bad)
		}
		if flashes[id] == 0 && n == 0 {
			t.Errorf("%s: no marker found in the composed output", id)
		}
	}
}

// markers are the session times at which a participant's publisher sent
// its flashes and beeps, in the colours and tone of participant Index.
type markers struct {
	Flashes, Beeps []time.Duration
	// MediaFlashes and MediaBeeps are the markers' media times (their
	// RTP timestamps on the publisher's clock): the bridge times frames
	// from those, so a marker a loaded publisher sends late may show at
	// its media time instead of its send time.
	MediaFlashes, MediaBeeps []time.Duration
	Index                    int
}

func sentMarkers(origin time.Time, name string, pubs ...*lktest.Publisher) []time.Duration {
	return sinceOrigin(origin, pubs, func(p *lktest.Publisher) []time.Time { return p.Markers(name) })
}

func mediaMarkers(origin time.Time, name string, pubs ...*lktest.Publisher) []time.Duration {
	return sinceOrigin(origin, pubs, func(p *lktest.Publisher) []time.Time { return p.MediaMarkers(name) })
}

// sinceOrigin returns the instants of every publisher's of, after origin.
func sinceOrigin(origin time.Time, pubs []*lktest.Publisher, of func(*lktest.Publisher) []time.Time) []time.Duration {
	var out []time.Duration
	for _, p := range pubs {
		for _, at := range of(p) {
			out = append(out, at.Sub(origin))
		}
	}
	return out
}

func nearest(sent []time.Duration, f time.Duration) time.Duration {
	best := time.Duration(-1)
	for _, s := range sent {
		if best < 0 || absDur(f-s) < absDur(f-best) {
			best = s
		}
	}
	return best
}

// between returns an instant of [start, end) half-way between two
// flashes, nearest to the middle of the span.
func (m markers) between(start, end time.Duration) time.Duration {
	mid := (start + end) / 2
	all := append(append([]time.Duration(nil), m.Flashes...), m.MediaFlashes...)
	// clear: a quarter period from every flash, by send or media time
	// (a flash a loaded publisher sent late shows between the two).
	clear := func(at time.Duration) bool {
		for _, f := range all {
			if absDur(at-f) < testmedia.MarkerPeriod/4 {
				return false
			}
		}
		return true
	}
	best, found := mid, clear(mid)
	for _, f := range all {
		// Half a period after a flash is half a period before the next.
		for _, at := range []time.Duration{f + testmedia.MarkerPeriod/2, f - testmedia.MarkerPeriod/2} {
			if at >= start+edgeMargin && at < end-edgeMargin && clear(at) && (!found || absDur(at-mid) < absDur(best-mid)) {
				best, found = at, true
			}
		}
	}
	return best
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func inset(r timeline.Rect) timeline.Rect {
	dx, dy := r.W/8&^1, r.H/8&^1
	return timeline.Rect{X: r.X + dx, Y: r.Y + dy, W: r.W - 2*dx, H: r.H - 2*dy}
}

// planned is when the plan's steps made a participant join and leave:
// each within the span of its step.
type planned struct {
	joinFrom, joinTo, leaveFrom, leaveTo time.Duration
}

// checkPresence compares the recorded presence intervals with the plan:
// each join and leave within presenceTolerance of its step's span.
func checkPresence(t *testing.T, m *manifest.Session, want map[string][]planned) {
	t.Helper()
	got := map[string]manifest.Participant{}
	for _, p := range m.Participants {
		got[p.Key()] = p
	}
	for id, ivs := range want {
		p, ok := got[id]
		if !ok {
			t.Errorf("participant %q not recorded; have %v", id, slices.Collect(maps.Keys(got)))
			continue
		}
		have := p.Intervals()
		if len(have) != len(ivs) {
			t.Errorf("%s: %d presence intervals %v, want %d %v", id, len(have), have, len(ivs), ivs)
			continue
		}
		for i, iv := range ivs {
			for _, c := range []struct {
				what     string
				got      float64
				from, to time.Duration
			}{{"join", have[i].JoinS, iv.joinFrom, iv.joinTo}, {"leave", have[i].LeaveS, iv.leaveFrom, iv.leaveTo}} {
				if at := manifest.FromSeconds(c.got); at < c.from-presenceTolerance || at > c.to+presenceTolerance {
					t.Errorf("%s interval %d %s at %.2fs, planned %.2fs-%.2fs (tolerance %v)", id, i, c.what, c.got, c.from.Seconds(), c.to.Seconds(), presenceTolerance)
				}
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("recorded participants %v, want %d", slices.Collect(maps.Keys(got)), len(want))
	}
	if _, ok := got["carol"].VideoTrack(); ok {
		t.Error("carol published no camera but has a video track")
	}
}

// clip makes participant i's clip with the given video layers.
func clip(t *testing.T, i int, noAudio bool, layers ...lktest.Size) *lktest.Clip {
	t.Helper()
	c, err := lktest.MakeClip(t.Context(), t.TempDir(), i, layers, noAudio)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testDir is a fresh directory for a test's recordings: under
// $ROOMTAPE_TEST_KEEP when set (kept), else a temporary one.
func testDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ROOMTAPE_TEST_KEEP"); d != "" {
		dir := filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

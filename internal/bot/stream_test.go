package bot

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/compose/hls"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/rtmptest"
	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/internal/testhook"
	"github.com/roomtape/roomtape/storage/s3/s3test"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Timings and tolerances of the streaming tests.
const (
	// streamDemo is the streaming demo's length: long enough for the live
	// HLS playlist to slide (its 6 segments of 2 s are 12 s of output)
	// while the call goes on.
	streamDemo = 24 * time.Second
	// streamBudget is what the issue allows the stream on top of the live
	// composer's delay for a flash to come out of the RTMP server; the
	// delay is the one the composer kept: compose.DefaultDelay, or the
	// largest lag it reported when a loaded machine made it fall behind
	// (the stream cannot be ahead of the composition).
	streamBudget = 2 * time.Second
	// maxStreamLatency is the target with the default delay.
	maxStreamLatency = compose.DefaultDelay + streamBudget
	// hlsDurationTolerance: the VOD playlist's segment durations are
	// counted in video frames, the output's length ends with the audio
	// (AAC padding): a frame plus an AAC frame, as durationTolerance.
	hlsDurationTolerance = durationTolerance
	// pullerWait bounds how long the RTMP reader may take to see the end
	// of the stream after the bot returned.
	pullerWait = 10 * time.Second
	// flashLuma is the luma (0-255) a region must reach, from below, to
	// count as a flash onset: the white flash is about 235, the tints and
	// the placeholder stay under 160.
	flashLuma = 200
	// liveSegments is how many segments the live playlist lists before
	// the test plays it (hls.js starts three target durations from the
	// live edge).
	liveSegments = 3
	// minLiveTinted is how many of the hlsSamples live pictures must show
	// the first participant's tint in firstTile: a flash (100 ms every
	// 2 s) or a picture not there yet may spoil a few.
	minLiveTinted = hlsSamples / 2
	// pullStep subsamples the pulled pictures (every 4th pixel and line)
	// to keep a 24 s stream in a few MB.
	pullStep = 4
)

// firstTile is inside the first participant's (Aditya's) tile in every
// window of the streaming demo at 320x180: the whole picture when alone,
// the left 160x90 tile at y 44 beside the phone.
var firstTile = timeline.Rect{X: 40, Y: 67, W: 80, H: 45}

// pulledFrame is a frame read back from the RTMP server while live.
type pulledFrame struct {
	t       time.Duration // presentation time in the stream
	arrived time.Time
	luma    []byte // subsampled Y plane
	w, h    int    // of luma
}

// pullRTMP reads url until the stream ends, keeping every frame's arrival
// time and a subsampled picture.
func pullRTMP(url string) ([]pulledFrame, error) {
	d, err := demux.Open(url, demux.Video, demux.Options{})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	f := astiav.AllocFrame()
	defer f.Free()
	var out []pulledFrame
	for {
		err := d.Next(f)
		if err != nil {
			if errors.Is(err, astiav.ErrEof) || len(out) > 0 {
				return out, nil
			}
			return out, err
		}
		now := time.Now()
		w, h := f.Width(), f.Height()
		b, err := f.Data().Bytes(1)
		if err != nil {
			f.Unref()
			return out, err
		}
		sw, sh := w/pullStep, h/pullStep
		l := make([]byte, sw*sh)
		for y := range sh {
			for x := range sw {
				l[y*sw+x] = b[y*pullStep*w+x*pullStep]
			}
		}
		out = append(out, pulledFrame{t: d.Time(f.Pts()), arrived: now, luma: l, w: sw, h: sh})
		f.Unref()
	}
}

// meanLuma is the mean of r (full-size coordinates) in f's picture.
func (f pulledFrame) meanLuma(r timeline.Rect) float64 {
	var sum, n float64
	for y := r.Y / pullStep; y < (r.Y+r.H)/pullStep && y < f.h; y++ {
		for x := r.X / pullStep; x < (r.X+r.W)/pullStep && x < f.w; x++ {
			sum += float64(f.luma[y*f.w+x])
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// hlsWatch polls the live playlist while the call runs.
type hlsWatch struct {
	mu        sync.Mutex
	polls     int
	seqs      []int // distinct media sequences seen, in order
	errs      []string
	maxListed int
}

func (w *hlsWatch) poll(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, compose.HLSLivePlaylist))
	if err != nil {
		return // not written yet
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	p, err := hls.Parse(b)
	if err != nil {
		w.errs = append(w.errs, err.Error())
		return
	}
	if p.End {
		return // the call ended
	}
	for _, s := range p.Segments {
		if _, err := os.Stat(filepath.Join(dir, s.URI)); err != nil {
			w.errs = append(w.errs, "listed segment missing: "+err.Error())
		}
	}
	w.maxListed = max(w.maxListed, len(p.Segments))
	if n := len(w.seqs); n == 0 || w.seqs[n-1] != p.MediaSequence {
		if n > 0 && p.MediaSequence < w.seqs[n-1] {
			w.errs = append(w.errs, "media sequence went back")
		}
		w.seqs = append(w.seqs, p.MediaSequence)
	}
}

// lagLine finds the lag on the bot's live progress lines.
var lagLine = regexp.MustCompile(`lag ([0-9.]+)s`)

// maxLag is the largest lag the live composer reported in out.
func maxLag(out string) time.Duration {
	var lag time.Duration
	for _, m := range lagLine.FindAllStringSubmatch(out, -1) {
		if f, err := strconv.ParseFloat(m[1], 64); err == nil {
			lag = max(lag, time.Duration(f*float64(time.Second)))
		}
	}
	return lag
}

// loadTrimmed loads a session.json and trims it as the bot composes it.
func loadTrimmed(t *testing.T, path string) (m, trimmed *manifest.Session, offset time.Duration) {
	t.Helper()
	m, err := manifest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if trimmed, offset, err = m.Trim(); err != nil {
		t.Fatal(err)
	}
	return m, trimmed, offset
}

// TestStream streams a WHIP demo call live to a real RTMP server
// (nginx-rtmp) and as HLS, and checks what came out as the MP4 is checked
// (layout per window, markers, A/V), plus the flash-to-RTMP latency, the
// live HLS playlist while the call runs and the VOD playlist after it.
func TestStream(t *testing.T) {
	if testing.Short() {
		t.Skip("records and streams a 24 s session")
	}
	srv := rtmptest.Start(t)
	store := s3test.Start(t) // HLS files are uploaded as they close
	bucket := store.CreateBucket(t)
	const w, h = 320, 180
	dir := t.TempDir()
	const id = "stream"
	hlsDir := HLSDir(filepath.Join(dir, id))
	liveKeys := 0 // HLS objects in the bucket while the call ran

	var frames []pulledFrame
	var pullErr error
	pulled := make(chan struct{})
	go func() {
		defer close(pulled)
		frames, pullErr = pullRTMP(srv.URL("call"))
	}()
	watch := &hlsWatch{}
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-tick.C:
				watch.poll(hlsDir)
				if out, err := store.Client().ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(id + "/hls/seg")}); err == nil {
					liveKeys = len(out.Contents)
				}
			}
		}
	}()

	// The live playlist played in Chromium while the call runs, once it
	// lists liveSegments: the first participant's tile region.
	var liveGrabs []hlsGrab
	var liveErr error
	played := make(chan struct{})
	go func() {
		defer close(played)
		deadline := time.Now().Add(streamDemo)
		for time.Now().Before(deadline) {
			time.Sleep(250 * time.Millisecond)
			b, err := os.ReadFile(filepath.Join(hlsDir, compose.HLSLivePlaylist))
			if p, perr := hls.Parse(b); err == nil && perr == nil && len(p.Segments) >= liveSegments {
				liveGrabs, liveErr = playHLS(t.Context(), hlsDir, compose.HLSLivePlaylist, []timeline.Rect{firstTile})
				return
			}
		}
		liveErr = errors.New("the live playlist never listed enough segments to play")
	}()
	_, res, out := runSmallDemoEnv(t, mapEnv(s3Env(store, bucket, dir)), "--demo-duration", streamDemo.String(), "--recordings-dir", dir, "--session-id", id,
		"--rtmp", srv.URL("call"), "--hls", "--width", "320", "--height", "180")
	close(stopWatch)
	<-watched
	<-played
	select {
	case <-pulled:
	case <-time.After(pullerWait):
		srv.Kill() // ends the reader's connection
		<-pulled
	}
	if strings.Contains(out.String(), "Live composition failed") {
		t.Fatalf("the streaming demo did not compose live")
	}
	if strings.Contains(out.String(), "call?") || strings.Contains(out.String(), "/call") {
		t.Errorf("the stream key shows in the bot's output")
	}
	m, cm, offset := loadTrimmed(t, res.ManifestPath)
	want := []synthParticipant{{"Aditya", 0}, {"iPhone", 1}}
	t.Log("MP4:")
	checkSynthetic(t, res.Output, cm, w, h, want)

	// The RTMP server's recording of the stream: the same checks.
	recs := srv.Recordings()
	if len(recs) != 1 {
		t.Fatalf("RTMP recordings %v, want one", recs)
	}
	t.Log("RTMP (nginx's FLV recording):")
	checkSynthetic(t, recs[0], cm, w, h, want)

	// Latency: each flash read back live from the server, from the
	// moment it was in the call: its output time is session time
	// offset + t, which the recorder stamps with the arrival of the
	// publisher's frame.
	if pullErr != nil {
		t.Fatalf("reading the stream back from the server: %v", pullErr)
	}
	started, err := time.Parse(time.RFC3339Nano, m.StartedAt)
	if err != nil {
		t.Fatal(err)
	}
	regs := regions(t, cm, mustWindows(t, cm), w, h)
	var lat []time.Duration
	for _, r := range regs {
		prev := -1.0
		for _, f := range frames {
			if f.t < r.window.Start || f.t >= r.window.End {
				prev = -1
				continue
			}
			l := f.meanLuma(r.rect)
			if prev >= 0 && prev < flashLuma && l >= flashLuma {
				lat = append(lat, f.arrived.Sub(started.Add(offset+f.t)))
				t.Logf("flash of %s at %v arrived %v after it was in the call", r.id, f.t, lat[len(lat)-1].Round(time.Millisecond))
			}
			prev = l
		}
	}
	if len(lat) < 2*minSamePairs {
		t.Fatalf("only %d flashes read back from the RTMP server (%d frames), want at least %d", len(lat), len(frames), 2*minSamePairs)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("flash → RTMP latency over %d flashes: min %v, median %v, max %v (target %v)", len(lat), lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), maxStreamLatency)
	bound := max(compose.DefaultDelay, maxLag(out.String())) + streamBudget
	if med := lat[len(lat)/2]; med > bound {
		t.Errorf("median flash → RTMP latency %v, want at most %v (the composer's delay or lag plus %v)", med, bound, streamBudget)
	}

	// HLS while live: valid playlists, segments listed exist, the
	// window slides.
	watch.mu.Lock()
	t.Logf("HLS live playlist: %d polls, media sequences %v, up to %d segments listed", watch.polls, watch.seqs, watch.maxListed)
	for _, e := range watch.errs {
		t.Errorf("live playlist: %s", e)
	}
	if len(watch.seqs) < 2 {
		t.Errorf("the live playlist's media sequence never advanced while live: %v", watch.seqs)
	}
	watch.mu.Unlock()

	// HLS played live: time advances, the first participant's tint.
	if liveErr != nil {
		t.Fatalf("playing the live playlist: %v", liveErr)
	}
	palette := tintPalette()
	var liveTimes []float64
	tinted := 0
	for _, g := range liveGrabs {
		liveTimes = append(liveTimes, g.T)
		if g.W == 0 {
			continue
		}
		c := mediacheck.RGB{R: g.Means[0][0], G: g.Means[0][1], B: g.Means[0][2]}
		if k, sim := mediacheck.Nearest(c, palette); k == want[0].Index && sim >= minTintSimilarity {
			tinted++
		}
	}
	t.Logf("live HLS in Chromium: currentTime %v, %d of %d pictures show %s's tint", liveTimes, tinted, len(liveGrabs), want[0].Name)
	if n := len(liveTimes); n < 2 || liveTimes[n-1] <= liveTimes[0] {
		t.Errorf("the live video's currentTime did not advance: %v", liveTimes)
	}
	if tinted < minLiveTinted {
		t.Errorf("only %d live pictures show %s's tint, want at least %d", tinted, want[0].Name, minLiveTinted)
	}

	// HLS after the call: the VOD playlist covers the whole output.
	b, err := os.ReadFile(filepath.Join(hlsDir, compose.HLSVODPlaylist))
	if err != nil {
		t.Fatal(err)
	}
	vod, err := hls.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !vod.VOD || !vod.End || vod.MediaSequence != 0 {
		t.Errorf("VOD playlist: %+v", vod)
	}
	if d := vod.Duration() - cm.End(); d.Abs() > hlsDurationTolerance {
		t.Errorf("VOD playlist lasts %v, the output %v (tolerance %v)", vod.Duration(), cm.End(), hlsDurationTolerance)
	}
	for _, s := range vod.Segments {
		if _, err := os.Stat(filepath.Join(hlsDir, s.URI)); err != nil {
			t.Errorf("VOD segment: %v", err)
		}
	}
	// Uploaded: segments while live, everything at the end.
	keys := listKeys(t, store, bucket)
	t.Logf("HLS segments in the bucket while live: %d; at the end %d objects", liveKeys, len(keys))
	if liveKeys == 0 {
		t.Errorf("no HLS segment was uploaded while the call ran")
	}
	for _, name := range append([]string{compose.HLSLivePlaylist, compose.HLSVODPlaylist}, func() []string {
		var n []string
		for _, s := range vod.Segments {
			n = append(n, s.URI)
		}
		return n
	}()...) {
		if !slices.Contains(keys, id+"/hls/"+name) {
			t.Errorf("%s not uploaded: %v", name, keys)
		}
	}
	t.Log("HLS (VOD playlist):")
	checkSynthetic(t, filepath.Join(hlsDir, compose.HLSVODPlaylist), cm, w, h, want)
	checkHLSPlayback(t, hlsDir, cm, w, h, want)
}

// Timings of TestStreamReconnect.
const (
	// killAfter is how long after nginx started recording the stream it
	// is killed; downFor how long it stays down.
	killAfter = 6 * time.Second
	downFor   = 3 * time.Second
	// maxReconnect bounds the time from the restart to the stream being
	// connected again: the backoff doubles from 0.5 s while the server is
	// down (0.5, 1, 2 s: the attempt after a 3 s outage comes about 0.5 s
	// after the restart), plus 2 s for a loaded machine.
	maxReconnect = 2*time.Second + 2*time.Second
	// minResumed is the least the second recording must hold: the call
	// goes on about 9 s after the restart; the stream resumes at the next
	// keyframe (StreamKeyInterval) after the reconnection (maxReconnect).
	minResumed = streamDemo - killAfter - downFor - joinSlack - compose.StreamKeyInterval - maxReconnect - 3*time.Second
)

// stampedWriter keeps each written line with the time it came.
type stampedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []stampedLine
}

type stampedLine struct {
	at   time.Time
	text string
}

func (w *stampedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.lines = append(w.lines, stampedLine{time.Now(), string(p)})
	return len(p), nil
}

// firstAfter returns the first line containing s written after t.
func (w *stampedWriter) firstAfter(t time.Time, s string) (stampedLine, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if l.at.After(t) && strings.Contains(l.text, s) {
			return l, true
		}
	}
	return stampedLine{}, false
}

// runDisrupted runs the streaming demo pushing to url and, once srv has
// recorded the stream for after, calls disrupt, then restore downFor
// later. It returns the result, the printed lines and when the disruption
// started and ended.
func runDisrupted(t *testing.T, srv *rtmptest.Server, url string, logger *slog.Logger, after, down time.Duration, disrupt func(), restore func() error) (*Result, *stampedWriter, time.Time, time.Time) {
	t.Helper()
	cfg, err := ParseArgs([]string{
		"--demo-duration", streamDemo.String(), "--demo-replay", "--demo-width", "320", "--demo-height", "180",
		"--width", "320", "--height", "180", "--preset", "ultrafast",
		"--recordings-dir", t.TempDir(), "--env-file", "", "--rtmp", url,
	}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := &stampedWriter{}
	var from, to time.Time
	var restoreErr error
	chaos := make(chan struct{})
	go func() {
		defer close(chaos)
		deadline := time.Now().Add(streamDemo)
		for len(srv.Recordings()) == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(after)
		disrupt()
		from = time.Now()
		time.Sleep(down)
		restoreErr = restore()
		to = time.Now()
	}()
	res, err := Run(t.Context(), cfg, Options{Out: out, Logger: logger})
	<-chaos
	t.Logf("output:\n%s", out.buf.String())
	if err != nil {
		t.Fatal(err)
	}
	if restoreErr != nil {
		t.Fatal(restoreErr)
	}
	if from.IsZero() || to.IsZero() || to.After(res.RecordingEnded) {
		t.Fatalf("the disruption (%v to %v) did not happen during the call (ended %v)", from, to, res.RecordingEnded)
	}
	return res, out, from, to
}

// TestStreamReconnect kills the RTMP server in the middle of a call and
// restarts it: the stream resumes (a second recording on the server, the
// failure and the reconnection reported), and the MP4 recording is
// unaffected (complete, every check passes).
func TestStreamReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("records and streams a 24 s session")
	}
	srv := rtmptest.Start(t)
	const w, h = 320, 180
	res, out, killed, restarted := runDisrupted(t, srv, srv.URL("call"), testLogger(t), killAfter, downFor, srv.Kill, srv.Restart)
	if _, ok := out.firstAfter(killed, "failed"); !ok {
		t.Errorf("the stream's failure was not reported")
	}
	l, ok := out.firstAfter(restarted, "connected")
	if !ok {
		t.Fatalf("the stream did not reconnect after the restart")
	}
	t.Logf("reconnected %v after the restart (server down %v)", l.at.Sub(restarted).Round(time.Millisecond), restarted.Sub(killed).Round(time.Millisecond))
	if d := l.at.Sub(restarted); d > maxReconnect {
		t.Errorf("reconnected %v after the restart, want at most %v", d, maxReconnect)
	}
	recs := srv.Recordings()
	if len(recs) != 2 {
		t.Fatalf("RTMP recordings %v, want two (before the kill and after the restart)", recs)
	}
	rep, err := mediacheck.Analyze(recs[1], mediacheck.Options{})
	if err != nil {
		t.Fatalf("the resumed stream: %v", err)
	}
	if rep.Video == nil || rep.Audio == nil {
		t.Fatalf("resumed stream: video %v, audio %v", rep.Video, rep.Audio)
	}
	t.Logf("resumed stream: %v of video (%d frames)", rep.Video.Duration(), rep.Video.Frames)
	if rep.Video.Width != w || rep.Video.Height != h || rep.Video.Duration() < minResumed {
		t.Errorf("resumed stream: video %+v, want %dx%d lasting at least %v", rep.Video, w, h, minResumed)
	}
	// The recording did not notice.
	_, cm, _ := loadTrimmed(t, res.ManifestPath)
	if strings.Contains(out.buf.String(), "Live composition failed") {
		t.Errorf("the live composition failed")
	}
	checkSynthetic(t, res.Output, cm, w, h, []synthParticipant{{"Aditya", 0}, {"iPhone", 1}})
}

// Timings of TestStreamStalled.
const (
	// stallAfter is how long after nginx started recording the stream
	// the link to it stalls; stallFor how long: well over the 5 s stall
	// bound.
	stallAfter = 4 * time.Second
	stallFor   = 12 * time.Second
	// streamKey is a stream key that must never be printed.
	streamKey = "k3y-5ecret-90210"
	// stallSendBuffer is the push's socket buffer in the test.
	stallSendBuffer = 8 << 10
	// maxStalledReconnect bounds the time from the thaw to the stream
	// being connected again: a connection attempt into the stalled link
	// fails after the 5 s read/write timeout, then backoff up to 4 s.
	maxStalledReconnect = 5*time.Second + 4*time.Second + 2*time.Second
)

// TestStreamStalled stalls the link to the RTMP server (a relay that stops
// reading: writes block) in the middle of a call: the composer never waits
// for it (no lag warning, the MP4 passes its checks), the stall is
// reported, and once the link moves again the stream reconnects.
func TestStreamStalled(t *testing.T) {
	if testing.Short() {
		t.Skip("records and streams a 24 s session")
	}
	// A socket buffer of a fraction of a second of this small stream
	// (the default holds seconds).
	testhook.RTMPSendBuffer.Store(stallSendBuffer)
	defer testhook.RTMPSendBuffer.Store(0)
	srv := rtmptest.Start(t)
	link := srv.Staller(t)
	logs := &syncbuf.Buffer{}
	logger := NewLogger(io.MultiWriter(logs, tWriter{t}), slog.LevelInfo, false)
	res, out, frozen, thawed := runDisrupted(t, srv, link.URL(streamKey), logger, stallAfter, stallFor, link.Freeze, func() error {
		link.Thaw()
		return nil
	})
	if strings.Contains(logs.String(), streamKey) || strings.Contains(out.buf.String(), streamKey) {
		t.Errorf("the stream key reached the logs or the printed lines")
	}
	if strings.Contains(logs.String(), "falling behind") {
		t.Errorf("the live composition fell behind while the stream stalled")
	}
	l, ok := out.firstAfter(frozen, "failed")
	if !ok || l.at.After(thawed) {
		t.Fatalf("the stall was not reported while the link was stalled")
	}
	t.Logf("stall reported %v after the freeze: %s", l.at.Sub(frozen).Round(time.Millisecond), strings.TrimSpace(l.text))
	c, ok := out.firstAfter(thawed, "connected")
	if !ok {
		t.Fatalf("the stream did not reconnect after the link moved again")
	}
	t.Logf("reconnected %v after the thaw", c.at.Sub(thawed).Round(time.Millisecond))
	if d := c.at.Sub(thawed); d > maxStalledReconnect {
		t.Errorf("reconnected %v after the thaw, want at most %v", d, maxStalledReconnect)
	}
	_, cm, _ := loadTrimmed(t, res.ManifestPath)
	if res.Composition > maxPostCall {
		t.Errorf("composition took %v after the call, want at most %v", res.Composition, maxPostCall)
	}
	checkSynthetic(t, res.Output, cm, 320, 180, []synthParticipant{{"Aditya", 0}, {"iPhone", 1}})
}

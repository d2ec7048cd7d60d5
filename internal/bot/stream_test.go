package bot

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/compose/hls"
	"github.com/roomtape/roomtape/internal/rtmptest"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Timings and tolerances of the streaming tests.
const (
	// streamDemo is the streaming demo's length: long enough for the live
	// HLS playlist to slide (its 6 segments of 2 s are 12 s of output)
	// while the call goes on.
	streamDemo = 24 * time.Second
	// maxStreamLatency is the target for a flash to come out of
	// the RTMP server: the live delay plus 2 s.
	maxStreamLatency = compose.DefaultDelay + 2*time.Second
	// hlsDurationTolerance: the VOD playlist's segment durations are
	// counted in video frames, the output's length ends with the audio
	// (AAC padding): a frame plus an AAC frame, as durationTolerance.
	hlsDurationTolerance = durationTolerance
	// pullerWait bounds how long the RTMP reader may take to see the end
	// of the stream after the bot returned.
	pullerWait = 10 * time.Second
	// flashJump is how much brighter (luma, 0-255) a region must get from
	// one frame to the next to count as a flash onset: the tints' luma
	// is 60-150, the white flash 235.
	flashJump = 60
	// pullStep subsamples the pulled pictures (every 4th pixel and line)
	// to keep a 24 s stream in a few MB.
	pullStep = 4
)

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

// TestStream streams a WHIP demo call live to a real RTMP server
// (nginx-rtmp) and as HLS, and checks what came out as the MP4 is checked
// (layout per window, markers, A/V), plus the flash-to-RTMP latency, the
// live HLS playlist while the call runs and the VOD playlist after it.
func TestStream(t *testing.T) {
	if testing.Short() {
		t.Skip("records and streams a 24 s session")
	}
	srv := rtmptest.Start(t)
	const w, h = 320, 180
	dir := t.TempDir()
	const id = "stream"
	hlsDir := HLSDir(filepath.Join(dir, id))

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
			}
		}
	}()

	_, res, out := runSmallDemo(t, "--demo-duration", streamDemo.String(), "--recordings-dir", dir, "--session-id", id,
		"--rtmp", srv.URL("call"), "--hls")
	close(stopWatch)
	<-watched
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
	m, err := manifest.Load(res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	cm, offset, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
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
	// session time it was sent at.
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
		start := videoStart(cm, r.id)
		prev := -1.0
		for _, f := range frames {
			if f.t < r.window.Start || f.t >= r.window.End {
				prev = -1
				continue
			}
			l := f.meanLuma(r.rect)
			if prev >= 0 && l-prev > flashJump {
				// The flash sent nearest to this frame's time.
				k := ((f.t - start) + testmedia.MarkerPeriod/2) / testmedia.MarkerPeriod
				sent := started.Add(offset + start + k*testmedia.MarkerPeriod)
				lat = append(lat, f.arrived.Sub(sent))
			}
			prev = l
		}
	}
	if len(lat) < 2*minSamePairs {
		t.Fatalf("only %d flashes read back from the RTMP server (%d frames), want at least %d", len(lat), len(frames), 2*minSamePairs)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("flash → RTMP latency over %d flashes: min %v, median %v, max %v (target %v)", len(lat), lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), maxStreamLatency)
	if med := lat[len(lat)/2]; med > maxStreamLatency {
		t.Errorf("median flash → RTMP latency %v, want at most %v", med, maxStreamLatency)
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
	t.Log("HLS (VOD playlist):")
	checkSynthetic(t, filepath.Join(hlsDir, compose.HLSVODPlaylist), cm, w, h, want)
}

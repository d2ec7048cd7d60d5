package bot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Tolerances of the output checks, each with its reason.
const (
	// testFPS is the output frame rate of the tests; one frame is the
	// unit of the timing tolerances (the "within one frame").
	testFPS   = 30
	testFrame = time.Second / testFPS
	// durationTolerance: the output is frame-quantised (one frame) and
	// the AAC encoder pads its last frame (1024 samples, 21 ms).
	durationTolerance = testFrame + 25*time.Millisecond
	// avTolerance: a flash shows in the first output frame at or after it
	// (up to one frame late), and a beep onset is located within
	// mediacheck.ToneHop.
	avTolerance = testFrame + mediacheck.ToneHop
	// syncSettle: the recorder maps RTP time to the session clock by
	// arrival time until the first RTCP sender reports come (a few
	// seconds), then by the reports; A/V pairs are checked from then on.
	// Before it, a loaded machine (the race detector) has shown a first
	// flash 91 ms after its beep.
	syncSettle = 2500 * time.Millisecond
	// gridTolerance bounds how far a flash may sit from its participant's
	// 2 s grid: a live synthetic publisher starved of CPU (the race
	// detector, a busy 2-core machine) sends a late or dropped frame now
	// and then, which moves a flash (and its beep, checked to one frame
	// by avTolerance) by a frame or two.
	gridTolerance = 3 * testFrame
	// windowEdge keeps colour probes away from layout changes (the layout
	// of output frame n is that of n/fps, ±1 frame) and from late frames
	// after a join (the first keyframe may take a moment).
	windowEdge = 400 * time.Millisecond
	// probeStep spaces the colour probes inside a window.
	probeStep = 300 * time.Millisecond
	// flashGuard keeps colour probes off the 100 ms white flashes (with a
	// frame of slack on each side).
	flashGuard = testmedia.FlashDuration + 2*testFrame
	// minTintSimilarity is the least cosine similarity between a tile's
	// mean colour and its participant's tint: the synthetic pattern is
	// dominated by one hue (gains 1 vs 0.25), which stays above 0.9 after
	// VP8 and H.264 coding, while the other tints score below 0.8.
	minTintSimilarity = 0.9
	// regionInset keeps measuring regions off the tile's borders
	// (letterbox bars, scaling blur): a quarter on each side.
	regionInset = 4
)

// tintPalette is testmedia.Tints as mediacheck colours.
func tintPalette() []mediacheck.RGB {
	p := make([]mediacheck.RGB, len(testmedia.Tints))
	for i, t := range testmedia.Tints {
		p[i] = mediacheck.RGB{R: t[0], G: t[1], B: t[2]}
	}
	return p
}

// region is where a participant's picture lands in a window, inset.
type region struct {
	window timeline.Window
	id     string // participant key
	rect   timeline.Rect
}

// regions returns one region per participant per window of m.
func regions(t *testing.T, m *manifest.Session, ws []timeline.Window, w, h int) []region {
	t.Helper()
	sizes := map[string][2]int{}
	for _, p := range m.Participants {
		if vt, ok := p.VideoTrack(); ok {
			sizes[p.Key()] = [2]int{vt.Width, vt.Height}
		}
	}
	var out []region
	for _, win := range ws {
		for j, tile := range win.Tiles(w, h) {
			id := win.Participants[j].ID
			sz := sizes[id]
			dst, _ := timeline.Place(tile, sz[0], sz[1], timeline.Letterbox)
			r := timeline.Rect{X: dst.X + dst.W/regionInset, Y: dst.Y + dst.H/regionInset, W: dst.W / 2, H: dst.H / 2}
			out = append(out, region{window: win, id: id, rect: r})
		}
	}
	return out
}

// videoStart is the session time of a participant's first video frame:
// its synthetic clock's zero, where it flashes.
func videoStart(m *manifest.Session, id string) time.Duration {
	for _, p := range m.Participants {
		if p.Key() == id {
			if vt, ok := p.VideoTrack(); ok {
				return vt.Start()
			}
		}
	}
	return 0
}

// inFlash reports whether session time at is near a flash of a synthetic
// participant whose clock started at start.
func inFlash(at, start time.Duration) bool {
	local := at - start
	if local < 0 {
		return false
	}
	ph := local % testmedia.MarkerPeriod
	return ph < flashGuard || ph > testmedia.MarkerPeriod-2*testFrame
}

// nearFlash reports whether at is within a flash found in the output
// (publishers whose clock is not their track's start flash off the
// track-start grid).
func nearFlash(at time.Duration, flashes []time.Duration) bool {
	for _, f := range flashes {
		if at > f-2*testFrame && at < f+flashGuard {
			return true
		}
	}
	return false
}

// within keeps the times in [from, to).
func within(ts []time.Duration, from, to time.Duration) []time.Duration {
	var out []time.Duration
	for _, x := range ts {
		if x >= from && x < to {
			out = append(out, x)
		}
	}
	return out
}

// synthParticipant is a synthetic participant expected in an output.
type synthParticipant struct {
	Name  string
	Index int // tint and tone index
}

// checkSynthetic checks the composed output of m for the synthetic
// participants: duration, the layout (each tile shows its participant's
// tint at probes inside every window) and flash/beep alignment within a
// frame. Participants not in want (a browser) are skipped here.
func checkSynthetic(t *testing.T, out string, m *manifest.Session, w, h int, want []synthParticipant) *mediacheck.Report {
	t.Helper()
	return checkSyntheticAV(t, out, m, w, h, want, avTolerance)
}

// checkSyntheticAV is checkSynthetic with flash/beep pairs allowed avTol
// apart.
func checkSyntheticAV(t *testing.T, out string, m *manifest.Session, w, h int, want []synthParticipant, avTol time.Duration) *mediacheck.Report {
	t.Helper()
	ws, err := m.Windows(timeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]synthParticipant{}
	for _, p := range m.Participants {
		for _, sp := range want {
			if p.Name == sp.Name {
				byID[p.Key()] = sp
			}
		}
	}
	if len(byID) != len(want) {
		t.Fatalf("manifest participants %+v, want %+v", m.Participants, want)
	}
	regs := regions(t, m, ws, w, h)
	rects := make([]timeline.Rect, len(regs))
	shown := map[string]bool{}
	for i, r := range regs {
		rects[i] = r.rect
		shown[r.id] = true
	}
	for id, sp := range byID {
		if !shown[id] {
			t.Errorf("%s is in no layout window: %+v", sp.Name, ws)
		}
	}
	var freqs []float64
	for _, sp := range want {
		freqs = append(freqs, testmedia.Freqs[sp.Index%len(testmedia.Freqs)])
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: rects, Freqs: freqs})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Video == nil || rep.Audio == nil {
		t.Fatalf("output %s: video %v, audio %v", out, rep.Video, rep.Audio)
	}
	if rep.Video.Width != w || rep.Video.Height != h {
		t.Errorf("output size %dx%d, want %dx%d", rep.Video.Width, rep.Video.Height, w, h)
	}
	if d := rep.Duration - m.End(); d > durationTolerance || d < -durationTolerance {
		t.Errorf("output duration %v, session %v (tolerance %v)", rep.Duration, m.End(), durationTolerance)
	}
	palette := tintPalette()
	allFlashes := map[string][]time.Duration{}
	// Flash/beep pairs found and markers sent in the checked spans, per
	// participant.
	pairs, sentPairs := map[string]int{}, map[string]int{}
	for i, r := range regs {
		sp, ok := byID[r.id]
		if !ok {
			continue
		}
		start := videoStart(m, r.id)
		probes := 0
		// Probe from the first video frame on: before it the tile is a
		// placeholder (the stream starts a moment after the join).
		first := max(r.window.Start, start) + windowEdge
		regionFlashes := rep.FlashOnsets(i)
		for at := first; at < r.window.End-windowEdge; at += probeStep {
			if inFlash(at, start) || nearFlash(at, regionFlashes) {
				continue
			}
			c, ok := rep.MeanAt(i, at)
			if !ok {
				t.Errorf("%s at %v: no frame", sp.Name, at)
				continue
			}
			probes++
			k, sim := mediacheck.Nearest(c, palette)
			if k != sp.Index%len(palette) || sim < minTintSimilarity {
				t.Errorf("%s tile %+v at %v: mean %v is tint %d (similarity %.3f), want tint %d", sp.Name, r.rect, at, c, k, sim, sp.Index)
			}
		}
		if probes == 0 {
			t.Errorf("%s: window [%v, %v) too short to probe", sp.Name, r.window.Start, r.window.End)
		}
		// A/V: the participant's flashes in its tile and its beeps, in
		// this window.
		from, to := max(first, start+syncSettle), r.window.End-windowEdge
		flashes := within(rep.FlashOnsets(i), from, to)
		beeps := within(rep.BeepOnsets(testmedia.Freqs[sp.Index%len(testmedia.Freqs)]), from, to)
		// Markers every MarkerPeriod: a span of d holds at least
		// floor(d / MarkerPeriod) of them, wherever it falls.
		wantPairs := int((to - from) / testmedia.MarkerPeriod)
		offs := mediacheck.Offsets(flashes, beeps, mediacheck.PairWindow)
		if wantPairs > 0 {
			var err error
			if offs, err = mediacheck.CheckAV(flashes, beeps, wantPairs, avTol); err != nil {
				t.Errorf("%s in [%v, %v): %v", sp.Name, from, to, err)
			}
		}
		pairs[sp.Name] += len(offs)
		sentPairs[sp.Name] += wantPairs
		allFlashes[sp.Name] = append(allFlashes[sp.Name], flashes...)
		t.Logf("%s window [%v, %v): %d probes, A/V pairs %d, max |A/V| %v", sp.Name, r.window.Start, r.window.End, probes, len(offs), mediacheck.MaxAbsAV(offs))
	}
	// Every synthetic participant (all send video and audio) was checked
	// for A/V sync somewhere, even if all its windows were short.
	for _, sp := range byID {
		if pairs[sp.Name] == 0 {
			t.Errorf("%s: no flash/beep pair in the output (%d markers expected in its checked spans)", sp.Name, sentPairs[sp.Name])
		}
	}
	// Each participant's flashes stay on one 2 s grid across layout
	// changes: the timeline does not drift or jump when its tile moves.
	for name, fs := range allFlashes {
		if len(fs) == 0 {
			continue
		}
		phases := make([]time.Duration, len(fs))
		for k, f := range fs {
			phases[k] = f % testmedia.MarkerPeriod
		}
		slices.Sort(phases)
		ref := phases[len(phases)/2]
		for _, f := range fs {
			d := (f - ref) % testmedia.MarkerPeriod
			if d > testmedia.MarkerPeriod/2 {
				d -= testmedia.MarkerPeriod
			} else if d < -testmedia.MarkerPeriod/2 {
				d += testmedia.MarkerPeriod
			}
			if d.Abs() > gridTolerance {
				t.Errorf("%s: flash at %v is %v off its 2 s grid (phase %v)", name, f, d, ref)
			}
		}
	}
	return rep
}

// testLogger logs to t (debug level when -v).
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

var _ io.Writer = tWriter{}

// runResult is what Run returned.
type runResult struct {
	res *Result
	err error
}

// runAsync runs the bot in a goroutine; its result comes on the channel.
func runAsync(ctx context.Context, cfg Config, opts Options) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		res, err := Run(ctx, cfg, opts)
		done <- runResult{res, err}
	}()
	return done
}

func mustWindows(t *testing.T, m *manifest.Session) []timeline.Window {
	t.Helper()
	ws, err := m.Windows(timeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// minSamePairs is how many flash and beep onsets a live/offline comparison
// must match per participant: the demo plans a marker every 2 s of each
// participant's presence, so even its shortest (the phone's) holds three.
const minSamePairs = 3

// sameColourTolerance is how far (Euclidean, 0-255 per channel) a tile's
// mean colour may differ between two encodings of the same composition:
// the encoder is deterministic for the same frames, so this only absorbs
// rounding; a placeholder instead of a picture differs by more than 50.
const sameColourTolerance = 6.0

func colourDistance(x, y mediacheck.RGB) float64 {
	return math.Sqrt((x.R-y.R)*(x.R-y.R) + (x.G-y.G)*(x.G-y.G) + (x.B-y.B)*(x.B-y.B))
}

// checkSameComposition compares two compositions of one session (live and
// offline): the same length, and every flash of every tile region and
// every beep of every participant at the same time, within one frame.
func checkSameComposition(t *testing.T, a, b *mediacheck.Report, fps, regions int, want []synthParticipant) {
	t.Helper()
	frame := time.Second / time.Duration(fps)
	if d := a.Duration - b.Duration; d > frame || d < -frame {
		t.Errorf("durations %v (live) and %v (offline) differ by more than a frame", a.Duration, b.Duration)
	}
	same := func(what string, x, y []time.Duration) int {
		if len(x) != len(y) {
			t.Errorf("%s: %d onsets live, %d offline: %v vs %v", what, len(x), len(y), x, y)
			return 0
		}
		for k := range x {
			if d := x[k] - y[k]; d > frame || d < -frame {
				t.Errorf("%s: onset %d at %v live, %v offline", what, k, x[k], y[k])
			}
		}
		return len(x)
	}
	// Every frame's tile colours alike: a live composition that showed a
	// picture late (or a placeholder instead) differs in some frames.
	if len(a.Frames) != len(b.Frames) {
		t.Errorf("%d frames live, %d offline", len(a.Frames), len(b.Frames))
	}
	differ := 0
	for k := range min(len(a.Frames), len(b.Frames)) {
		for i := range regions {
			if d := colourDistance(a.Frames[k].Means[i], b.Frames[k].Means[i]); d > sameColourTolerance {
				if differ < 5 {
					t.Errorf("frame %d at %v, region %d: %v live, %v offline", k, a.Frames[k].T, i, a.Frames[k].Means[i], b.Frames[k].Means[i])
				}
				differ++
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d frame regions differ between live and offline", differ)
	}
	flashes := 0
	for i := range regions {
		flashes += same(fmt.Sprintf("region %d flashes", i), a.FlashOnsets(i), b.FlashOnsets(i))
	}
	if flashes < minSamePairs*len(want) {
		t.Errorf("only %d flashes matched between live and offline, want at least %d", flashes, minSamePairs*len(want))
	}
	for _, sp := range want {
		f := testmedia.Freqs[sp.Index%len(testmedia.Freqs)]
		if n := same(sp.Name+" beeps", a.BeepOnsets(f), b.BeepOnsets(f)); n < minSamePairs {
			t.Errorf("%s: only %d beeps matched between live and offline, want at least %d", sp.Name, n, minSamePairs)
		}
	}
}

package compose_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Tolerances of the end-to-end checks.
const (
	// frameTolerance is one output frame at 30 fps: the bound for
	// layout timing, flash/beep alignment and markers at join + 2k s.
	frameTolerance = 34 * time.Millisecond
	// durationTolerance bounds the output's stream lengths against the
	// session's: one video frame, or one AAC frame (21.3 ms) plus the
	// encoder's priming that FFmpeg's edit list trims.
	durationTolerance = 50 * time.Millisecond
	// minTintSimilarity is the cosine similarity a tile's mean colour must
	// have with its participant's tint: test patterns tinted with distinct
	// gains score above 0.95 for their own tint and below 0.9 for the
	// nearest other one.
	minTintSimilarity = 0.93
	// maxBarLuma is the mean luma (0-255) a letterbox bar may have: black is
	// 0 (16 in limited range); the scaler's ringing at the picture's edge
	// bleeds a few levels into the bar's first pixels.
	maxBarLuma = 24.0
	// placeholderLuma bounds the mean luma of a placeholder tile's top
	// quarter (grey 0x26 = 38; the name is drawn lower, in the middle).
	placeholderLumaMin, placeholderLumaMax = 25.0, 55.0
	// maxFreeze is the longest a picture may stay unchanged: sources drop
	// at most one frame in a row (66 ms held) and a flash is 100 ms of
	// white; the prototype's VFR bug froze pictures for seconds.
	maxFreeze = 300 * time.Millisecond
	// edgeMargin is cut from each side of a measured rectangle so that
	// scaling blur at tile and picture edges does not leak in.
	edgeMargin = 6
	// testWidth and testHeight are a small output size: the checks are about
	// timing and placement, not resolution.
	testWidth, testHeight = 640, 360
)

var testConfig = compose.Config{Width: testWidth, Height: testHeight, Preset: "ultrafast", CRF: 30}

func shrink(r timeline.Rect, m int) timeline.Rect {
	if r.W <= 2*m || r.H <= 2*m {
		return r
	}
	return timeline.Rect{X: r.X + m, Y: r.Y + m, W: r.W - 2*m, H: r.H - 2*m}
}

// scenario composes parts and checks the output against the layout the
// timeline gives.
type scenario struct {
	parts []testmedia.Participant
	cfg   compose.Config
	opts  testmedia.Options
}

// region is a rectangle to measure with what it should show in a window.
type region struct {
	win    int
	part   int // participant index
	rect   timeline.Rect
	kind   string // "picture", "bar", "placeholder"
	from   time.Duration
	to     time.Duration
	flashy bool
}

func run(t *testing.T, sc scenario) (*manifest.Session, string) {
	t.Helper()
	dir := t.TempDir()
	s, _, err := testmedia.Make(context.Background(), dir, sc.parts, sc.opts)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp4")
	var last compose.Progress
	cfg := sc.cfg
	cfg.Progress = func(p compose.Progress) { last = p }
	start := time.Now()
	if err := compose.Session(context.Background(), s, out, cfg); err != nil {
		t.Fatal(err)
	}
	t.Logf("composed %v of session in %v", s.End(), time.Since(start))
	if last.Percent != 100 || last.Done != s.End() {
		t.Errorf("last progress = %+v, want 100%% of %v", last, s.End())
	}
	return s, out
}

func check(t *testing.T, sc scenario, s *manifest.Session, out string) {
	t.Helper()
	cfg := sc.cfg
	fps := cfg.FPS
	if fps == 0 {
		fps = compose.DefaultFPS
	}
	ws, err := s.Windows(timeline.Options{Layout: cfg.Layout, MaxTiles: cfg.MaxTiles, MinWindow: cfg.MinWindow})
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, p := range sc.parts {
		index[p.Name] = i
	}
	var regions []region
	for wi, w := range ws {
		for k, r := range w.Tiles(cfg.Width, cfg.Height) {
			pi := index[w.Participants[k].ID]
			p := sc.parts[pi]
			if p.Video == testmedia.NoVideo {
				top := timeline.Rect{X: r.X, Y: r.Y, W: r.W, H: r.H / 4}
				regions = append(regions, region{win: wi, part: pi, rect: shrink(top, edgeMargin), kind: "placeholder", from: w.Start, to: w.End})
				continue
			}
			// Split the window where the picture size changes.
			cuts := []time.Duration{w.Start, w.End}
			if p.ResizeAt > 0 && p.Join+p.ResizeAt > w.Start && p.Join+p.ResizeAt < w.End {
				cuts = []time.Duration{w.Start, p.Join + p.ResizeAt, w.End}
			}
			for c := 0; c+1 < len(cuts); c++ {
				sw, sh := p.Width, p.Height
				if sw == 0 {
					sw, sh = 320, 180
				}
				if p.ResizeAt > 0 && cuts[c] >= p.Join+p.ResizeAt {
					sw, sh = p.ResizeWidth, p.ResizeHeight
				}
				dst, _ := timeline.Place(r, sw, sh, cfg.Fit)
				regions = append(regions, region{win: wi, part: pi, rect: shrink(dst, edgeMargin), kind: "picture", from: cuts[c], to: min(cuts[c+1], p.Leave), flashy: true})
				if dst.W < r.W-2*edgeMargin { // pillarbox bars left and right
					regions = append(regions, region{win: wi, part: pi, rect: shrink(timeline.Rect{X: r.X, Y: r.Y, W: dst.X - r.X, H: r.H}, 2), kind: "bar", from: cuts[c], to: cuts[c+1]})
				}
				if dst.H < r.H-2*edgeMargin { // letterbox bars top and bottom
					regions = append(regions, region{win: wi, part: pi, rect: shrink(timeline.Rect{X: r.X, Y: r.Y, W: r.W, H: dst.Y - r.Y}, 2), kind: "bar", from: cuts[c], to: cuts[c+1]})
				}
			}
		}
	}
	rects := make([]timeline.Rect, len(regions))
	for i, r := range regions {
		rects[i] = r.rect
	}
	var freqs []float64
	for i := range sc.parts {
		freqs = append(freqs, testmedia.Freqs[i%8])
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: rects, Freqs: freqs})
	if err != nil {
		t.Fatal(err)
	}
	end := s.End()
	if rep.Video == nil || rep.Audio == nil {
		t.Fatalf("output lacks a stream: video %v audio %v", rep.Video, rep.Audio)
	}
	if rep.Video.Codec != "h264" || rep.Video.Width != cfg.Width || rep.Video.Height != cfg.Height || rep.Audio.Codec != "aac" || rep.Audio.SampleRate != 48000 || rep.Audio.Channels != 2 {
		t.Errorf("output streams: video %+v audio %+v", *rep.Video, *rep.Audio)
	}
	if d := rep.Video.End - end; d < -durationTolerance || d > durationTolerance {
		t.Errorf("video ends at %v, session at %v", rep.Video.End, end)
	}
	if d := rep.Audio.End - end; d < -durationTolerance || d > durationTolerance {
		t.Errorf("audio ends at %v, session at %v", rep.Audio.End, end)
	}
	if want := int(end.Seconds()*float64(fps) + 0.5); rep.Video.Frames != want {
		t.Errorf("%d video frames, want %d (constant %d fps)", rep.Video.Frames, want, fps)
	}
	for i, f := range rep.Frames {
		if want := time.Duration(i) * time.Second / time.Duration(fps); absDur(f.T-want) > time.Millisecond {
			t.Errorf("frame %d at %v, want %v (CFR)", i, f.T, want)
			break
		}
	}

	// Colours, inside each region's span, away from its edges.
	pal := testmedia.Palette()
	for ri, r := range regions {
		for _, at := range []time.Duration{r.from + (r.to-r.from)/3 + 150*time.Millisecond, r.from + 2*(r.to-r.from)/3 + 150*time.Millisecond} {
			if at >= r.to {
				continue
			}
			c, ok := rep.MeanAt(ri, at)
			if !ok {
				t.Errorf("no frame at %v", at)
				continue
			}
			name := sc.parts[r.part].Name
			switch r.kind {
			case "picture":
				if k, sim := mediacheck.Nearest(c, pal); k != r.part%8 || sim < minTintSimilarity {
					t.Errorf("%v: %s's picture %+v has colour %+v: nearest tint %d (similarity %.3f), want %d", at, name, r.rect, c, k, sim, r.part%8)
				}
			case "bar":
				if c.Luma() > maxBarLuma {
					t.Errorf("%v: bar beside %s's picture %+v is not black: %+v", at, name, r.rect, c)
				}
			case "placeholder":
				if l := c.Luma(); l < placeholderLumaMin || l > placeholderLumaMax {
					t.Errorf("%v: %s's placeholder %+v has colour %+v", at, name, r.rect, c)
				}
			}
		}
	}

	// No frozen pictures: the test pattern moves in every source frame, and
	// the VFR sources drop at most one frame in a row.
	for ri, r := range regions {
		if r.kind != "picture" {
			continue
		}
		for _, f := range rep.Freezes(ri, maxFreeze) {
			if s, e := max(f.Start, r.from), min(f.End, r.to); e-s >= maxFreeze {
				t.Errorf("%s's picture %+v frozen from %v to %v", sc.parts[r.part].Name, r.rect, s, e)
			}
		}
	}

	// Flashes inside each picture region at join + 2k s, beeps at the same
	// times, and each flash within a frame of its beep.
	for i, p := range sc.parts {
		beeps := rep.BeepOnsets(testmedia.Freqs[i%8])
		if p.Audio != testmedia.NoAudio {
			checkTimes(t, p.Name+" beeps", beeps, testmedia.FlashTimes(p, 0, end))
		}
		for ri, r := range regions {
			if r.part != i || !r.flashy {
				continue
			}
			var flashes []time.Duration
			for _, f := range rep.FlashOnsets(ri) {
				if f >= r.from && f < r.to {
					flashes = append(flashes, f)
				}
			}
			sent := testmedia.FlashTimes(p, r.from, r.to)
			checkTimes(t, p.Name+" flashes", flashes, sent)
			if p.Audio == testmedia.NoAudio {
				continue
			}
			// Every flash the plan put in the region has its beep.
			offs, err := mediacheck.CheckAV(flashes, beeps, len(sent), frameTolerance)
			if err != nil {
				t.Errorf("%s in [%v, %v), %d markers sent: %v", p.Name, r.from, r.to, len(sent), err)
			} else {
				t.Logf("%s [%v, %v): %d flash/beep pairs, max |A/V| %v", p.Name, r.from, r.to, len(offs), mediacheck.MaxAbsAV(offs))
			}
		}
	}
}

func checkTimes(t *testing.T, what string, got, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s at %v, want %v", what, got, want)
		return
	}
	for i := range got {
		if absDur(got[i]-want[i]) > frameTolerance {
			t.Errorf("%s at %v, want %v", what, got, want)
			return
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestSessionScenarios(t *testing.T) {
	cases := []struct {
		name string
		sc   scenario
	}{
		{"prototype-example-portrait", scenario{cfg: testConfig, parts: []testmedia.Participant{
			{Name: "Aditya", Leave: 14 * time.Second},
			{Name: "iPhone", Join: 6 * time.Second, Leave: 11 * time.Second, Width: 720, Height: 1280},
		}}},
		{"grid-four-joins-leaves", scenario{cfg: withLayout(testConfig, timeline.Grid), parts: []testmedia.Participant{
			{Name: "A", Leave: 10 * time.Second},
			{Name: "B", Join: 2 * time.Second, Leave: 10 * time.Second},
			{Name: "C", Join: 4 * time.Second, Leave: 8 * time.Second, Width: 180, Height: 320},
			{Name: "D", Join: 4 * time.Second, Leave: 10 * time.Second, Video: testmedia.NoVideo},
		}}},
		{"vp8-opus-mkv-offset-rejoin", scenario{cfg: testConfig, parts: []testmedia.Participant{
			{Name: "A", Leave: 12 * time.Second, Video: testmedia.VP8MKV, Audio: testmedia.OpusMKV, StartOffset: 5 * time.Second},
			{
				Name: "B", Join: 2 * time.Second, Leave: 12 * time.Second, Video: testmedia.VP8WebM, Audio: testmedia.OpusOgg,
				Presence: []manifest.Interval{{JoinS: 2, LeaveS: 5}, {JoinS: 8, LeaveS: 12}},
			},
		}}},
		{"resolution-change-vp9-webm", scenario{cfg: testConfig, parts: []testmedia.Participant{
			{Name: "A", Leave: 8 * time.Second, Video: testmedia.VP8MKV, ResizeAt: 4 * time.Second, ResizeWidth: 180, ResizeHeight: 320},
			{Name: "B", Join: 2 * time.Second, Leave: 8 * time.Second, Video: testmedia.VP9WebM, Audio: testmedia.OpusWebM},
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, out := run(t, tc.sc)
			check(t, tc.sc, s, out)
		})
	}
}

func withLayout(c compose.Config, l timeline.LayoutKind) compose.Config {
	c.Layout = l
	return c
}

// TestHoldLast checks that a stream that stops keeps its last frame for
// HoldLast, then shows the placeholder.
func TestHoldLast(t *testing.T) {
	dir := t.TempDir()
	parts := []testmedia.Participant{{Name: "A", Leave: 4 * time.Second, Audio: testmedia.NoAudio}}
	s, _, err := testmedia.Make(context.Background(), dir, parts, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Present until 8 s; the video stops at 4 s.
	s.Participants[0].LeaveTimeS = 8
	out := filepath.Join(dir, "out.mp4")
	cfg := testConfig
	cfg.HoldLast = 2 * time.Second
	if err := compose.Session(context.Background(), s, out, cfg); err != nil {
		t.Fatal(err)
	}
	pic, _ := timeline.Place(timeline.Rect{W: testWidth, H: testHeight}, 320, 180, timeline.Letterbox)
	top := timeline.Rect{X: edgeMargin, Y: edgeMargin, W: testWidth - 2*edgeMargin, H: testHeight/4 - 2*edgeMargin}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{shrink(pic, edgeMargin), top}})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{3 * time.Second, 5 * time.Second, 5900 * time.Millisecond} {
		c, _ := rep.MeanAt(0, at)
		if k, sim := mediacheck.Nearest(c, testmedia.Palette()); k != 0 || sim < minTintSimilarity {
			t.Errorf("%v: picture %+v, want A's tint held", at, c)
		}
	}
	// The held picture is a freeze from the last frame (about 4 s) to the
	// placeholder (6 s): the freeze detector sees it.
	found := false
	for _, f := range rep.Freezes(0, time.Second) {
		if absDur(f.Start-4*time.Second) < 200*time.Millisecond && absDur(f.End-6*time.Second) < 100*time.Millisecond {
			found = true
		}
	}
	if !found {
		t.Errorf("freezes %v lack the held last frame from 4 s to 6 s", rep.Freezes(0, time.Second))
	}
	for _, at := range []time.Duration{6200 * time.Millisecond, 7500 * time.Millisecond} {
		c, _ := rep.MeanAt(1, at)
		if l := c.Luma(); l < placeholderLumaMin || l > placeholderLumaMax {
			t.Errorf("%v: tile top %+v, want placeholder grey", at, c)
		}
	}
}

func TestSessionErrors(t *testing.T) {
	dir := t.TempDir()
	parts := []testmedia.Participant{{Name: "A", Leave: 2 * time.Second}, {Name: "B", Join: time.Second, Leave: 2 * time.Second}}
	good, _, err := testmedia.Make(context.Background(), dir, parts, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A prototype MP4 cut short (the bot was killed before writing its
	// index) cannot be read at all: a clear error, not a guess.
	truncated := filepath.Join(dir, "truncated.mp4")
	v, err := os.ReadFile(good.Participants[0].VideoPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, v[:len(v)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.mp4")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("not a video ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	clone := func(edit func(*manifest.Session)) *manifest.Session {
		s := *good
		s.Participants = append([]manifest.Participant(nil), good.Participants...)
		edit(&s)
		return &s
	}
	cases := []struct {
		name    string
		s       *manifest.Session
		cfg     compose.Config
		want    error
		mention []string
	}{
		{"missing-video", clone(func(s *manifest.Session) { s.Participants[1].VideoPath = filepath.Join(dir, "nope.mp4") }), testConfig, compose.ErrInput, []string{`"B"`, "nope.mp4"}},
		{"missing-audio", clone(func(s *manifest.Session) { s.Participants[0].AudioPath = filepath.Join(dir, "nope.wav") }), testConfig, compose.ErrInput, []string{`"A"`, "nope.wav"}},
		{"corrupt-video", clone(func(s *manifest.Session) { s.Participants[0].VideoPath = corrupt }), testConfig, compose.ErrInput, []string{`"A"`, "corrupt.mp4"}},
		{"truncated-mp4", clone(func(s *manifest.Session) { s.Participants[0].VideoPath = truncated }), testConfig, compose.ErrInput, []string{`"A"`, "truncated.mp4"}},
		{"no-participants", clone(func(s *manifest.Session) { s.Participants = nil }), testConfig, compose.ErrNoParticipants, nil},
		{"inverted-times", clone(func(s *manifest.Session) { s.Participants[1].JoinTimeS, s.Participants[1].LeaveTimeS = 2, 1 }), testConfig, manifest.ErrInvalid, nil},
		{"negative-time", clone(func(s *manifest.Session) { s.Participants[1].JoinTimeS = -1 }), testConfig, manifest.ErrInvalid, nil},
		{"odd-width", good, compose.Config{Width: 641, Height: 360}, compose.ErrConfig, []string{"641"}},
		{"bad-crf", good, compose.Config{CRF: 99}, compose.ErrConfig, []string{"CRF"}},
		{"bad-preset", good, compose.Config{Preset: "warp"}, compose.ErrConfig, []string{"warp"}},
		{"bad-fps", good, compose.Config{FPS: -1}, compose.ErrConfig, []string{"FPS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.mp4")
			err := compose.Session(context.Background(), tc.s, out, tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
			entries, _ := os.ReadDir(filepath.Dir(out))
			if len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

// TestTruncatedInput checks the documented degradation: a video file cut
// short (the bot was killed) is used as far as it decodes.
func TestTruncatedInput(t *testing.T) {
	dir := t.TempDir()
	parts := []testmedia.Participant{{Name: "A", Leave: 6 * time.Second, Video: testmedia.VP8MKV, TruncateVideo: 0.5}}
	s, _, err := testmedia.Make(context.Background(), dir, parts, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp4")
	if err := compose.Session(context.Background(), s, out, testConfig); err != nil {
		t.Fatal(err)
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{{X: 200, Y: 100, W: 240, H: 160}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Video.End - 6*time.Second; absDur(d) > durationTolerance {
		t.Errorf("video ends at %v, want 6 s", rep.Video.End)
	}
	c, _ := rep.MeanAt(0, time.Second+500*time.Millisecond)
	if k, sim := mediacheck.Nearest(c, testmedia.Palette()); k != 0 || sim < minTintSimilarity {
		t.Errorf("1.5 s: %+v, want A's picture from the part that decodes", c)
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	s, _, err := testmedia.Make(context.Background(), dir, []testmedia.Participant{{Name: "A", Leave: 3 * time.Second}}, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := testConfig
	cfg.Progress = func(p compose.Progress) {
		if p.Percent > 20 {
			cancel()
		}
	}
	out := filepath.Join(t.TempDir(), "out.mp4")
	if err := compose.Session(ctx, s, out, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestMain(m *testing.M) {
	// The error cases make FFmpeg log; keep test output readable.
	astiav.SetLogLevel(astiav.LogLevelFatal)
	os.Exit(m.Run())
}

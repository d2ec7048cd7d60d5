package compose_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
)

// Checks of TestCrossFade.
const (
	// crossFade is the fade tested: 15 frames at 30 fps.
	crossFade = 500 * time.Millisecond
	// fadeTolerance is how far a frame's measured mix (0 the old picture,
	// 1 the new, from the main area's mean colour) may be from the fade's
	// weight: the encoder's quantisation at CRF 30 and the tints' edges
	// in the mean.
	fadeTolerance = 0.12
	// minFadeFrames is the least number of fade frames checked.
	minFadeFrames = 12
)

// TestCrossFade composes a speaker switch from A to B (at 9 s, between
// two flashes) with Config.CrossFade: every frame of the fade shows the
// main area as a mix of A's picture before the switch and B's after, in
// the fade's proportion, and the frames around it are A's and B's alone.
func TestCrossFade(t *testing.T) {
	dir := t.TempDir()
	s, _, err := testmedia.Make(context.Background(), dir, talkPlan[:2], testmedia.Options{})
	require.NoError(t, err)
	m := hintLevels(t, s, t.TempDir(), map[int][]testmedia.Span{
		0: {{From: time.Second, To: 8 * time.Second}},
		1: {{From: 9 * time.Second, To: 14 * time.Second}},
	})
	cfg := testConfig
	cfg.Layout = timeline.Speaker
	cfg.CrossFade = crossFade
	turns, _, err := compose.SpeakerTurns(t.Context(), m, cfg)
	require.NoError(t, err)
	require.Len(t, turns, 2, "turns %v", turns)
	sw := turns[1].Start
	out := filepath.Join(dir, "fade.mp4")
	require.NoError(t, compose.Session(t.Context(), m, out, cfg))

	main := timeline.Tiles(timeline.Speaker, 2, testWidth, testHeight)[0]
	pic, _ := timeline.Place(main, 320, 180, timeline.Letterbox)
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{shrink(pic, edgeMargin)}})
	require.NoError(t, err)
	const fps = 30 // testConfig's default
	at := func(n int64) time.Duration { return time.Duration(n) * time.Second / fps }
	start := int64(math.Ceil(sw.Seconds() * fps)) // the first frame of the new window
	frames := int64(crossFade * fps / time.Second)
	before, ok := rep.MeanAt(0, at(start-1))
	require.True(t, ok)
	after, ok := rep.MeanAt(0, at(start+frames))
	require.True(t, ok)
	pal := testmedia.Palette()
	ka, sa := mediacheck.Nearest(before, pal)
	kb, sb := mediacheck.Nearest(after, pal)
	require.True(t, ka == 0 && sa >= minTintSimilarity, "before the fade the main area is %+v, want A's tint", before)
	require.True(t, kb == 1 && sb >= minTintSimilarity, "after the fade the main area is %+v, want B's tint", after)
	// mix projects a colour onto the line from before to after.
	d := mediacheck.RGB{R: after.R - before.R, G: after.G - before.G, B: after.B - before.B}
	dd := d.R*d.R + d.G*d.G + d.B*d.B
	require.Positive(t, dd)
	mix := func(c mediacheck.RGB) float64 {
		return ((c.R-before.R)*d.R + (c.G-before.G)*d.G + (c.B-before.B)*d.B) / dd
	}
	checked := 0
	for _, f := range rep.Frames {
		n := int64(math.Round(f.T.Seconds() * fps))
		if n < start || n >= start+frames {
			continue
		}
		want := float64(n-start+1) / float64(frames+1)
		got := mix(f.Means[0])
		if math.Abs(got-want) > fadeTolerance {
			t.Errorf("frame %d (%v), %d into the fade: mix %.2f, want %.2f", n, f.T, n-start, got, want)
		}
		checked++
	}
	require.GreaterOrEqual(t, checked, minFadeFrames, "fade frames checked")
	t.Logf("switch at %v: %d fade frames checked from frame %d", sw, checked, start)
}

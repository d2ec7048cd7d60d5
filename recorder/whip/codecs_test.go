package whip_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/recorder/whip"
	"github.com/roomtape/roomtape/timeline"
)

// Composition checks of TestComposeCodecs.
const (
	// composeW, composeH is the composed picture size.
	composeW, composeH = 640, 360
	// composedAVTolerance bounds a flash/beep offset in the composed
	// output: the recording's avTolerance plus one output frame period
	// (30 fps), by which the composed picture quantises a flash.
	composedAVTolerance = avTolerance + 34*time.Millisecond
	// placeholderMaxLevel bounds the mean of each channel in a corner of
	// the placeholder tile (compose draws it 0x262626 = 38, the name in
	// its middle); a participant's picture is far brighter in one channel.
	placeholderMaxLevel = 60
	// placeholderMaxSpread bounds the channels' spread there: a grey.
	placeholderMaxSpread = 8
)

// TestComposeCodecs records, over WHIP, an AV1 camera (SVT-AV1, decoded
// with dav1d) and an H.264 camera with B-frames (x264 Main, sent in decode
// order) beside a participant who only ever sends audio, then composes
// the session: each camera's tile shows its participant's tint and
// flashes in sync with its beeps (B-frames decoded in presentation order
// at their times), the audio-only participant gets a placeholder tile,
// and every tone is in the mix.
func TestComposeCodecs(t *testing.T) {
	type who struct {
		name, codec string
		index       int
	}
	people := []who{{"av1cam", synth.AV1, 1}, {"obs", synth.H264BFrames, 3}, {"voice", "", 2}}
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	var pubs []*synth.Publisher
	for _, w := range people {
		sp := synth.Participant{Name: w.name, Index: w.index, VideoCodec: w.codec}
		if w.codec == "" {
			sp.Audio = true
		}
		pubs = append(pubs, r.publish(t, sp))
	}
	time.Sleep(5 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	for _, pub := range pubs {
		require.NoError(t, pub.Close(ctx))
	}
	m := r.finish(t)

	byKey := map[string]who{}
	for _, w := range people {
		p := participantNamed(t, m, w.name)
		byKey[p.Key()] = w
		require.Len(t, tracksOf(p, "audio"), 1, w.name)
		if w.codec == "" {
			require.Empty(t, tracksOf(p, "video"), "the audio-only participant has no video track")
		} else {
			require.Len(t, tracksOf(p, "video"), 1, w.name)
		}
	}
	require.Equal(t, synth.AV1, tracksOf(participantNamed(t, m, "av1cam"), "video")[0].Codec)

	out := filepath.Join(t.TempDir(), "out.mp4")
	cfg := compose.Config{Width: composeW, Height: composeH, Preset: "ultrafast"}
	require.NoError(t, compose.Session(t.Context(), m, out, cfg))
	graphs, err := compose.Graphs(m, cfg)
	require.NoError(t, err)

	// Regions: per window, each camera's picture and a corner of the
	// placeholder.
	var regions []timeline.Rect
	type tile struct {
		win    timeline.Window
		region int
		who    who
	}
	var tiles []tile
	for _, g := range graphs {
		w := g.Window
		for i, rect := range w.Tiles(composeW, composeH) {
			wh, ok := byKey[w.Participants[i].ID]
			require.True(t, ok, "unknown participant %q in the layout", w.Participants[i].ID)
			tiles = append(tiles, tile{w, len(regions), wh})
			if wh.codec == "" {
				regions = append(regions, timeline.Rect{X: rect.X + 4, Y: rect.Y + 4, W: rect.W / 4, H: rect.H / 4})
				continue
			}
			dst, _ := timeline.Place(rect, synth.DefaultWidth, synth.DefaultHeight, cfg.Fit)
			regions = append(regions, timeline.Rect{X: dst.X + 8, Y: dst.Y + 8, W: dst.W - 16, H: dst.H - 16})
		}
	}
	var freqs []float64
	for _, w := range people {
		freqs = append(freqs, synth.Freq(w.index))
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: regions, Freqs: freqs})
	require.NoError(t, err)
	require.NotNil(t, rep.Video)
	require.NotNil(t, rep.Audio)

	checked := map[string]int{}
	for _, tl := range tiles {
		w := tl.win
		mid := w.Start + (w.End-w.Start)/2
		at := mid - mid%synth.MarkerPeriod + synth.MarkerPeriod/2 // between two flashes
		if at < w.Start || at >= w.End {
			at = mid
		}
		c, ok := rep.MeanAt(tl.region, at)
		require.True(t, ok, "no composed frame at %v", at)
		checked[tl.who.name]++
		if tl.who.codec == "" {
			lo, hi := min(c.R, c.G, c.B), max(c.R, c.G, c.B)
			t.Logf("placeholder at %v: %+v", at, c)
			require.LessOrEqual(t, hi, float64(placeholderMaxLevel), "placeholder tile at %v is %+v", at, c)
			require.LessOrEqual(t, hi-lo, float64(placeholderMaxSpread), "placeholder tile at %v is %+v", at, c)
			continue
		}
		i, _ := mediacheck.Nearest(c, testmedia.Palette())
		require.Equal(t, tl.who.index, i, "%s tile at %v is coloured %+v", tl.who.name, at, c)
		offsets := mediacheck.Offsets(rep.FlashOnsets(tl.region), rep.BeepOnsets(synth.Freq(tl.who.index)), mediacheck.PairWindow)
		t.Logf("%s: composed A/V offsets %+v", tl.who.name, offsets)
		require.GreaterOrEqual(t, len(offsets), markersSent(participantNamed(t, m, tl.who.name)), "flash/beep pairs of %s", tl.who.name)
		require.LessOrEqual(t, mediacheck.MaxAbsAV(offsets), composedAVTolerance, tl.who.name)
	}
	for _, w := range people {
		require.Positive(t, checked[w.name], "windows with %s's tile", w.name)
		require.GreaterOrEqual(t, len(rep.BeepOnsets(synth.Freq(w.index))), markersSent(participantNamed(t, m, w.name)), "beeps of %s in the mix", w.name)
	}
}

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

// Composition checks of TestComposeAV1AndAudioOnly.
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

// TestComposeAV1AndAudioOnly records, over WHIP, an AV1 camera (SVT-AV1,
// decoded with dav1d) beside a participant who only ever sends audio, then
// composes the session: the AV1 tile shows its participant's tint and
// flashes in sync with its beeps, the audio-only participant gets a
// placeholder tile, and both tones are in the mix.
func TestComposeAV1AndAudioOnly(t *testing.T) {
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	cam := r.publish(t, synth.Participant{Name: "cam", Index: 1, VideoCodec: synth.AV1})
	voice := r.publish(t, synth.Participant{Name: "voice", Index: 2, Audio: true})
	time.Sleep(5 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	require.NoError(t, voice.Close(ctx))
	require.NoError(t, cam.Close(ctx))
	m := r.finish(t)

	pc, pv := participantNamed(t, m, "cam"), participantNamed(t, m, "voice")
	require.Len(t, tracksOf(pc, "video"), 1)
	require.Equal(t, synth.AV1, tracksOf(pc, "video")[0].Codec)
	require.Empty(t, tracksOf(pv, "video"), "the audio-only participant has no video track")
	require.Len(t, tracksOf(pv, "audio"), 1)

	out := filepath.Join(t.TempDir(), "out.mp4")
	cfg := compose.Config{Width: composeW, Height: composeH, Preset: "ultrafast"}
	require.NoError(t, compose.Session(t.Context(), m, out, cfg))
	graphs, err := compose.Graphs(m, cfg)
	require.NoError(t, err)

	// Regions: per window, the AV1 picture and a corner of the
	// placeholder.
	var regions []timeline.Rect
	type tile struct {
		win    timeline.Window
		region int
		video  bool
	}
	var tiles []tile
	for _, g := range graphs {
		w := g.Window
		for i, rect := range w.Tiles(composeW, composeH) {
			switch w.Participants[i].ID {
			case pc.Key():
				dst, _ := timeline.Place(rect, synth.DefaultWidth, synth.DefaultHeight, cfg.Fit)
				tiles = append(tiles, tile{w, len(regions), true})
				regions = append(regions, timeline.Rect{X: dst.X + 8, Y: dst.Y + 8, W: dst.W - 16, H: dst.H - 16})
			case pv.Key():
				tiles = append(tiles, tile{w, len(regions), false})
				regions = append(regions, timeline.Rect{X: rect.X + 4, Y: rect.Y + 4, W: rect.W / 4, H: rect.H / 4})
			}
		}
	}
	camFreq, voiceFreq := synth.Freq(1), synth.Freq(2)
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: regions, Freqs: []float64{camFreq, voiceFreq}})
	require.NoError(t, err)
	require.NotNil(t, rep.Video)
	require.NotNil(t, rep.Audio)

	var camTiles, placeholders int
	var offsets []mediacheck.Offset
	for _, tl := range tiles {
		w := tl.win
		mid := w.Start + (w.End-w.Start)/2
		at := mid - mid%synth.MarkerPeriod + synth.MarkerPeriod/2 // between two flashes
		if at < w.Start || at >= w.End {
			at = mid
		}
		c, ok := rep.MeanAt(tl.region, at)
		require.True(t, ok, "no composed frame at %v", at)
		if tl.video {
			camTiles++
			i, _ := mediacheck.Nearest(c, testmedia.Palette())
			require.Equal(t, 1, i, "AV1 tile at %v is coloured %+v", at, c)
			offsets = append(offsets, mediacheck.Offsets(rep.FlashOnsets(tl.region), rep.BeepOnsets(camFreq), mediacheck.PairWindow)...)
			continue
		}
		placeholders++
		lo, hi := min(c.R, c.G, c.B), max(c.R, c.G, c.B)
		t.Logf("placeholder at %v: %+v", at, c)
		require.LessOrEqual(t, hi, float64(placeholderMaxLevel), "placeholder tile at %v is %+v", at, c)
		require.LessOrEqual(t, hi-lo, float64(placeholderMaxSpread), "placeholder tile at %v is %+v", at, c)
	}
	require.Positive(t, camTiles, "windows with the AV1 tile")
	require.Positive(t, placeholders, "windows with the placeholder")
	t.Logf("composed A/V offsets of the AV1 participant: %+v", offsets)
	require.GreaterOrEqual(t, len(offsets), 2, "flash/beep pairs of the AV1 participant")
	require.LessOrEqual(t, mediacheck.MaxAbsAV(offsets), composedAVTolerance)
	require.GreaterOrEqual(t, len(rep.BeepOnsets(voiceFreq)), 2, "beeps of the audio-only participant in the mix")
}

package compose_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
)

// minTextLumaGain is how much brighter (mean luma, 0-255) the middle of a
// placeholder with a drawn name must be than its empty top: a row of white
// glyphs over grey 0x26 raises a tight box around it by far more than
// encoder noise (about 1) does.
const minTextLumaGain = 8.0

// TestPlaceholderName checks that names are really drawn through FFmpeg's
// drawtext (the set-up builds FFmpeg with freetype, harfbuzz and
// fontconfig for it): the placeholder of a participant without video shows
// their name in its middle.
func TestPlaceholderName(t *testing.T) {
	if !compose.HasDrawtext() {
		t.Fatal("the linked FFmpeg has no drawtext filter; scripts/setup.sh builds it with --enable-libfreetype --enable-libharfbuzz --enable-libfontconfig")
	}
	dir := t.TempDir()
	parts := []testmedia.Participant{
		{Name: "A", Leave: 3 * time.Second, Audio: testmedia.NoAudio},
		{Name: "WWWWWWWW", Leave: 3 * time.Second, Video: testmedia.NoVideo, Audio: testmedia.NoAudio},
	}
	s, _, err := testmedia.Make(context.Background(), dir, parts, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp4")
	cfg := testConfig
	cfg.Labels = true
	if err := compose.Session(context.Background(), s, out, cfg); err != nil {
		t.Fatal(err)
	}
	tile := timeline.Tiles(timeline.Columns, 2, testWidth, testHeight)[1]
	top := timeline.Rect{X: tile.X, Y: tile.Y, W: tile.W, H: tile.H / 4}
	// The name is centred; a box a little smaller than the text of eight
	// wide letters at the placeholder's font size.
	middle := timeline.Rect{X: tile.X + tile.W/2 - 40, Y: tile.Y + tile.H/2 - 6, W: 80, H: 12}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{shrink(top, edgeMargin), middle}})
	if err != nil {
		t.Fatal(err)
	}
	at := 1500 * time.Millisecond
	bg, _ := rep.MeanAt(0, at)
	text, _ := rep.MeanAt(1, at)
	t.Logf("placeholder middle luma %.1f, empty top %.1f", text.Luma(), bg.Luma())
	if gain := text.Luma() - bg.Luma(); gain < minTextLumaGain {
		t.Errorf("placeholder middle luma %.1f vs empty top %.1f: the name is not drawn", text.Luma(), bg.Luma())
	}
}

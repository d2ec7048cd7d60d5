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

// TestAudioOnlySession composes a session in which nobody ever sent
// video: the MP4 shows both placeholders for the whole call with both
// voices mixed, and Config.AudioFile gets the same audio alone as M4A.
func TestAudioOnlySession(t *testing.T) {
	dir := t.TempDir()
	parts := []testmedia.Participant{
		{Name: "A", Leave: 8 * time.Second, Video: testmedia.NoVideo, Audio: testmedia.OpusMKV},
		{Name: "B", Join: time.Second, Leave: 8 * time.Second, Video: testmedia.NoVideo, Audio: testmedia.OpusMKV},
	}
	s, _, err := testmedia.Make(context.Background(), dir, parts, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, m4a := filepath.Join(dir, "out.mp4"), filepath.Join(dir, "out.m4a")
	cfg := testConfig
	cfg.AudioFile = m4a
	if err := compose.Session(context.Background(), s, out, cfg); err != nil {
		t.Fatal(err)
	}
	tiles := timeline.Tiles(timeline.Columns, 2, testWidth, testHeight)
	var regions []timeline.Rect
	for _, r := range tiles {
		regions = append(regions, shrink(timeline.Rect{X: r.X, Y: r.Y, W: r.W, H: r.H / 4}, edgeMargin))
	}
	freqs := []float64{testmedia.Freqs[0], testmedia.Freqs[1]}
	for _, f := range []string{out, m4a} {
		rep, err := mediacheck.Analyze(f, mediacheck.Options{Regions: regions, Freqs: freqs})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Audio == nil {
			t.Fatalf("%s: no audio", f)
		}
		for i, p := range parts {
			beeps := rep.BeepOnsets(freqs[i])
			if want := len(testmedia.FlashTimes(p, 0, s.End())); len(beeps) < want {
				t.Errorf("%s: %d beeps of %s, want %d", f, len(beeps), p.Name, want)
			}
		}
		if f == m4a {
			if rep.Video != nil {
				t.Errorf("%s has a video stream", f)
			}
			continue
		}
		if rep.Video == nil {
			t.Fatalf("%s: no video", f)
		}
		for _, at := range []time.Duration{2500 * time.Millisecond, 6500 * time.Millisecond} {
			for i := range regions {
				c, _ := rep.MeanAt(i, at)
				if l := c.Luma(); l < placeholderLumaMin || l > placeholderLumaMax {
					t.Errorf("%v: tile %d top %+v, want placeholder grey", at, i, c)
				}
			}
		}
	}
}

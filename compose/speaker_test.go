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

// switchTolerance is how far from a planned turn change the main area may
// switch after the call: the turn is placed at the previous speaker's end
// or the new speaker's onset (look-ahead), which the 60 ms smoothing and
// the beeps' hangover move by up to about 0.2 s, plus a frame.
const switchTolerance = 300 * time.Millisecond

// flashGuard skips probes within the white flashes (every 2 s for 100 ms,
// plus the encoder's smear).
const flashGuard = 150 * time.Millisecond

// talkPlan is three participants taking turns, with B speaking over A for
// less than MinSpeak and a long silence after C's turn; in the recorder's
// formats (VP8 and Opus in Matroska), which a live composition follows.
var talkPlan = []testmedia.Participant{
	{Name: "A", Leave: 24 * time.Second, Video: testmedia.VP8MKV, Audio: testmedia.OpusMKV, Talk: []testmedia.Span{{From: 1 * time.Second, To: 7 * time.Second}}},
	{Name: "B", Leave: 24 * time.Second, Video: testmedia.VP8MKV, Audio: testmedia.OpusMKV, Talk: []testmedia.Span{{From: 4 * time.Second, To: 4600 * time.Millisecond}, {From: 8 * time.Second, To: 14 * time.Second}}},
	{Name: "C", Leave: 24 * time.Second, Video: testmedia.VP8MKV, Audio: testmedia.OpusMKV, Talk: []testmedia.Span{{From: 15 * time.Second, To: 17 * time.Second}}},
}

// plannedMain is who should hold the main area at t: A from 1 s, B from 8
// s, C from 15 s to the end (silence keeps C), nobody before 1 s.
func plannedMain(t time.Duration) int {
	switch {
	case t < time.Second:
		return -1
	case t < 8*time.Second:
		return 0
	case t < 15*time.Second:
		return 1
	}
	return 2
}

func TestSpeakerLayouts(t *testing.T) {
	dir := t.TempDir()
	s, _, err := testmedia.Make(context.Background(), dir, talkPlan, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []timeline.LayoutKind{timeline.Speaker, timeline.SingleSpeaker} {
		t.Run(kind.String(), func(t *testing.T) {
			out := filepath.Join(dir, kind.String()+".mp4")
			cfg := testConfig
			cfg.Layout = kind
			if err := compose.Session(context.Background(), s, out, cfg); err != nil {
				t.Fatal(err)
			}
			checkMain(t, out, kind, s.End())
		})
	}
}

// TestScreenShareAndAuto composes a screen share (a "#screen" participant,
// as LiveKit's is recorded) in the Auto layout with a portrait camera: the
// share takes the main area while on, the Auto arrangement returns after,
// with each picture at its aspect.
func TestScreenShareAndAuto(t *testing.T) {
	dir := t.TempDir()
	parts := []testmedia.Participant{
		{Name: "A", Leave: 12 * time.Second},
		{Name: "P", Leave: 12 * time.Second, Width: 180, Height: 320},
		{Name: "A#screen", Join: 4 * time.Second, Leave: 8 * time.Second, Audio: testmedia.NoAudio},
	}
	s, _, err := testmedia.Make(context.Background(), dir, parts, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "auto.mp4")
	cfg := testConfig
	cfg.Layout = timeline.Auto
	if err := compose.Session(context.Background(), s, out, cfg); err != nil {
		t.Fatal(err)
	}
	// Auto with A (16:9) and P (9:16), and the share's main area.
	auto := timeline.AutoTiles([]float64{16.0 / 9, 9.0 / 16}, testWidth, testHeight)
	aPic, _ := timeline.Place(auto[0], 320, 180, timeline.Letterbox)
	pPic, _ := timeline.Place(auto[1], 180, 320, timeline.Letterbox)
	share := timeline.Tiles(timeline.Speaker, 3, testWidth, testHeight)[0]
	sharePic, _ := timeline.Place(share, 320, 180, timeline.Letterbox)
	// The top of A's picture: black bar in the grid (A letterboxed in a
	// half-width cell), A's picture only when its tile is as large as Auto
	// makes it.
	aEdge := timeline.Rect{X: aPic.X + edgeMargin, Y: aPic.Y + edgeMargin, W: aPic.W - 2*edgeMargin, H: 36}
	if gridPic, _ := timeline.Place(timeline.Tiles(timeline.Grid, 2, testWidth, testHeight)[0], 320, 180, timeline.Letterbox); aEdge.Y+aEdge.H > gridPic.Y {
		t.Fatalf("A's auto picture %v does not reach above the grid's %v", aPic, gridPic)
	}
	regions := []timeline.Rect{shrink(aPic, edgeMargin), shrink(pPic, edgeMargin), shrink(sharePic, edgeMargin), aEdge}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: regions})
	if err != nil {
		t.Fatal(err)
	}
	if f, g := timeline.PictureFraction(auto, []float64{16.0 / 9, 9.0 / 16}, testWidth, testHeight),
		timeline.PictureFraction(timeline.Tiles(timeline.Grid, 2, testWidth, testHeight), []float64{16.0 / 9, 9.0 / 16}, testWidth, testHeight); f <= g {
		t.Errorf("auto picture fraction %.3f not above grid's %.3f", f, g)
	} else {
		t.Logf("picture fraction: auto %.3f, grid %.3f", f, g)
	}
	pal := testmedia.Palette()
	probe := func(region, want int, at time.Duration) {
		t.Helper()
		c, ok := rep.MeanAt(region, at)
		if !ok {
			t.Fatalf("no frame at %v", at)
		}
		if k, sim := mediacheck.Nearest(c, pal); k != want || sim < minTintSimilarity {
			t.Errorf("%v: region %d shows %+v (nearest %d, similarity %.3f), want %s", at, region, c, k, sim, parts[want].Name)
		}
	}
	for _, at := range []time.Duration{time.Second, 3 * time.Second, 9 * time.Second, 11 * time.Second} {
		probe(0, 0, at+500*time.Millisecond)
		probe(1, 1, at+500*time.Millisecond)
		probe(3, 0, at+500*time.Millisecond)
	}
	for _, at := range []time.Duration{4500 * time.Millisecond, 5500 * time.Millisecond, 7500 * time.Millisecond} {
		probe(2, 2, at)
	}
}

// checkMain checks that the main area of out shows the planned speaker of
// talkPlan, within switchTolerance of each turn change, and switches twice.
func checkMain(t *testing.T, out string, kind timeline.LayoutKind, end time.Duration) {
	t.Helper()
	checkMainPlan(t, out, kind, end, plannedMain)
}

// checkMainPlan is checkMain with another plan of who holds the main area
// (an index in talkPlan, -1 for nobody), which must switch twice too.
func checkMainPlan(t *testing.T, out string, kind timeline.LayoutKind, end time.Duration, plannedMain func(time.Duration) int) {
	t.Helper()
	main := timeline.Tiles(kind, 3, testWidth, testHeight)[0]
	pic, _ := timeline.Place(main, 320, 180, timeline.Letterbox)
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{shrink(pic, edgeMargin)}})
	if err != nil {
		t.Fatal(err)
	}
	pal := testmedia.Palette()
	switches, probes, last := 0, 0, -1
	var at0 []time.Duration
	for at := 1500 * time.Millisecond; at < end-100*time.Millisecond; at += 100 * time.Millisecond {
		if at%testmedia.MarkerPeriod < flashGuard || at%testmedia.MarkerPeriod > testmedia.MarkerPeriod-flashGuard/3 {
			continue
		}
		c, ok := rep.MeanAt(0, at)
		if !ok {
			t.Fatalf("no frame at %v", at)
		}
		k, sim := mediacheck.Nearest(c, pal)
		if sim < minTintSimilarity {
			t.Errorf("%v: main area %+v is nobody's tint", at, c)
			continue
		}
		probes++
		if last >= 0 && k != last {
			switches++
			at0 = append(at0, at)
		}
		last = k
		want := plannedMain(at)
		near := plannedMain(at-switchTolerance) != want || plannedMain(at+switchTolerance) != want
		if k != want && !near {
			t.Errorf("%v: main area shows %s, want %s", at, talkPlan[k].Name, talkPlan[want].Name)
		}
	}
	if probes < 150 {
		t.Fatalf("only %d probes", probes)
	}
	if switches != 2 {
		t.Errorf("main area switched %d times, want 2", switches)
	}
	t.Logf("%s: %d probes, %d switches, first seen at %v (planned 8s, 15s; probes every 100 ms)", kind, probes, switches, at0)
}

package service_test

import (
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Tolerances of the output check, each with its reason (the bot tests'
// reasoning: internal/bot/check_test.go).
const (
	outFPS   = 30
	outFrame = time.Second / outFPS
	// durTolerance: a frame of quantisation plus the AAC encoder's last
	// frame (21 ms).
	durTolerance = outFrame + 25*time.Millisecond
	// avTol: a flash shows up to one frame late, a beep onset is located
	// within mediacheck.ToneHop.
	avTol = outFrame + mediacheck.ToneHop
	// settle: until the first RTCP sender reports (a few seconds) the
	// recorder maps RTP time by arrival; A/V is checked after it.
	settle = 2500 * time.Millisecond
	// edge keeps probes off layout changes and a join's first frames.
	edge = 400 * time.Millisecond
	// minTint: the synthetic pattern's hue stays above 0.9 cosine
	// similarity to its tint after coding; other tints score below 0.8.
	minTint = 0.9
)

// who is a synthetic participant expected in an output: its participant
// key in session.json and its tint/tone index.
type who struct {
	ID    string
	Index int
}

// checkOutput decodes out, the composition of m (trimmed as composed),
// and checks its size and length, each tile's tint and each participant's
// flash/beep pairs (a minimum count per window, in sync). It returns the
// report and, per participant, the flashes found.
func checkOutput(t *testing.T, out string, m *manifest.Session, w, h int, want []who) (*mediacheck.Report, map[string][]time.Duration) {
	t.Helper()
	ws, err := m.Windows(timeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for _, p := range want {
		index[p.ID] = p.Index
	}
	type probe struct {
		win    timeline.Window
		id     string
		tracks []span // the participant's video tracks
		// present are the participant's presence intervals: a resumed
		// recording's second track may start before its participant
		// rejoins, and between the parts the tile shows no picture.
		present []span
	}
	var probes []probe
	var rects []timeline.Rect
	for _, win := range ws {
		for k, tile := range win.Tiles(w, h) {
			id := win.Participants[k].ID
			var vw, vh int
			var tracks, present []span
			for _, p := range m.Participants {
				if p.Key() != id {
					continue
				}
				for _, iv := range p.Intervals() {
					present = append(present, span{iv.Join(), iv.Leave()})
				}
				for _, vt := range p.VideoTracks() {
					vw, vh = vt.Width, vt.Height
					end, ok := vt.End()
					if !ok {
						end = m.End()
					}
					tracks = append(tracks, span{vt.Start(), end})
				}
			}
			dst, _ := timeline.Place(tile, vw, vh, timeline.Letterbox)
			rects = append(rects, timeline.Rect{X: dst.X + dst.W/4, Y: dst.Y + dst.H/4, W: dst.W / 2, H: dst.H / 2})
			probes = append(probes, probe{win: win, id: id, tracks: tracks, present: present})
		}
	}
	var freqs []float64
	for _, p := range want {
		freqs = append(freqs, testmedia.Freqs[p.Index%len(testmedia.Freqs)])
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: rects, Freqs: freqs})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Video == nil || rep.Audio == nil {
		t.Fatalf("%s: video %v audio %v", out, rep.Video, rep.Audio)
	}
	if rep.Video.Width != w || rep.Video.Height != h {
		t.Errorf("output %dx%d, want %dx%d", rep.Video.Width, rep.Video.Height, w, h)
	}
	if d := rep.Duration - m.End(); d.Abs() > durTolerance {
		t.Errorf("output lasts %v, session %v (tolerance %v)", rep.Duration, m.End(), durTolerance)
	}
	palette := make([]mediacheck.RGB, len(testmedia.Tints))
	for i, c := range testmedia.Tints {
		palette[i] = mediacheck.RGB{R: c[0], G: c[1], B: c[2]}
	}
	flashes := map[string][]time.Duration{}
	pairs := map[string]int{}
	for i, pr := range probes {
		idx, ok := index[pr.id]
		if !ok {
			t.Errorf("unexpected participant %q on screen in [%v, %v)", pr.id, pr.win.Start, pr.win.End)
			continue
		}
		fl := rep.FlashOnsets(i)
		n := 0
		for _, tr := range pr.tracks {
			// The part of the window this track shows (a resumed
			// recording has one track per part).
			from, to := max(pr.win.Start, tr.start)+edge, min(pr.win.End, tr.end)-edge
			for at := from; at < to; at += 300 * time.Millisecond {
				if near(at, fl) || (at-tr.start)%testmedia.MarkerPeriod < testmedia.FlashDuration+2*outFrame || !inside(at, pr.present) {
					continue
				}
				c, ok := rep.MeanAt(i, at)
				if !ok {
					continue
				}
				n++
				if k, sim := mediacheck.Nearest(c, palette); k != idx%len(palette) || sim < minTint {
					t.Errorf("%s at %v: tint %d (similarity %.2f), want %d", pr.id, at, k, sim, idx)
				}
			}
			avFrom := max(from, tr.start+settle)
			f := within(fl, avFrom, to)
			b := within(rep.BeepOnsets(testmedia.Freqs[idx%len(testmedia.Freqs)]), avFrom, to)
			if wantPairs := int((to - avFrom) / testmedia.MarkerPeriod); wantPairs > 0 {
				offs, err := mediacheck.CheckAV(f, b, wantPairs, avTol)
				if err != nil {
					t.Errorf("%s in [%v, %v): %v", pr.id, avFrom, to, err)
				}
				pairs[pr.id] += len(offs)
			}
			flashes[pr.id] = append(flashes[pr.id], within(fl, from, to)...)
		}
		if n == 0 && pr.win.End-pr.win.Start > 2*time.Second {
			t.Errorf("%s: no frame probed in [%v, %v)", pr.id, pr.win.Start, pr.win.End)
		}
	}
	for _, p := range want {
		if pairs[p.ID] == 0 {
			t.Errorf("%s: no flash/beep pair in the output", p.ID)
		}
	}
	return rep, flashes
}

// span is a track's time on the session clock.
type span struct{ start, end time.Duration }

func near(at time.Duration, ts []time.Duration) bool {
	for _, x := range ts {
		if at > x-2*outFrame && at < x+testmedia.FlashDuration+2*outFrame {
			return true
		}
	}
	return false
}

func within(ts []time.Duration, from, to time.Duration) []time.Duration {
	var out []time.Duration
	for _, x := range ts {
		if x >= from && x < to {
			out = append(out, x)
		}
	}
	return out
}

// inside reports whether at lies in one of spans, edge away from its ends.
func inside(at time.Duration, spans []span) bool {
	for _, s := range spans {
		if at >= s.start+edge && at < s.end-edge {
			return true
		}
	}
	return false
}

package whip_test

import (
	"context"
	"fmt"
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
	"github.com/roomtape/roomtape/timeline/manifest"
	"github.com/roomtape/roomtape/timeline/speaker"
)

// Checks of TestSpeakerTurns.
const (
	// turnTolerance is how far from a planned turn change the main area
	// may switch: the switch is placed at the previous speaker's end or
	// the new one's onset (which the 60 ms level smoothing and the beeps'
	// hangover move by up to about 0.2 s), the participants' local clocks
	// start when each connection is up (up to a few tens of ms from the
	// join the recorder notes), plus one output frame.
	turnTolerance = 400 * time.Millisecond
	// turnFlashGuard skips probes within this of any participant's white
	// flash (100 ms every 2 s of its own clock) and the encoder's smear.
	turnFlashGuard = 150 * time.Millisecond
	// minTurnSimilarity is the least mediacheck.Nearest similarity of the
	// main area's mean colour to the speaker's tint.
	minTurnSimilarity = 0.93
)

// TestSpeakerTurns publishes three participants over WHIP who take turns
// talking (B speaks over A for less than MinSpeak, A's beep falls in B's
// first second, C's turn is followed by a long silence), records them, and composes the session in the speaker
// and single-speaker layouts: the main area shows the planned speaker
// within turnTolerance of each turn change and switches exactly twice
// (never more often than the 3 s hold).
func TestSpeakerTurns(t *testing.T) {
	people := turnPlan
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	var pubs []*synth.Publisher
	for _, w := range people {
		pubs = append(pubs, r.publish(t, synth.Participant{Name: w.name, Index: w.index, Talk: w.talk}))
	}
	m := finishTalk(t, r, pubs)
	require.Empty(t, m.Hints, "hints of publishers that send no audio levels")
	checkSpeakerTurns(t, m, people, timeline.Speaker, timeline.SingleSpeaker)
}

// TestSpeakerHints publishes the plan of TestSpeakerTurns with RFC 6464
// audio levels that follow it while the audio itself has no talk (only the
// beeps): the recorder negotiates the extension and records the levels in
// the session's hints file, the composition takes them instead of the
// audio (which alone gives no turn at all), and the main area follows the
// levels' plan as TestSpeakerTurns checks it.
func TestSpeakerHints(t *testing.T) {
	people := turnPlan
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	var pubs []*synth.Publisher
	for _, w := range people {
		pubs = append(pubs, r.publish(t, synth.Participant{Name: w.name, Index: w.index, AudioLevels: true, LevelTalk: w.talk}))
	}
	m := finishTalk(t, r, pubs)

	require.NotEmpty(t, m.Hints, "session.json names no hints file")
	h, err := manifest.LoadHints(m.Hints)
	require.NoError(t, err)
	for _, w := range people {
		p := participantNamed(t, m, w.name)
		ls := h.Levels[p.Key()]
		span := p.Intervals()[0].Leave() - p.Intervals()[0].Join()
		require.GreaterOrEqual(t, len(ls), int(float64(span/manifest.HintsStep)*minHintCoverage),
			"levels of %s over %v", w.name, span)
		loud := 0
		for _, l := range ls {
			if l.DBov < 30 {
				loud++
			}
		}
		// Talk (at testmedia.TalkAmplitude) is far louder than 30 dBov
		// below full scale; the beeps are 100 ms in every 2 s.
		require.Greater(t, loud, int(talkTime(w.talk)/manifest.HintsStep)/2, "loud levels of %s", w.name)
	}
	turns, src, err := compose.SpeakerTurns(t.Context(), m, compose.Config{})
	require.NoError(t, err)
	require.Equal(t, compose.SpeakersLevels, src, "where the turns come from")
	decoded, _, err := compose.SpeakerTurns(t.Context(), m, compose.Config{IgnoreHints: true})
	require.NoError(t, err)
	require.Empty(t, decoded, "turns from the audio, which has no talk")
	t.Logf("turns from the hints: %v", turns)
	checkSpeakerTurns(t, m, people, timeline.Speaker)
}

// minHintCoverage is the least share of a participant's presence that its
// level hints cover: one per 20 ms packet from the first audio packet
// (after the connection is up) to the last; the join is noted when ICE
// connects, a few tens of ms before media flows.
const minHintCoverage = 0.95

// turnPlan is the talk plan of the speaker tests: B speaks over A for
// less than MinSpeak, A's beep falls in B's first second, C's turn is
// followed by a long silence.
var turnPlan = []talker{
	{"ann", 0, []synth.Interval{{Start: secs(1), End: secs(6)}}},
	{"bo", 1, []synth.Interval{{Start: secs(3), End: secs(3.6)}, {Start: secs(7), End: secs(12)}}},
	{"cy", 2, []synth.Interval{{Start: secs(13), End: secs(15)}}},
}

// talker is a participant of the speaker tests and its talk plan.
type talker struct {
	name  string
	index int
	talk  []synth.Interval
}

func secs(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// talkTime is the length of a talk plan.
func talkTime(talk []synth.Interval) time.Duration {
	var d time.Duration
	for _, iv := range talk {
		d += iv.End - iv.Start
	}
	return d
}

// finishTalk lets the publishers run 20 s, closes them and the rig, and
// returns the session.
func finishTalk(t *testing.T, r *rig, pubs []*synth.Publisher) *manifest.Session {
	t.Helper()
	time.Sleep(20 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	for _, pub := range pubs {
		require.NoError(t, pub.Close(ctx))
	}
	return r.finish(t)
}

// checkSpeakerTurns composes m in each layout kind and checks that the
// main area shows the planned speaker within turnTolerance of each turn
// change (probing every 100 ms between flashes) and switches exactly twice
// (never more often than the 3 s hold).
func checkSpeakerTurns(t *testing.T, m *manifest.Session, people []talker, kinds ...timeline.LayoutKind) {
	t.Helper()
	// The plan on the output clock (0 is the first join): each talk span
	// moved by its participant's join.
	first := m.Participants[0].JoinTimeS
	for _, p := range m.Participants {
		first = min(first, p.JoinTimeS)
	}
	joins := map[int]time.Duration{}
	var flashes []time.Duration
	for _, w := range people {
		j := time.Duration((participantNamed(t, m, w.name).JoinTimeS - first) * float64(time.Second))
		joins[w.index] = j
		for f := j; f < m.End(); f += synth.MarkerPeriod {
			flashes = append(flashes, f)
		}
	}
	// planned is who holds the main area at t: ann's turn from her first
	// word, bo's from his second, cy's from hers to the end.
	turns := []struct {
		at  time.Duration
		who int
	}{{joins[0] + secs(1), 0}, {joins[1] + secs(7), 1}, {joins[2] + secs(13), 2}}
	planned := func(t time.Duration) int {
		k := -1
		for _, tr := range turns {
			if t >= tr.at {
				k = tr.who
			}
		}
		return k
	}
	nearFlash := func(t time.Duration) bool {
		for _, f := range flashes {
			if t >= f-turnFlashGuard/3 && t < f+turnFlashGuard {
				return true
			}
		}
		return false
	}

	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.mp4")
			cfg := compose.Config{Width: composeW, Height: composeH, Preset: "ultrafast", Layout: kind}
			require.NoError(t, compose.Session(t.Context(), m, out, cfg))
			main := timeline.Tiles(kind, len(people), composeW, composeH)[0]
			dst, _ := timeline.Place(main, synth.DefaultWidth, synth.DefaultHeight, timeline.Letterbox)
			region := timeline.Rect{X: dst.X + 8, Y: dst.Y + 8, W: dst.W - 16, H: dst.H - 16}
			rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{region}})
			require.NoError(t, err)
			pal := testmedia.Palette()
			probes, switches, last := 0, 0, -1
			var seen []string
			end := m.End() - time.Duration(first*float64(time.Second))
			for at := turns[0].at + turnTolerance; at < end-200*time.Millisecond; at += 100 * time.Millisecond {
				if nearFlash(at) {
					continue
				}
				c, ok := rep.MeanAt(0, at)
				require.True(t, ok, "no composed frame at %v", at)
				k, sim := mediacheck.Nearest(c, pal)
				require.GreaterOrEqual(t, sim, minTurnSimilarity, "main area at %v is %+v, nobody's tint", at, c)
				probes++
				if last >= 0 && k != last {
					switches++
					seen = append(seen, fmt.Sprintf("%s at %v", people[k].name, at))
				}
				last = k
				want := planned(at)
				if k != want && planned(at-turnTolerance) == want && planned(at+turnTolerance) == want {
					t.Errorf("%v: main area shows %s, want %s", at, people[k].name, people[want].name)
				}
			}
			require.GreaterOrEqual(t, probes, 100, "probes of the main area")
			require.Equal(t, 2, switches, "main area switches (seen: %v)", seen)
			t.Logf("%s: %d probes; planned turns %v; switches seen %v; hold %v", kind, probes, turns, seen, speaker.DefaultMinHold)
		})
	}
}

// TestScreenShare publishes a camera and, from a second WHIP client, a
// screen share announced with a=content:slides: the recorder records it as
// a screen track, and the composition (default columns layout) shows it in
// the main area while it is on, the camera in the strip, and the columns
// again after.
func TestScreenShare(t *testing.T) {
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	cam := r.publish(t, synth.Participant{Name: "ann", Index: 0})
	time.Sleep(3 * time.Second)
	deck := r.publish(t, synth.Participant{Name: "deck", Index: 3, Video: true, ScreenShare: true})
	time.Sleep(6 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	require.NoError(t, deck.Close(ctx))
	time.Sleep(4 * time.Second)
	require.NoError(t, cam.Close(ctx))
	m := r.finish(t)

	tracks := tracksOf(participantNamed(t, m, "deck"), "video")
	require.Len(t, tracks, 1)
	require.Equal(t, "screen", tracks[0].Source, "the announced screen track's source")

	out := filepath.Join(t.TempDir(), "out.mp4")
	cfg := compose.Config{Width: composeW, Height: composeH, Preset: "ultrafast"}
	require.NoError(t, compose.Session(t.Context(), m, out, cfg))
	graphs, err := compose.Graphs(m, cfg)
	require.NoError(t, err)
	var shareWin *timeline.Window
	for i, g := range graphs {
		if len(g.Window.Participants) > 0 && g.Window.Participants[0].ID == participantNamed(t, m, "deck").Key()+compose.ScreenSuffix {
			shareWin = &graphs[i].Window
		}
	}
	require.NotNil(t, shareWin, "a window with the screen share in the main area: %+v", graphs)
	require.Equal(t, timeline.Speaker, shareWin.Layout)

	main := shareWin.Tiles(composeW, composeH)[0]
	dst, _ := timeline.Place(main, synth.DefaultWidth, synth.DefaultHeight, timeline.Letterbox)
	full, _ := timeline.Place(timeline.Rect{W: composeW, H: composeH}, synth.DefaultWidth, synth.DefaultHeight, timeline.Letterbox)
	inset := func(r timeline.Rect) timeline.Rect {
		return timeline.Rect{X: r.X + 8, Y: r.Y + 8, W: r.W - 16, H: r.H - 16}
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: []timeline.Rect{inset(dst), inset(full)}})
	require.NoError(t, err)
	pal := testmedia.Palette()
	probe := func(region, want int, at time.Duration) {
		t.Helper()
		at = at - at%synth.MarkerPeriod + synth.MarkerPeriod/2 // between flashes (to within the joins' offsets)
		c, ok := rep.MeanAt(region, at)
		require.True(t, ok, "no composed frame at %v", at)
		k, sim := mediacheck.Nearest(c, pal)
		require.True(t, k == want && sim >= minTurnSimilarity, "region %d at %v is %+v, want tint %d", region, at, c, want)
	}
	mid := shareWin.Start + (shareWin.End-shareWin.Start)/2
	probe(0, 3, mid)                          // the share in the main area
	probe(1, 0, shareWin.Start-2*time.Second) // before: ann alone, full frame
	probe(1, 0, shareWin.End+2*time.Second)   // after: ann alone again
	t.Logf("share window %v-%v", shareWin.Start, shareWin.End)
}

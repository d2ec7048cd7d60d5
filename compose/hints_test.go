package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
	"github.com/roomtape/roomtape/timeline/speaker"
)

// hintTalk is a plan that disagrees with talkPlan's audio: C talks first,
// then A, then B (indexes in talkPlan).
var hintTalk = [][]testmedia.Span{
	0: {{From: 8 * time.Second, To: 14 * time.Second}},
	1: {{From: 15 * time.Second, To: 17 * time.Second}},
	2: {{From: 1 * time.Second, To: 7 * time.Second}},
}

// plannedHints is who holds the main area under hintTalk.
func plannedHints(t time.Duration) int {
	switch {
	case t < time.Second:
		return -1
	case t < 8*time.Second:
		return 2
	case t < 15*time.Second:
		return 0
	}
	return 1
}

// Levels of hintLevels: talk far above the quiet floor.
const (
	hintTalkDBov  = 20
	hintQuietDBov = 90
)

// hintLevels writes level hints for the participants of s listed in talk
// (by index, each over its presence) to a hints file in dir and returns a
// copy of s naming it.
func hintLevels(t *testing.T, s *manifest.Session, dir string, talk map[int][]testmedia.Span) *manifest.Session {
	t.Helper()
	path := filepath.Join(dir, manifest.HintsName)
	w, err := manifest.CreateHints(path)
	require.NoError(t, err)
	for i, spans := range talk {
		p := s.Participants[i]
		for at := p.Intervals()[0].Join(); at < p.Intervals()[0].Leave(); at += manifest.HintsStep {
			dbov := uint8(hintQuietDBov)
			for _, sp := range spans {
				if at >= sp.From && at < sp.To {
					dbov = hintTalkDBov
				}
			}
			w.Level(p.Key(), at, manifest.HintsStep, dbov)
		}
	}
	require.NoError(t, w.Close())
	out := s.Clone()
	out.Hints = path
	return out
}

// turnIDs is who holds each turn.
func turnIDs(turns []speaker.Interval) []string {
	var ids []string
	for _, iv := range turns {
		ids = append(ids, iv.ID)
	}
	return ids
}

// checkStarts checks that the turns start where the plan's turns do,
// within switchTolerance.
func checkStarts(t *testing.T, turns []speaker.Interval, starts ...time.Duration) {
	t.Helper()
	require.Len(t, turns, len(starts), "turns %v", turns)
	for i, iv := range turns {
		require.InDelta(t, starts[i].Seconds(), iv.Start.Seconds(), switchTolerance.Seconds(), "turn %d %v", i, iv)
	}
}

// TestSpeakerTurnsHints runs the speaker detection of a session whose
// audio follows talkPlan with hints that disagree: the hints win (levels
// for everyone, levels for one participant and the audio of the others,
// active-speaker updates), and without hints, with IgnoreHints or with a
// truncated or broken hints file the audio decides.
func TestSpeakerTurnsHints(t *testing.T) {
	dir := t.TempDir()
	s, _, err := testmedia.Make(context.Background(), dir, talkPlan, testmedia.Options{})
	require.NoError(t, err)
	key := func(i int) string { return s.Participants[i].Key() }
	ctx := t.Context()

	all := hintLevels(t, s, t.TempDir(), map[int][]testmedia.Span{0: hintTalk[0], 1: hintTalk[1], 2: hintTalk[2]})
	// A's levels say she never talks: B and C are decoded.
	silentA := hintLevels(t, s, t.TempDir(), map[int][]testmedia.Span{0: nil})
	updates := func() *manifest.Session {
		path := filepath.Join(t.TempDir(), manifest.HintsName)
		w, err := manifest.CreateHints(path)
		require.NoError(t, err)
		w.Speakers(time.Second, []string{key(2)})
		w.Speakers(7*time.Second, nil)
		w.Speakers(8*time.Second, []string{key(0), "nobody-we-know"})
		w.Speakers(14*time.Second, nil)
		w.Speakers(15*time.Second, []string{key(1)})
		w.Speakers(17*time.Second, nil)
		require.NoError(t, w.Close())
		out := s.Clone()
		out.Hints = path
		return out
	}()
	truncated := func() *manifest.Session {
		out := all.Clone()
		out.Hints = filepath.Join(t.TempDir(), manifest.HintsName)
		data, err := os.ReadFile(all.Hints)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(out.Hints, append(data, []byte(`{"k":"truncated","t":20}`+"\n")...), 0o644))
		return out
	}()
	broken := s.Clone()
	broken.Hints = filepath.Join(t.TempDir(), "missing.jsonl")

	audio := []string{key(0), key(1), key(2)}
	hinted := []string{key(2), key(0), key(1)}
	for _, tc := range []struct {
		name   string
		m      *manifest.Session
		ignore bool
		src    compose.SpeakerSource
		ids    []string
	}{
		{"no hints", s, false, compose.SpeakersDecoded, audio},
		{"levels", all, false, compose.SpeakersLevels, hinted},
		{"levels ignored", all, true, compose.SpeakersDecoded, audio},
		{"levels for one", silentA, false, compose.SpeakersLevels, []string{key(1), key(2)}},
		{"updates", updates, false, compose.SpeakersUpdates, hinted},
		{"truncated", truncated, false, compose.SpeakersDecoded, audio},
		{"unreadable", broken, false, compose.SpeakersDecoded, audio},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig
			cfg.IgnoreHints = tc.ignore
			turns, src, err := compose.SpeakerTurns(ctx, tc.m, cfg)
			require.NoError(t, err)
			require.Equal(t, tc.src, src)
			require.Equal(t, tc.ids, turnIDs(turns))
			switch len(tc.ids) {
			case 3:
				checkStarts(t, turns, time.Second, 8*time.Second, 15*time.Second)
			case 2:
				checkStarts(t, turns, 8*time.Second, 15*time.Second)
			}
			t.Logf("%s: %v from %s", tc.name, turns, src)
		})
	}
}

// TestSpeakerLayoutHints composes the session with level hints that
// disagree with its audio in the speaker layout: the main area follows the
// hints.
func TestSpeakerLayoutHints(t *testing.T) {
	dir := t.TempDir()
	s, _, err := testmedia.Make(context.Background(), dir, talkPlan, testmedia.Options{})
	require.NoError(t, err)
	m := hintLevels(t, s, t.TempDir(), map[int][]testmedia.Span{0: hintTalk[0], 1: hintTalk[1], 2: hintTalk[2]})
	out := filepath.Join(dir, "hints.mp4")
	cfg := testConfig
	cfg.Layout = timeline.Speaker
	require.NoError(t, compose.Session(t.Context(), m, out, cfg))
	checkMainPlan(t, out, timeline.Speaker, m.End(), plannedHints)
}

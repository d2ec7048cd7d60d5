package speaker_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// Levels of the synthetic talkers.
const (
	noiseDB  = -60.0
	speechDB = -20.0
	blockLen = 20 * time.Millisecond
)

// edgeTolerance is how far a detected speech edge may be from the planned
// one: the 60 ms smoothing delays the onset by about two blocks and the end
// by about six (the decay from speech to the off threshold), before the
// hangover.
const edgeTolerance = 150 * time.Millisecond

type talk struct{ from, to time.Duration }

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// levels makes a 20 ms level track of length end: noise, and speech in the
// given spans, with a 60 ms dip to the noise every 400 ms (pauses between
// words) when words is set.
func levels(id string, end time.Duration, words bool, spans ...talk) speaker.Track {
	t := speaker.Track{ID: id}
	for at := time.Duration(0); at < end; at += blockLen {
		db := noiseDB
		for _, s := range spans {
			if at >= s.from && at < s.to {
				db = speechDB
				if words && (at-s.from)%(400*time.Millisecond) >= 340*time.Millisecond {
					db = noiseDB
				}
			}
		}
		t.Levels = append(t.Levels, speaker.Level{At: at, DBFS: db})
	}
	return t
}

func near(a, b time.Duration, tol time.Duration) bool { return a-b <= tol && b-a <= tol }

func TestActivity(t *testing.T) {
	tests := []struct {
		name  string
		track speaker.Track
		want  []talk
	}{
		{"burst", levels("a", sec(10), false, talk{sec(2), sec(5)}), []talk{{sec(2), sec(5)}}},
		{"words bridged", levels("a", sec(10), true, talk{sec(1), sec(6)}), []talk{{sec(1), sec(5.94)}}},
		{"two bursts", levels("a", sec(10), false, talk{sec(1), sec(2)}, talk{sec(4), sec(6)}), []talk{{sec(1), sec(2)}, {sec(4), sec(6)}}},
		{"silence", levels("a", sec(10), false), nil},
		{"speech to the end", levels("a", sec(4), false, talk{sec(3), sec(4)}), []talk{{sec(3), sec(4)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := speaker.Activity(tt.track, sec(10), speaker.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i, w := range tt.want {
				if !near(got[i].Start, w.from, edgeTolerance) || !near(got[i].End, w.to, edgeTolerance) {
					t.Errorf("interval %d: got [%v, %v), want [%v, %v) ± %v", i, got[i].Start, got[i].End, w.from, w.to, edgeTolerance)
				}
				if got[i].ID != "a" {
					t.Errorf("interval %d: ID %q", i, got[i].ID)
				}
			}
		})
	}
}

func TestActivityNoiseFloor(t *testing.T) {
	// A noisy room at -35 dBFS (above MinLevel) is not speech; speech 15 dB
	// above it is.
	tr := speaker.Track{ID: "a"}
	for at := time.Duration(0); at < sec(10); at += blockLen {
		db := -35.0
		if at >= sec(4) && at < sec(6) {
			db = -15
		}
		tr.Levels = append(tr.Levels, speaker.Level{At: at, DBFS: db})
	}
	got, err := speaker.Activity(tr, sec(10), speaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !near(got[0].Start, sec(4), edgeTolerance) || !near(got[0].End, sec(6), edgeTolerance) {
		t.Fatalf("got %v, want one interval [4s, 6s)", got)
	}
}

func TestActivityGap(t *testing.T) {
	// Speech whose levels stop (the track ended) ends where they stop.
	tr := levels("a", sec(3), false, talk{sec(1), sec(3)})
	got, err := speaker.Activity(tr, sec(10), speaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !near(got[0].End, sec(3), blockLen) {
		t.Fatalf("got %v, want speech ending at 3s", got)
	}
}

type turn struct {
	id       string
	from, to time.Duration
}

func TestDetect(t *testing.T) {
	end := sec(30)
	offline := speaker.Config{Lookahead: speaker.Unbounded}
	live := speaker.Config{}
	tests := []struct {
		name   string
		tracks []speaker.Track
		cfg    speaker.Config
		want   []turn
	}{
		{
			"turns",
			[]speaker.Track{
				levels("a", end, true, talk{sec(0.5), sec(5)}, talk{sec(13), sec(20)}),
				levels("b", end, true, talk{sec(6), sec(12)}),
			},
			offline,
			[]turn{{"a", sec(0.5), sec(6)}, {"b", sec(6), sec(13)}, {"a", sec(13), end}},
		},
		{
			// Live, causal: the switch comes MinSpeak after the new
			// speaker started alone.
			"turns causal",
			[]speaker.Track{
				levels("a", end, true, talk{sec(0.5), sec(5)}),
				levels("b", end, true, talk{sec(6), sec(12)}),
			},
			live,
			[]turn{{"a", sec(1.5), sec(7)}, {"b", sec(7), end}},
		},
		{
			"cross-talk does not flip",
			[]speaker.Track{
				levels("a", end, true, talk{sec(0.5), sec(20)}),
				levels("b", end, true, talk{sec(3), sec(15)}),
			},
			offline,
			[]turn{{"a", sec(0.5), end}},
		},
		{
			"interjection shorter than MinSpeak",
			[]speaker.Track{
				levels("a", end, true, talk{sec(0.5), sec(8)}, talk{sec(10), sec(20)}),
				levels("b", end, true, talk{sec(8.5), sec(9.2)}),
			},
			offline,
			[]turn{{"a", sec(0.5), end}},
		},
		{
			"hold",
			[]speaker.Track{
				levels("a", end, true, talk{sec(0.5), sec(1.5)}),
				levels("b", end, true, talk{sec(1.6), sec(10)}),
			},
			offline,
			[]turn{{"a", sec(0.5), sec(3.5)}, {"b", sec(3.5), end}},
		},
		{
			"silence keeps the last speaker",
			[]speaker.Track{
				levels("a", end, true, talk{sec(2), sec(4)}),
				levels("b", end, true),
			},
			offline,
			[]turn{{"a", sec(2), end}},
		},
		{
			"cross-talk then the other goes on",
			[]speaker.Track{
				levels("a", end, true, talk{sec(0.5), sec(10)}),
				levels("b", end, true, talk{sec(8), sec(20)}),
			},
			offline,
			[]turn{{"a", sec(0.5), sec(10)}, {"b", sec(10), end}},
		},
		{
			// A's cough during B's first second delays the switch while
			// it lasts but does not restart B's count.
			"cough of the current speaker",
			[]speaker.Track{
				levels("a", end, false, talk{sec(0.5), sec(6)}, talk{sec(8), sec(8.06)}),
				levels("b", end, true, talk{sec(7), sec(14)}),
			},
			offline,
			[]turn{{"a", sec(0.5), sec(7)}, {"b", sec(7), end}},
		},
		{"nobody speaks", []speaker.Track{levels("a", end, true), levels("b", end, true)}, offline, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := speaker.Detect(tt.tracks, end, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.ID != w.id || !near(g.Start, w.from, 2*edgeTolerance) || !near(g.End, w.to, 2*edgeTolerance) {
					t.Errorf("turn %d: got %s [%v, %v), want %s [%v, %v)", i, g.ID, g.Start, g.End, w.id, w.from, w.to)
				}
			}
			checkTurns(t, got, end, speaker.DefaultMinHold)
		})
	}
}

// checkTurns checks the invariants Detect documents.
func checkTurns(t *testing.T, turns []speaker.Interval, end, hold time.Duration) {
	t.Helper()
	for i, iv := range turns {
		if iv.Start < 0 || iv.End > end || iv.End <= iv.Start {
			t.Fatalf("turn %d %v: outside [0, %v) or empty", i, iv, end)
		}
		if i > 0 {
			prev := turns[i-1]
			if iv.Start != prev.End {
				t.Fatalf("turn %d %v does not follow %v", i, iv, prev)
			}
			if iv.ID == prev.ID {
				t.Fatalf("turns %d and %d both %q", i-1, i, iv.ID)
			}
			if prev.End-prev.Start < hold {
				t.Fatalf("turn %d %v shorter than the hold %v", i-1, prev, hold)
			}
		}
	}
	if n := len(turns); n > 0 && turns[n-1].End != end {
		t.Fatalf("last turn %v does not reach the end %v", turns[n-1], end)
	}
}

func TestErrors(t *testing.T) {
	ok := levels("a", sec(1), false)
	tests := []struct {
		name   string
		tracks []speaker.Track
		end    time.Duration
		cfg    speaker.Config
		want   error
	}{
		{"block", []speaker.Track{ok}, sec(1), speaker.Config{Block: time.Microsecond}, speaker.ErrConfig},
		{"off above on", []speaker.Track{ok}, sec(1), speaker.Config{OnAbove: 5, OffAbove: 8}, speaker.ErrConfig},
		{"nan", []speaker.Track{ok}, sec(1), speaker.Config{MinLevel: math.NaN()}, speaker.ErrConfig},
		{"lookahead", []speaker.Track{ok}, sec(1), speaker.Config{Lookahead: -1}, speaker.ErrConfig},
		{"empty id", []speaker.Track{{}}, sec(1), speaker.Config{}, speaker.ErrLevels},
		{"duplicate id", []speaker.Track{ok, ok}, sec(1), speaker.Config{}, speaker.ErrLevels},
		{"order", []speaker.Track{{ID: "a", Levels: []speaker.Level{{At: 2}, {At: 1}}}}, sec(1), speaker.Config{}, speaker.ErrLevels},
		{"negative at", []speaker.Track{{ID: "a", Levels: []speaker.Level{{At: -1}}}}, sec(1), speaker.Config{}, speaker.ErrLevels},
		{"nan level", []speaker.Track{{ID: "a", Levels: []speaker.Level{{DBFS: math.NaN()}}}}, sec(1), speaker.Config{}, speaker.ErrLevels},
		{"negative end", []speaker.Track{ok}, -1, speaker.Config{}, speaker.ErrLevels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := speaker.Detect(tt.tracks, tt.end, tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestPrefixStable checks that with a finite Lookahead the turns before
// T - Lookahead do not depend on levels after T, as a live composer needs.
func TestPrefixStable(t *testing.T) {
	end := sec(40)
	tracks := []speaker.Track{
		levels("a", end, true, talk{sec(1), sec(7)}, talk{sec(20), sec(26)}),
		levels("b", end, true, talk{sec(8), sec(15)}, talk{sec(25), sec(33)}),
		levels("c", end, true, talk{sec(14), sec(19)}),
	}
	cfg := speaker.Config{Lookahead: 2 * time.Second}
	full, err := speaker.Detect(tracks, end, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) < 3 {
		t.Fatalf("only %d turns: %v", len(full), full)
	}
	for cut := sec(2); cut < end; cut += sec(1.3) {
		cut = cut.Truncate(blockLen)
		part, err := speaker.Detect(truncate(tracks, cut), cut, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := samePrefix(part, full, cut-cfg.Lookahead); err != nil {
			t.Fatalf("cut at %v: %v\npart %v\nfull %v", cut, err, part, full)
		}
	}
}

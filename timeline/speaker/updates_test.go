package speaker_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// updateCases are active-speaker updates (as LiveKit sends them) and the
// speech they give.
var updateCases = []struct {
	name   string
	ups    []speaker.Update
	end    time.Duration
	speech map[string][]speaker.Interval
}{
	{
		name: "turns with cross-talk and silence",
		ups: []speaker.Update{
			{At: sec(1), IDs: []string{"a"}},
			{At: sec(3), IDs: []string{"a", "b"}},
			{At: sec(3.5), IDs: []string{"a"}},
			{At: sec(6), IDs: nil},
			{At: sec(7), IDs: []string{"b"}},
			{At: sec(12), IDs: []string{}},
			{At: sec(13), IDs: []string{"c"}},
		},
		end: sec(20),
		speech: map[string][]speaker.Interval{
			"a": {{Start: sec(1), End: sec(6), ID: "a"}},
			"b": {{Start: sec(3), End: sec(3.5), ID: "b"}, {Start: sec(7), End: sec(12), ID: "b"}},
			"c": {{Start: sec(13), End: sec(20), ID: "c"}},
		},
	},
	{
		name:   "updates after the end",
		ups:    []speaker.Update{{At: sec(1), IDs: []string{"a"}}, {At: sec(5), IDs: []string{"b"}}},
		end:    sec(4),
		speech: map[string][]speaker.Interval{"a": {{Start: sec(1), End: sec(4), ID: "a"}}},
	},
	{
		name:   "repeated lists",
		ups:    []speaker.Update{{At: 0, IDs: []string{"a"}}, {At: sec(1), IDs: []string{"a"}}, {At: sec(2), IDs: []string{"a"}}},
		end:    sec(3),
		speech: map[string][]speaker.Interval{"a": {{Start: 0, End: sec(3), ID: "a"}}},
	},
}

func TestFromUpdates(t *testing.T) {
	for _, tc := range updateCases {
		t.Run(tc.name, func(t *testing.T) {
			tracks, err := speaker.FromUpdates(tc.ups, tc.end)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]speaker.Interval{}
			for _, tr := range tracks {
				got[tr.ID] = tr.Speech
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.speech) {
				t.Fatalf("speech %v\nwant   %v", got, tc.speech)
			}
		})
	}
}

// TestDetectSpeech runs the first update case through Detect: the same
// stability rules as levels give (b's half second of cross-talk does not
// take the main area; silence keeps the last speaker).
func TestDetectSpeech(t *testing.T) {
	tc := updateCases[0]
	tracks, err := speaker.FromUpdates(tc.ups, tc.end)
	if err != nil {
		t.Fatal(err)
	}
	turns, err := speaker.Detect(tracks, tc.end, speaker.Config{Lookahead: speaker.Unbounded})
	if err != nil {
		t.Fatal(err)
	}
	want := []speaker.Interval{{Start: sec(1), End: sec(7), ID: "a"}, {Start: sec(7), End: sec(13), ID: "b"}, {Start: sec(13), End: sec(20), ID: "c"}}
	if fmt.Sprint(turns) != fmt.Sprint(want) {
		t.Fatalf("turns %v\nwant  %v", turns, want)
	}
	// Activity gives the speech back as it is.
	act, err := speaker.Activity(tracks[1], tc.end, speaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(act) != fmt.Sprint(tc.speech["b"]) {
		t.Fatalf("activity %v, want %v", act, tc.speech["b"])
	}
}

func TestFromUpdatesErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ups  []speaker.Update
		end  time.Duration
	}{
		{"decreasing", []speaker.Update{{At: sec(2)}, {At: sec(1)}}, sec(3)},
		{"negative", []speaker.Update{{At: -1}}, sec(3)},
		{"empty id", []speaker.Update{{At: 0, IDs: []string{""}}}, sec(3)},
		{"negative end", nil, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := speaker.FromUpdates(tc.ups, tc.end); !errors.Is(err, speaker.ErrLevels) {
				t.Fatalf("error %v, want ErrLevels", err)
			}
		})
	}
	bad := []speaker.Track{{ID: "a", Speech: []speaker.Interval{{Start: sec(2), End: sec(3)}, {Start: sec(1), End: sec(4)}}}}
	if _, err := speaker.Detect(bad, sec(5), speaker.Config{}); !errors.Is(err, speaker.ErrLevels) {
		t.Fatalf("overlapping speech: error %v, want ErrLevels", err)
	}
}

// fuzzUpdates decodes updates from data: each byte is a time step (low 5
// bits, in 100 ms) and who speaks (high 3 bits: a, b, c).
func fuzzUpdates(data []byte) ([]speaker.Update, time.Duration) {
	var ups []speaker.Update
	var at time.Duration
	for _, b := range data {
		at += time.Duration(b&31) * 100 * time.Millisecond
		u := speaker.Update{At: at}
		for i, id := range []string{"a", "b", "c"} {
			if b&(0x20<<i) != 0 {
				u.IDs = append(u.IDs, id)
			}
		}
		ups = append(ups, u)
	}
	return ups, at + time.Second
}

// FuzzFromUpdates checks that the speech FromUpdates gives is ordered,
// non-overlapping, within [0, end), and matches the updates (a participant
// speaks just after an update iff it lists them), and that Detect's turns
// over it keep the stability invariants, incremental or not.
func FuzzFromUpdates(f *testing.F) {
	for _, tc := range updateCases {
		var b []byte
		var prev time.Duration
		for _, u := range tc.ups {
			step := byte(min((u.At-prev)/(100*time.Millisecond), 31))
			prev = u.At
			for _, id := range u.IDs {
				step |= 0x20 << (id[0] - 'a')
			}
			b = append(b, step)
		}
		f.Add(b, uint16(3000))
	}
	f.Fuzz(func(t *testing.T, data []byte, holdMS uint16) {
		ups, end := fuzzUpdates(data)
		tracks, err := speaker.FromUpdates(ups, end)
		if err != nil {
			t.Fatal(err)
		}
		speaking := func(id string, at time.Duration) bool {
			for _, tr := range tracks {
				if tr.ID != id {
					continue
				}
				for _, iv := range tr.Speech {
					if at >= iv.Start && at < iv.End {
						return true
					}
				}
			}
			return false
		}
		for _, tr := range tracks {
			for i, iv := range tr.Speech {
				if iv.End <= iv.Start || iv.Start < 0 || iv.End > end || (i > 0 && iv.Start <= tr.Speech[i-1].End) {
					t.Fatalf("speech %d %v of %q: empty, outside [0, %v), overlapping or touching the previous", i, iv, tr.ID, end)
				}
			}
		}
		for k, u := range ups {
			if k+1 < len(ups) && ups[k+1].At == u.At {
				continue // superseded at once
			}
			for _, id := range []string{"a", "b", "c"} {
				if got, want := speaking(id, u.At), slices.Contains(u.IDs, id); got != want {
					t.Fatalf("update %d at %v: %s speaking %v, listed %v", k, u.At, id, got, want)
				}
			}
		}
		hold := time.Duration(holdMS%8000) * time.Millisecond
		cfg := speaker.Config{MinHold: hold, Lookahead: speaker.Unbounded}
		if hold == 0 {
			cfg.MinHold = -1
		}
		turns, err := speaker.Detect(tracks, end, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkTurns(t, turns, end, hold)
		cfg.Lookahead = 0
		causal, err := speaker.Detect(tracks, end, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkTurns(t, causal, end, hold)
		checkIncremental(t, tracks, end, cfg, data)
	})
}

package compose

import (
	"errors"
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline"
)

func TestSpeakerSwitch(t *testing.T) {
	win := func(kind timeline.LayoutKind, ids ...string) *timeline.Window {
		w := &timeline.Window{Layout: kind}
		for _, id := range ids {
			w.Participants = append(w.Participants, timeline.Participant{ID: id})
		}
		return w
	}
	for _, tc := range []struct {
		name       string
		prev, next *timeline.Window
		want       bool
	}{
		{"speaker switch", win(timeline.Speaker, "a", "b", "c"), win(timeline.Speaker, "b", "a", "c"), true},
		{"single-speaker switch", win(timeline.SingleSpeaker, "a", "b"), win(timeline.SingleSpeaker, "b", "a"), true},
		{"same speaker", win(timeline.Speaker, "a", "b"), win(timeline.Speaker, "a", "b"), false},
		{"a join", win(timeline.Speaker, "a", "b"), win(timeline.Speaker, "b", "a", "c"), false},
		{"someone else", win(timeline.Speaker, "a", "b"), win(timeline.Speaker, "c", "a"), false},
		{"layout change", win(timeline.Columns, "a", "b"), win(timeline.Speaker, "b", "a"), false},
		{"grid", win(timeline.Grid, "a", "b"), win(timeline.Grid, "b", "a"), false},
		{"first window", nil, win(timeline.Speaker, "a"), false},
		{"empty", win(timeline.Speaker), win(timeline.Speaker, "a"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := speakerSwitch(tc.prev, tc.next); got != tc.want {
				t.Fatalf("speakerSwitch = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzFade checks the fade's arithmetic: the weight rises from above 0 to
// 256 over the fade and is 256 outside it; a blend lies between its two
// pictures, is the new one at weight 256 and the old one at 0.
func FuzzFade(f *testing.F) {
	f.Add(int64(5), int64(3), int64(9), []byte{0, 255, 128, 7}, []byte{255, 0, 128, 9}, 100)
	f.Add(int64(0), int64(0), int64(0), []byte{}, []byte{1}, 300)
	f.Fuzz(func(t *testing.T, n, start, frames int64, to, from []byte, w int) {
		frames %= 1 << 20
		start %= 1 << 40
		n %= 1 << 40
		wt, ok := fadeWeight(n, start, frames)
		if wt < 0 || wt > 256 || (!ok && wt != 256) || (ok && wt == 0) {
			t.Fatalf("weight %d (%v) at %d of a fade %d+%d", wt, ok, n, start, frames)
		}
		if ok && n > start {
			if prev, _ := fadeWeight(n-1, start, frames); prev > wt {
				t.Fatalf("weight fell from %d to %d at %d", prev, wt, n)
			}
		}
		got := append([]byte(nil), to...)
		blend(got, from, w)
		for i := range got {
			if i >= len(from) {
				if got[i] != to[i] {
					t.Fatalf("byte %d beyond from changed", i)
				}
				continue
			}
			lo, hi := min(to[i], from[i]), max(to[i], from[i])
			if got[i] < lo || got[i] > hi {
				t.Fatalf("byte %d: %d not between %d and %d", i, got[i], lo, hi)
			}
			if (w >= 256 && got[i] != to[i]) || (w <= 0 && got[i] != from[i]) {
				t.Fatalf("byte %d at weight %d: %d (to %d, from %d)", i, w, got[i], to[i], from[i])
			}
		}
	})
}

func TestCrossFadeConfig(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, MaxCrossFade + time.Millisecond} {
		if _, err := (Config{CrossFade: d}).withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("CrossFade %v: error %v, want ErrConfig", d, err)
		}
	}
	if _, err := (Config{CrossFade: MaxCrossFade}).withDefaults(); err != nil {
		t.Errorf("CrossFade %v: %v", MaxCrossFade, err)
	}
}

package mediacheck

import (
	"errors"
	"math"
	"testing"
	"time"
)

// onsetTolerance is how far BeepOnsets may put a tone's start: half a
// ToneHop from the window grid, plus up to 3 ms of shift from the leakage of
// a tone starting at the same instant into the partly filled windows.
const onsetTolerance = ToneHop/2 + 4*time.Millisecond

func tone(pcm []float32, f, amp float64, from, to time.Duration) {
	for i := int(from * sampleRate / time.Second); i < int(to*sampleRate/time.Second) && i < len(pcm); i++ {
		pcm[i] += float32(amp * math.Sin(2*math.Pi*f*float64(i)/sampleRate))
	}
}

func TestGoertzel(t *testing.T) {
	pcm := make([]float32, 480)
	tone(pcm, 500, 0.5, 0, ToneWindow)
	if g := goertzel(pcm, 500); math.Abs(g-0.5) > 0.01 {
		t.Errorf("500 Hz amplitude %v, want 0.5", g)
	}
	if g := goertzel(pcm, 800); g > 0.01 {
		t.Errorf("800 Hz leakage %v in a steady 500 Hz tone", g)
	}
}

func TestBeepOnsets(t *testing.T) {
	pcm := make([]float32, 5*sampleRate)
	var want []time.Duration
	for _, at := range []time.Duration{500 * time.Millisecond, 2503 * time.Millisecond, 4500 * time.Millisecond} {
		tone(pcm, 1100, 0.3, at, at+50*time.Millisecond)
		want = append(want, at)
	}
	// Other tones at the same and other instants must not count.
	tone(pcm, 800, 0.5, 500*time.Millisecond, 550*time.Millisecond)
	tone(pcm, 1400, 0.5, 1500*time.Millisecond, 1550*time.Millisecond)
	r := &Report{freqs: []float64{1100}, levels: toneLevels(pcm, []float64{1100})}
	got := r.BeepOnsets(1100)
	if len(got) != len(want) {
		t.Fatalf("onsets %v, want %v", got, want)
	}
	for i := range got {
		if d := got[i] - want[i]; d < -onsetTolerance || d > onsetTolerance {
			t.Errorf("onset %d at %v, want %v", i, got[i], want[i])
		}
	}
	if r.BeepOnsets(999) != nil {
		t.Error("onsets for a frequency that was not analysed")
	}
}

func TestFreezesAndFlashes(t *testing.T) {
	var r Report
	for k := range 60 { // 2 s at 30 fps
		f := Frame{T: time.Duration(k) * time.Second / 30, Means: []RGB{{R: 80, G: 20, B: 20}}, Motion: []float64{3}}
		if k >= 15 && k < 45 { // frozen for 1 s
			f.Motion[0] = 0
		}
		if k >= 30 && k < 33 { // a 100 ms flash at 1 s
			f.Means[0] = RGB{R: 255, G: 255, B: 255}
		}
		r.Frames = append(r.Frames, f)
	}
	fz := r.Freezes(0, 500*time.Millisecond)
	if len(fz) != 1 || fz[0].Start != r.Frames[14].T || fz[0].End != r.Frames[45].T {
		t.Errorf("freezes %v, want one from frame 14 to 45", fz)
	}
	if fl := r.FlashOnsets(0); len(fl) != 1 || fl[0] != time.Second {
		t.Errorf("flash onsets %v, want [1s]", fl)
	}
	if r.FlashOnsets(3) != nil || r.Freezes(3, 0) != nil {
		t.Error("results for a region that does not exist")
	}
}

func TestCheckAV(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	cases := []struct {
		name           string
		flashes, beeps []time.Duration
		minPairs       int
		maxAV          time.Duration
		wantPairs      int
		wantErr        error
	}{
		{"all paired", []time.Duration{2 * s, 4 * s}, []time.Duration{2*s + 5*ms, 4*s - 5*ms}, 2, 10 * ms, 2, nil},
		{"empty fails", nil, nil, 0, 10 * ms, 0, ErrTooFewPairs},
		{"no beeps fails", []time.Duration{2 * s}, nil, 1, 10 * ms, 0, ErrTooFewPairs},
		{"too few", []time.Duration{2 * s, 4 * s, 6 * s}, []time.Duration{2 * s}, 2, 10 * ms, 1, ErrTooFewPairs},
		{"offset too large", []time.Duration{2 * s, 4 * s}, []time.Duration{2 * s, 4*s + 40*ms}, 2, 10 * ms, 2, ErrAVOffset},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			offs, err := CheckAV(c.flashes, c.beeps, c.minPairs, c.maxAV)
			if len(offs) != c.wantPairs {
				t.Errorf("%d pairs, want %d", len(offs), c.wantPairs)
			}
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
	for sent, want := range map[int]int{0: 1, 1: 1, 2: 1, 3: 2, 10: 9} {
		if got := MinPairs(sent); got != want {
			t.Errorf("MinPairs(%d) = %d, want %d", sent, got, want)
		}
	}
}

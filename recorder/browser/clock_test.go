package browser

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/roomtape/roomtape/timeline"
)

// clockTolerance is how far from the ideal (send time + least delay) a
// frame may be placed once the clock has seen the least delay: 1 ms of
// rounding to the RTP clock and the wire's microseconds.
const clockTolerance = time.Millisecond

// TestClockJitter: frames sent every 20 ms arrive with a 5 ms path delay
// plus up to 60 ms of jitter; after the first fastest frame every PTS is
// its send time plus 5 ms (a few frames after the first fastest one).
func TestClockJitter(t *testing.T) {
	const delay = 5 * time.Millisecond
	rng := rand.New(rand.NewPCG(1, 2))
	c := newTrackClock(48000)
	// The first fastest frame lowers the offset; the frames of the
	// following 60 ms (the largest jitter) may be clamped after the
	// frames placed before it.
	settledFrom := -1
	var last time.Duration
	for i := range 500 {
		sent := time.Second + time.Duration(i)*20*time.Millisecond
		jitter := time.Duration(rng.IntN(60)) * time.Millisecond
		if i%10 == 3 {
			jitter = 0 // a fastest frame now and then
		}
		rtp := uint32(1_000_000 + i*960)
		p := c.pts(rtp, 42, sent+delay+jitter)
		if p <= last && i > 0 {
			t.Fatalf("frame %d: PTS %v not after %v", i, p, last)
		}
		last = p
		if jitter == 0 && settledFrom < 0 {
			settledFrom = i + 4
		}
		if settledFrom >= 0 && i >= settledFrom {
			if d := p - (sent + delay); d < -clockTolerance || d > clockTolerance {
				t.Fatalf("frame %d: PTS %v, want %v", i, p, sent+delay)
			}
		}
	}
}

// TestClockDrift: the sender's clock runs 100 ppm slow; the offset
// follows within maxSlewUp per window, so the error stays bounded.
func TestClockDrift(t *testing.T) {
	c := newTrackClock(90000)
	const frames = 30 * 600 // ten minutes at 30 fps
	var worst time.Duration
	for i := range frames {
		sent := time.Duration(i) * time.Second / 30
		arrival := sent + sent/10000 + 10*time.Millisecond // the receiver's clock sees the sender slow
		p := c.pts(uint32(i*3000), 1, arrival)
		worst = max(worst, arrival-p)
	}
	// 100 ppm over a window is 0.5 ms; the offset rises by that each
	// window, so the lag stays within about two windows' drift.
	if worst > 2*time.Millisecond {
		t.Fatalf("PTS lag behind arrival up to %v under 100 ppm drift", worst)
	}
}

// TestClockReset: an SSRC change or an RTP jump restarts the mapping at
// the frame's arrival, after the previous PTS.
func TestClockReset(t *testing.T) {
	c := newTrackClock(90000)
	c.pts(1000, 1, time.Second)
	c.pts(1000+3000, 1, time.Second+33*time.Millisecond)
	if p := c.pts(500, 2, 2*time.Second); p != 2*time.Second {
		t.Fatalf("new SSRC: PTS %v, want its arrival 2s", p)
	}
	if p := c.pts(500+90000*100, 2, 2*time.Second+33*time.Millisecond); p != 2*time.Second+33*time.Millisecond {
		t.Fatalf("RTP jump of 100 s: PTS %v, want its arrival", p)
	}
	// Wraparound is not a jump.
	c2 := newTrackClock(90000)
	c2.pts(0xffffff00, 1, time.Second)
	wrapped := uint32(0xffffff00)
	wrapped += 3000
	if p := c2.pts(wrapped, 1, time.Second+40*time.Millisecond); p != time.Second+time.Second*3000/90000 {
		t.Fatalf("across the wrap: PTS %v", p)
	}
}

// TestClockStep: after settling, a cut of the RTP timeline by 150 ms
// either way (an SFU's layer switch) re-anchors the clock on arrival, so
// frames keep to their send time plus the path delay.
func TestClockStep(t *testing.T) {
	for _, step := range []int64{150 * 90, -150 * 90} { // RTP ticks
		c := newTrackClock(90000)
		const delay = 5 * time.Millisecond
		var worst time.Duration
		for i := range 300 {
			sent := time.Duration(i) * time.Second / 30
			rtp := int64(i) * 3000
			if i >= 150 {
				rtp += step
			}
			p := c.pts(uint32(rtp), 1, sent+delay)
			if i >= 150+30 { // a second after the cut
				worst = max(worst, absDur(p-(sent+delay)))
			}
		}
		if worst > clockTolerance || c.Restarts != 1 {
			t.Errorf("cut of %d ticks: error up to %v after it, %d restarts; want <= %v, 1", step, worst, c.Restarts, clockTolerance)
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// FuzzClock: PTS always increase, and never run ahead of arrival by more
// than the clamping step per frame.
func FuzzClock(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newTrackClock(48000)
		var rtp uint32
		var arrival, last time.Duration
		n := 0
		for i := 0; i+3 <= len(b); i += 3 {
			rtp += uint32(b[i]) * 96
			arrival += time.Duration(b[i+1]) * time.Millisecond
			ssrc := uint32(b[i+2] >> 7)
			p := c.pts(rtp, ssrc, arrival)
			if n > 0 && p <= last {
				t.Fatalf("PTS %v not after %v", p, last)
			}
			if p > arrival+time.Duration(n+1)*minStep {
				t.Fatalf("PTS %v ahead of arrival %v", p, arrival)
			}
			last = p
			n++
		}
	})
}

func TestWantedSize(t *testing.T) {
	half := timeline.Rect{W: 320, H: 360} // two columns of 640x360
	cases := []struct {
		name       string
		tile       timeline.Rect
		srcW, srcH int
		fit        timeline.Fit
		w, h       int
	}{
		{"letterboxed 16:9 in a tall tile", half, 1280, 720, timeline.Letterbox, 320, 180},
		{"cropped 16:9 in a tall tile", half, 1280, 720, timeline.Crop, 640, 360},
		{"unknown source", half, 0, 0, timeline.Letterbox, 320, 360},
		{"never above the source", timeline.Rect{W: 1280, H: 720}, 640, 360, timeline.Letterbox, 640, 360},
	}
	for _, c := range cases {
		if w, h := wantedSize(c.tile, c.srcW, c.srcH, c.fit); w != c.w || h != c.h {
			t.Errorf("%s: %dx%d, want %dx%d", c.name, w, h, c.w, c.h)
		}
	}
}

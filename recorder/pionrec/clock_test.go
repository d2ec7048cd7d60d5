package pionrec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUnwrapper(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []uint32
		want []int64
	}{
		{"forward", []uint32{10, 20, 30}, []int64{10, 20, 30}},
		{"wrap", []uint32{0xffffff00, 0xffffffff, 0x10, 0x100}, []int64{0xffffff00, 0xffffffff, 1<<32 + 0x10, 1<<32 + 0x100}},
		{"reorder across wrap", []uint32{0xfffffff0, 0x10, 0xfffffff8, 0x20}, []int64{0xfffffff0, 1<<32 + 0x10, 0xfffffff8, 1<<32 + 0x20}},
		{"backward from zero", []uint32{5, 0xfffffffb}, []int64{5, -5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u unwrapper
			for i, ts := range tc.in {
				require.Equal(t, tc.want[i], u.update(ts), "step %d", i)
			}
			// near does not move the reference.
			last := tc.want[len(tc.want)-1]
			require.Equal(t, last+1, u.near(uint32(last+1)))
			require.Equal(t, last, u.update(uint32(last)))
		})
	}
}

func TestNTPTime(t *testing.T) {
	want := time.Date(2026, 11, 25, 17, 0, 0, 250_000_000, time.UTC)
	ntp := uint64(want.Unix()+ntpEpochOffset)<<32 | 1<<30 // .25 s
	require.Equal(t, want, ntpTime(ntp).UTC())
}

// newTestClock returns a clock on a session that started at origin.
func newTestClock(origin time.Time, rate int64, audio bool, g *clockGroup) *trackClock {
	return &trackClock{
		rate: rate, audio: audio, group: g,
		sessionTime: func(t time.Time) time.Duration { return t.Sub(origin) },
	}
}

func TestTrackClockArrivalAnchor(t *testing.T) {
	origin := time.Unix(1000, 0)
	c := newTestClock(origin, 90000, false, &clockGroup{})
	// The first packet is late: the second one, 100 ms of media later,
	// arrives only 90 ms later.
	c.arrival(1000, origin.Add(100*time.Millisecond))
	c.arrival(1000+9000, origin.Add(190*time.Millisecond))
	require.Equal(t, 90*time.Millisecond, c.pts(1000))
	// Once a frame is out, the anchor stays.
	c.arrival(1000+18000, origin.Add(150*time.Millisecond))
	require.Equal(t, 290*time.Millisecond, c.pts(1000+18000))
}

func TestTrackClockSenderReports(t *testing.T) {
	origin := time.Unix(1000, 0)
	g := &clockGroup{}
	video := newTestClock(origin, 90000, false, g)
	audio := newTestClock(origin, 48000, true, g)
	// Both arrive 40 ms after their capture at 1 s (sender clock = ours).
	capture := origin.Add(time.Second)
	video.arrival(90000, capture.Add(40*time.Millisecond))
	audio.arrival(48000, capture.Add(40*time.Millisecond))
	require.Equal(t, 1040*time.Millisecond, video.pts(90000))
	require.Equal(t, 1040*time.Millisecond, audio.pts(48000))

	// Reports say RTP 90000/48000 was captured at 1 s, received 1 ms later.
	video.senderReport(90000, capture, capture.Add(time.Millisecond))
	audio.senderReport(48000, capture, capture.Add(2*time.Millisecond))
	off, ok := g.get()
	require.True(t, ok)
	require.Equal(t, time.Millisecond, off)

	// Audio is 39 ms late (more than audioResync): it steps back at once
	// by whole 20 ms packets (the writer drops the two it overlaps), and
	// the remaining millisecond is the residual video follows.
	require.Equal(t, 1020*time.Millisecond, audio.pts(48000+960))
	requireResidual(t, g, -time.Millisecond)
	// Video steps with the audio: the frame the step puts before the
	// previous one is squeezed after it, and the next is where the audio
	// puts the same media time.
	require.Equal(t, 1040*time.Millisecond+minVideoGap, video.pts(90000+3000))
	require.Equal(t, time.Second+video.ticks(2*3000), video.pts(90000+2*3000), "with the audio")
	pts := video.pts(90000 + 2*3000)
	for i := 3; i < 60; i++ {
		next := video.pts(90000 + int64(i)*3000)
		require.Greater(t, next, pts, "monotonic")
		pts = next
	}
	require.Equal(t, time.Second+video.ticks(59*3000), pts, "stays on the audio")
}

// TestTrackClockOffsetRevision revises a participant's clock offset while
// both tracks run, as when the first Sender Report was delayed by a stall
// (the e2e failure: audio stepped back 80 ms at once while video slewed
// for 1.6 s, so a flash 23 ms before its beep). Audio and video must stay
// within a few milliseconds of each other from the revision on.
func TestTrackClockOffsetRevision(t *testing.T) {
	origin := time.Unix(1000, 0)
	g := &clockGroup{}
	video := newTestClock(origin, 90000, false, g)
	audio := newTestClock(origin, 48000, true, g)
	// Media time m is captured at origin+m; RTP 0 is media time 0.
	capture := func(m time.Duration) time.Time { return origin.Add(m) }
	video.arrival(0, capture(0))
	audio.arrival(0, capture(0))
	// The first reports arrive 83 ms after they were sent.
	video.senderReport(0, capture(0), capture(83*time.Millisecond))
	audio.senderReport(0, capture(0), capture(83*time.Millisecond))
	var lastVideo, lastAudio time.Duration
	for m := time.Duration(0); m < 5*time.Second; m += 20 * time.Millisecond {
		if m == time.Second {
			// A report that took 2 ms revises the offset by 81 ms.
			video.senderReport(90000, capture(time.Second), capture(time.Second+2*time.Millisecond))
			audio.senderReport(48000, capture(time.Second), capture(time.Second+2*time.Millisecond))
		}
		v := video.pts(int64(m / (time.Second / 90000)))
		a := audio.pts(int64(m / (time.Second / 48000)))
		if m > 0 {
			require.Greater(t, v, lastVideo, "video monotonic at %v", m)
		}
		lastVideo = v
		if m > 0 && a <= lastAudio {
			// The step back overlaps this packet: the writer drops it
			// (and video squeezes the frames of the same span).
			continue
		}
		lastAudio = a
		require.LessOrEqual(t, max(v-a, a-v), 2*time.Millisecond, "A/V at media time %v", m)
	}
	off, _ := g.get()
	require.Equal(t, 2*time.Millisecond, off)
}

func TestTrackClockAudioResidual(t *testing.T) {
	origin := time.Unix(1000, 0)
	g := &clockGroup{}
	video := newTestClock(origin, 90000, false, g)
	audio := newTestClock(origin, 48000, true, g)
	video.arrival(0, origin)
	audio.arrival(0, origin.Add(10*time.Millisecond)) // 10 ms late
	require.Equal(t, 10*time.Millisecond, audio.pts(0))
	require.Equal(t, time.Duration(0), video.pts(0))
	audio.senderReport(0, origin, origin)
	video.senderReport(0, origin, origin)
	// 10 ms is within audioResync: audio keeps its clock, and video
	// follows its error instead of the reports.
	require.Equal(t, 30*time.Millisecond, audio.pts(960))
	requireResidual(t, g, 10*time.Millisecond)
	pts := video.pts(90000)
	require.Greater(t, pts, time.Second)
	require.LessOrEqual(t, pts, time.Second+10*time.Millisecond)
}

// requireResidual checks the audio residual published to g.
func requireResidual(t *testing.T, g *clockGroup, want time.Duration) {
	t.Helper()
	r, ok := g.getResidual()
	require.True(t, ok, "residual set")
	require.Equal(t, want, r)
}

// FuzzClockGroupOffset feeds Sender Report delays to a participant's
// offset: it is always one of the delays seen, within their range, and the
// reports kept stay bounded.
func FuzzClockGroupOffset(f *testing.F) {
	f.Add([]byte{10, 20, 10, 30, 10, 40, 10, 50, 10, 60, 10, 70, 10, 80})
	f.Add([]byte{200, 0, 1, 255, 1, 0, 255, 128})
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &clockGroup{}
		at := time.Unix(1000, 0)
		ntp0 := time.Unix(0, 0)
		seen := map[time.Duration]bool{}
		lo, hi := time.Duration(1<<62), time.Duration(-1<<62)
		for i := 0; i+1 < len(data); i += 2 {
			at = at.Add(time.Duration(data[i]) * 50 * time.Millisecond)
			d := time.Duration(data[i+1]) * 5 * time.Millisecond
			g.observe(at, at.Add(-d).Add(ntp0.Sub(time.Unix(0, 0))))
			seen[d] = true
			lo, hi = min(lo, d), max(hi, d)
			off, ok := g.get()
			require.True(t, ok)
			require.True(t, seen[off], "offset %v was never a report's delay", off)
			require.GreaterOrEqual(t, off, lo)
			require.LessOrEqual(t, off, hi)
			require.LessOrEqual(t, len(g.recent), maxRecentReports)
		}
	})
}

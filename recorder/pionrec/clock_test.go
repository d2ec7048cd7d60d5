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
	require.Equal(t, -time.Millisecond, g.getResidual())
	// Video slews by at most 5 % of the media time.
	got := video.pts(90000 + 3000)
	frame := c33ms()
	require.Equal(t, 1040*time.Millisecond+frame-time.Duration(float64(frame)*maxSlew), got)
	pts := got
	for i := 2; i < 60; i++ {
		next := video.pts(90000 + int64(i)*3000)
		require.Greater(t, next, pts, "monotonic")
		pts = next
	}
	require.Equal(t, time.Second+video.ticks(59*3000), pts, "converged on the audio")
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
	require.Equal(t, 10*time.Millisecond, g.getResidual())
	pts := video.pts(90000)
	require.Greater(t, pts, time.Second)
	require.LessOrEqual(t, pts, time.Second+10*time.Millisecond)
}

// c33ms is one frame at 30 fps as the clock computes it from 3000 ticks.
func c33ms() time.Duration { return time.Duration(3000 * int64(time.Second) / 90000) }

package synth

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/testmedia"
)

func TestMarkers(t *testing.T) {
	for _, tc := range []struct {
		t               time.Duration
		flashing, beeps bool
	}{
		{0, true, true},
		{49 * time.Millisecond, true, true},
		{50 * time.Millisecond, true, false},
		{99 * time.Millisecond, true, false},
		{100 * time.Millisecond, false, false},
		{1999 * time.Millisecond, false, false},
		{2 * time.Second, true, true},
	} {
		require.Equal(t, tc.flashing, Flashing(tc.t), "flash at %v", tc.t)
		require.Equal(t, tc.beeps, Beeping(tc.t), "beep at %v", tc.t)
	}
}

// mean returns the mean of b.
func mean(b []byte) float64 {
	s := 0.0
	for _, v := range b {
		s += float64(v)
	}
	return s / float64(len(b))
}

func TestPicture(t *testing.T) {
	white := Picture(nil, 0, 64, 48, 0)
	require.InDelta(t, 235, mean(white.Y), 0.5)
	require.InDelta(t, 128, mean(white.Cb), 0.5)

	// Participant 0 is red (Cr high), 1 green (both low), 2 blue (Cb high).
	red := Picture(nil, 0, 64, 48, time.Second)
	green := Picture(nil, 1, 64, 48, time.Second)
	blue := Picture(nil, 2, 64, 48, time.Second)
	require.Greater(t, mean(red.Cr), 140.0)
	require.Less(t, mean(green.Cr), 120.0)
	require.Less(t, mean(green.Cb), 120.0)
	require.Greater(t, mean(blue.Cb), 140.0)
	require.Less(t, mean(red.Y), 150.0, "a tinted picture must stay far from a flash")

	// The pattern moves, and a picture is reused when the size matches.
	later := Picture(nil, 0, 64, 48, 1500*time.Millisecond)
	require.NotEqual(t, red.Y, later.Y)
	require.Same(t, red, Picture(red, 0, 64, 48, time.Second))
	require.Equal(t, 32, Picture(red, 0, 32, 24, time.Second).Rect.Dx())

	d := Picture(nil, 0, 64, 48, 0)
	AddDetail(d, 0)
	require.GreaterOrEqual(t, mean(d.Y), 200.0, "detail must keep a flash white")
}

func TestTone(t *testing.T) {
	buf := make([]int16, SampleRate/10) // 100 ms
	Tone(buf, 2, 0)
	freq := Freq(2)
	require.Equal(t, testmedia.Freqs[2], freq)
	// 50 ms of sine at freq and amplitude 0.5, then silence.
	beep := int(testmedia.BeepDuration * SampleRate / time.Second)
	var peak float64
	for i, v := range buf[:beep] {
		want := testmedia.BeepAmplitude * math.Sin(2*math.Pi*freq*float64(i)/SampleRate) * math.MaxInt16
		require.InDelta(t, want, float64(v), 1, "sample %d", i)
		peak = math.Max(peak, math.Abs(float64(v)))
	}
	require.InDelta(t, testmedia.BeepAmplitude*math.MaxInt16, peak, 50)
	for _, v := range buf[beep:] {
		require.Zero(t, v)
	}
	// Sample indices are participant-local: the next beep at 2 s.
	Tone(buf, 2, 2*SampleRate)
	require.NotZero(t, buf[10])
}

func TestCatchUp(t *testing.T) {
	require.Equal(t, 50, catchUp(40, 50, 30), "no flash in between")
	require.Equal(t, 60, catchUp(55, 70, 30), "the flash at 2 s is kept")
	require.Equal(t, 70, catchUp(61, 70, 30), "already past the flash's start")
	require.Equal(t, 2*time.Second, frameTime(60, 30))
}

func TestPictureSize(t *testing.T) {
	p := Participant{Width: 320, Height: 240, Resizes: []Resize{
		{At: 3 * time.Second, Width: 640, Height: 480}, {At: time.Second, Width: 240, Height: 320},
	}}
	for _, tc := range []struct {
		t    time.Duration
		w, h int
	}{{0, 320, 240}, {time.Second, 240, 320}, {2 * time.Second, 240, 320}, {3 * time.Second, 640, 480}} {
		w, h := pictureSize(p, tc.t)
		require.Equal(t, [2]int{tc.w, tc.h}, [2]int{w, h}, "at %v", tc.t)
	}
}

func TestParticipantDefaults(t *testing.T) {
	p, err := Participant{}.withDefaults()
	require.NoError(t, err)
	require.True(t, p.Audio && p.Video)
	require.Equal(t, [2]int{DefaultWidth, DefaultHeight}, [2]int{p.Width, p.Height})
	require.Equal(t, VP8, p.VideoCodec)
	for _, bad := range []Participant{
		{Width: 321, Height: 240},
		{VideoCodec: "hevc"},
		{VideoCodec: AV1, Resizes: []Resize{{At: time.Second, Width: 160, Height: 120}}},
		{VideoCodec: H264BFrames, Resizes: []Resize{{At: time.Second, Width: 160, Height: 120}}},
		{FPS: -1},
		{Loss: 0.8, Reorder: 0.5},
		{Resizes: []Resize{{At: time.Second, Width: 0, Height: 10}}},
	} {
		_, err := bad.withDefaults()
		require.ErrorIs(t, err, ErrBadParticipant, "%+v", bad)
	}
}

func TestPlanValidation(t *testing.T) {
	for _, plan := range []Plan{
		{Steps: []Step{{Join: time.Second, Leave: time.Second}}},
		{Steps: []Step{{Join: -time.Second, Leave: time.Second}}},
		{Scale: -1},
	} {
		_, err := plan.Run(t.Context(), "http://127.0.0.1:1/whip")
		require.ErrorIs(t, err, ErrBadParticipant)
	}
}

func TestToNTP(t *testing.T) {
	at := time.Date(2026, 11, 25, 17, 0, 0, 500_000_000, time.UTC)
	ntp := toNTP(at)
	require.Equal(t, uint64(at.Unix()+2208988800), ntp>>32)
	require.Equal(t, uint64(1<<31), ntp&0xffffffff)
}

func TestEncodeClip(t *testing.T) {
	clip, err := EncodeClip(Participant{Width: 64, Height: 48}, time.Second)
	require.NoError(t, err)
	// Rounded up to one marker period, so that the markers keep their
	// rhythm when the clip loops.
	require.Len(t, clip.Video, 60)
	require.Len(t, clip.Audio, 100)
	require.Equal(t, VP8, clip.VideoCodec)
	require.Equal(t, byte(0), clip.Video[0][0]&1, "the clip starts with a keyframe")
	require.Positive(t, clip.Bytes())
	_, err = PublishClip(t.Context(), "http://127.0.0.1:1/whip", Participant{}, &Clip{})
	require.ErrorIs(t, err, ErrBadParticipant)
}

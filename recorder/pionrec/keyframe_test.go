package pionrec_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder"
)

// TestIsKeyframe checks keyframe detection on frames from the real
// encoders the synthetic participants use.
func TestIsKeyframe(t *testing.T) {
	for _, tc := range []struct {
		codec recorder.Codec
		name  string
	}{
		{recorder.VP8, synth.VP8},
		{recorder.H264, synth.H264},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clip, err := synth.EncodeClip(synth.Participant{Width: 64, Height: 48, VideoCodec: tc.name, Video: true}, time.Second)
			require.NoError(t, err)
			require.True(t, tc.codec.IsKeyframe(clip.Video[0]))
			// libvpx adds keyframes at scene cuts (a flash's start and
			// end) as it sees fit; most frames must still be inter frames.
			keys := 0
			for _, f := range clip.Video[1:] {
				if tc.codec.IsKeyframe(f) {
					keys++
				}
			}
			require.Less(t, keys, len(clip.Video)/4, "keyframes among %d frames", len(clip.Video))
		})
	}
	require.True(t, recorder.Opus.IsKeyframe([]byte{0xf8}))
	require.False(t, recorder.Opus.IsKeyframe(nil))
	require.False(t, recorder.AV1.IsKeyframe([]byte{1, 2, 3}))
}

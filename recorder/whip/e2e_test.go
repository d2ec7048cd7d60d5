package whip_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/whip"
)

// TestPublishRecord publishes one participant per video codec over WHIP
// on 127.0.0.1 (AV1 encoded by SVT-AV1, decoded by dav1d) and checks its
// recorded files: they decode at the sent size, hold nearly every frame
// sent, last as long as the presence, and its flashes and beeps line up.
func TestPublishRecord(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec string
		// recorded is the codec in session.json (default codec).
		recorded string
	}{
		{"vp8", synth.VP8, ""},
		{"vp9", synth.VP9, ""},
		{"h264", synth.H264, ""},
		{"av1", synth.AV1, ""},
		{"h264_bframes", synth.H264BFrames, synth.H264},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, whip.Config{Logger: testLogger(t)})
			pub := r.publish(t, synth.Participant{Name: "alice", Index: 1, VideoCodec: tc.codec})
			t.Logf("publisher start on session clock: %v", pub.Start().Sub(r.s.StartedAt()))
			time.Sleep(5 * time.Second)
			ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
			defer cancel()
			require.NoError(t, pub.Close(ctx))
			st := pub.Stats()
			t.Logf("publisher stats %+v", st)
			m := r.finish(t)
			p := participantNamed(t, m, "alice")
			require.Len(t, p.Intervals(), 1)
			iv := p.Intervals()[0]
			presence := iv.Leave() - iv.Join()
			require.Len(t, tracksOf(p, "video"), 1)
			require.Len(t, tracksOf(p, "audio"), 1)
			for _, tr := range p.Tracks {
				end, ok := tr.End()
				require.True(t, ok)
				t.Logf("%s track %s: %v..%v (presence %v..%v)", tr.Kind, tr.Codec, tr.Start(), end, iv.Join(), iv.Leave())
				require.InDelta(t, presence.Seconds(), (end - tr.Start()).Seconds(), presenceTolerance.Seconds())
			}
			vt := tracksOf(p, "video")[0]
			want := tc.recorded
			if want == "" {
				want = tc.codec
			}
			require.Equal(t, want, vt.Codec)
			require.Equal(t, [2]int{synth.DefaultWidth, synth.DefaultHeight}, [2]int{vt.Width, vt.Height}, "picture size in session.json")
			require.Empty(t, vt.Resolutions, "the size never changed (every frame's header parsed alike)")
			rep, _ := analyzeVideo(t, vt)
			require.Equal(t, [2]int{synth.DefaultWidth, synth.DefaultHeight}, [2]int{rep.Video.Width, rep.Video.Height}, "picture size in the file")
			require.GreaterOrEqual(t, rep.Video.Frames, int(st.VideoFrames)*9/10, "frames decoded of %d sent", st.VideoFrames)
			requireAVSync(t, participantMarkers(t, p, 1), markersSent(p))
		})
	}
}

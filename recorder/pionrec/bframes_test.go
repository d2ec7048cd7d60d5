package pionrec

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/internal/avtest"
)

// TestH264BFrames records H.264 with B-frames (x264, Main profile, two
// B-frames per reference frame, as OBS-style encoders send): RTP carries
// the frames in decode order with timestamps going back. Every frame is
// written, the file decodes without error, and its pictures come out in
// presentation order at the times the sender gave them.
func TestH264BFrames(t *testing.T) {
	avtest.Quiet()
	const fps, frames, gop = 30, 90, 30
	enc, err := avtest.NewVideo(avtest.LibX264BFrames, 320, 240, fps, gop, 0)
	require.NoError(t, err)
	defer enc.Close()
	var pkts []avtest.Packet
	for range frames {
		out, err := enc.Next()
		require.NoError(t, err)
		pkts = append(pkts, out...)
	}
	back := 0
	for i := 1; i < len(pkts); i++ {
		if pkts[i].PTS < pkts[i-1].PTS {
			back++
		}
	}
	require.Positive(t, back, "the encoder made no B-frames")

	s, err := recorder.NewSession(recorder.Config{ID: "bframes", Dir: t.TempDir(), CheckpointInterval: -1})
	require.NoError(t, err)
	defer func() { _ = s.Close(t.Context()) }()
	p, err := s.Join("obs", "OBS")
	require.NoError(t, err)
	params := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}}
	w, err := newWriter(p, s, "camera", params, 1, &countingRTCP{}, Config{})
	require.NoError(t, err)
	defer releaseGroup(p)

	// Frames arrive in decode order, one frame period apart, a fixed
	// delay after their decode time.
	pay := &codecs.H264Payloader{}
	const ts0 = 1 << 20
	seq := uint16(1)
	start := s.StartedAt().Add(100 * time.Millisecond)
	for i, pk := range pkts {
		ts := uint32(ts0 + pk.PTS*90000/time.Second)
		payloads := pay.Payload(1200, pk.Data)
		for k, pl := range payloads {
			w.push(&rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: seq, Timestamp: ts, SSRC: 1, Marker: k == len(payloads)-1},
				Payload: pl,
			}, start.Add(time.Duration(i)*time.Second/fps))
			seq++
		}
	}
	w.finish()
	st := w.snapshot()
	require.Equal(t, len(pkts), st.Frames, "frames written of %d sent", len(pkts))
	require.Zero(t, st.DroppedFrames)
	tst := w.track.Stats()
	require.Zero(t, tst.DroppedOutOfOrder)
	require.Positive(t, w.track.Reorder(), "reordering read from the SPS")
	require.NoError(t, p.Leave())

	r, err := avtest.Probe(w.track.Path())
	require.NoError(t, err)
	require.Zero(t, r.DecodeErrors)
	require.Equal(t, len(pkts), r.Frames, "frames decoded")
	require.True(t, slices.IsSorted(r.FramePTS), "decoded pictures in presentation order: %v", r.FramePTS)
	require.Len(t, r.FramePTS, len(pkts))
	// The file's times are the sender's, from its first frame (the
	// recorder's timing keeps the spacing; the muxer rounds to 1 ms).
	sent := make([]time.Duration, len(pkts))
	for i, pk := range pkts {
		sent[i] = pk.PTS - pkts[0].PTS
	}
	slices.Sort(sent)
	for i, got := range r.FramePTS {
		require.InDelta(t, sent[i].Seconds(), (got - r.FramePTS[0]).Seconds(), fileTimeTolerance.Seconds(), "picture %d", i)
	}
}

// fileTimeTolerance is the Matroska files' timestamp resolution (1 ms),
// plus rounding both ends.
const fileTimeTolerance = 2 * time.Millisecond

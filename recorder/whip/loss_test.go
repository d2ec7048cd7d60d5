package whip_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/recorder/pionrec"
	"github.com/roomtape/roomtape/recorder/whip"
)

// trackStats collects pionrec's per-track counters.
type trackStats struct {
	mu  sync.Mutex
	all []pionrec.Stats
}

// config returns a whip.Config whose Record reports into ts.
func (ts *trackStats) config(t *testing.T) whip.Config {
	t.Helper()
	return ts.configLatency(t, 0)
}

// configLatency is config with Record.MaxLatency set.
func (ts *trackStats) configLatency(t *testing.T, maxLatency time.Duration) whip.Config {
	t.Helper()
	return whip.Config{
		Logger: testLogger(t),
		Record: pionrec.Config{MaxLatency: maxLatency, OnStats: func(s pionrec.Stats) {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			ts.all = append(ts.all, s)
		}},
	}
}

// video returns the stats of the video tracks (those with PLIs or a
// first keyframe).
func (ts *trackStats) video() []pionrec.Stats {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []pionrec.Stats
	for _, s := range ts.all {
		if s.FirstKeyframe > 0 {
			out = append(out, s)
		}
	}
	return out
}

// audio returns the stats of the audio tracks (no PLI, no keyframe).
func (ts *trackStats) audio() []pionrec.Stats {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []pionrec.Stats
	for _, s := range ts.all {
		if s.FirstKeyframe == 0 && s.PLIs == 0 {
			out = append(out, s)
		}
	}
	return out
}

// requireAudioAccounted checks that every audio packet the publisher handed
// to the network is accounted for: read by the recorder, then written to
// the file, dropped or unwritten (each counted), or unused (a packet that
// came after it was given up); every loss a receiver can see is in
// LostPackets; and the file holds exactly the packets written.
func requireAudioAccounted(t *testing.T, pub synth.Stats, rec pionrec.Stats, path string) {
	t.Helper()
	pts, _, err := avtest.Demux(path)
	require.NoError(t, err)
	t.Logf("audio: sent %d, delivered %d, known lost %d; recorder %+v; file %d packets",
		pub.AudioPackets, pub.AudioDelivered, pub.AudioKnownLost, rec, len(pts))
	require.Positive(t, pub.AudioDelivered, "the impairment counted no audio")
	require.EqualValues(t, pub.AudioDelivered, rec.Packets, "audio packets delivered to the network but not read")
	require.Equal(t, rec.Packets, rec.Frames+rec.DroppedFrames+rec.Unwritten+rec.UnusedPackets,
		"audio packets read but neither written nor counted")
	require.EqualValues(t, pub.AudioKnownLost, rec.LostPackets-rec.UnusedPackets, "audio losses not counted")
	require.Len(t, pts, rec.Frames, "%s: packets in the file vs written", path)
	require.Zero(t, rec.Unwritten, "audio frames lost at the end of the track")
}

// Bounds of the NACK case of TestLossRecovery.
const (
	// nackJitter is the mean of the exponential delay every packet gets
	// (capped at 4x, 80 ms, well inside the reorder wait of 500 ms):
	// packets overtake each other all the time.
	nackJitter = 20 * time.Millisecond
	// nackMinRecovered is the share of the frames sent that must be
	// written: a lost packet is asked for every 100 ms within the 500 ms
	// wait, and a retransmission is lost at 5 % too, so a frame is given
	// up on only after several losses in a row; the slack is the frames
	// still in flight when the publisher closes.
	nackMinRecovered = 0.95
	// nackMaxFreeze is the longest the picture may stand still: a frame
	// given up on would freeze it until a keyframe comes on a PLI (several
	// hundred milliseconds); repaired losses do not freeze it at all.
	nackMaxFreeze = 300 * time.Millisecond
)

// TestLossRecovery sends through packet loss and delay jitter, injected
// after the publisher's NACK responder (so retransmissions are lost too).
// At 5 % loss and 20 ms of mean jitter NACK repairs the losses: nearly
// every frame sent is written and the picture never freezes. In both cases
// every audio packet is accounted for (requireAudioAccounted) and every
// frame written is in the file. With a
// reorder wait (MaxLatency) shorter than the NACK generator's 100 ms
// interval, losses are given up before any retransmission and PLIs bring
// keyframes instead. Either way the first picture comes within 1.5 s and
// the files decode without a damaged packet.
func TestLossRecovery(t *testing.T) {
	for _, tc := range []struct {
		name       string
		loss       float64
		jitter     time.Duration
		maxLatency time.Duration
		wantPLI    bool
	}{
		{"5% loss, jitter: NACK", 0.05, nackJitter, 0, false},
		{"15% loss, no time for NACK: PLI", 0.15, 0, 10 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ts trackStats
			r := newRig(t, ts.configLatency(t, tc.maxLatency))
			pub := r.publish(t, synth.Participant{Name: "lossy", Index: 2, Loss: tc.loss, Jitter: tc.jitter})
			time.Sleep(6 * time.Second)
			ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
			defer cancel()
			require.NoError(t, pub.Close(ctx))
			st := pub.Stats()
			m := r.finish(t)
			vs := ts.video()
			t.Logf("publisher %+v, recorder video %+v, every track %+v", st, vs, ts.all)

			require.Positive(t, st.Dropped, "the impairment dropped nothing")
			if !tc.wantPLI {
				require.Positive(t, st.NACKs, "the recorder sent no NACK")
				require.GreaterOrEqual(t, float64(vs[0].Frames), nackMinRecovered*float64(st.VideoFrames),
					"frames written of %d sent: losses were not repaired", st.VideoFrames)
			}
			require.Len(t, vs, 1)
			require.LessOrEqual(t, vs[0].FirstKeyframe, firstVideoBound, "first decodable picture")
			require.Positive(t, vs[0].Frames)
			if tc.wantPLI {
				require.Positive(t, vs[0].LostPackets, "nothing was lost for good")
				require.Greater(t, vs[0].PLIs, 1, "no PLI after the start")
				require.Greater(t, st.Keyframes, int64(3), "no keyframe on demand")
			}

			p := participantNamed(t, m, "lossy")
			for _, tr := range tracksOf(p, "video") {
				rep, flashes := analyzeVideo(t, tr)
				require.NotEmpty(t, flashes, "no flash survived")
				pts, _, err := avtest.Demux(tr.Path)
				require.NoError(t, err)
				require.Len(t, pts, vs[0].Frames, "%s: frames in the file vs written (recovered frames must all be there)", tr.Path)
				if !tc.wantPLI {
					require.Empty(t, rep.Freezes(0, nackMaxFreeze), "%s: the picture froze although NACK repaired the losses", tr.Path)
				}
				// Frames lost for good are dropped until a keyframe, never
				// written damaged: the picture may freeze but plays.
				t.Logf("video %s: %d frames", tr.Path, rep.Video.Frames)
			}
			for _, tr := range tracksOf(p, "audio") {
				_, beeps := analyzeAudio(t, tr, synth.Freq(2))
				require.NotEmpty(t, beeps)
				as := ts.audio()
				require.Len(t, as, 1)
				requireAudioAccounted(t, st, as[0], tr.Path)
			}
		})
	}
}

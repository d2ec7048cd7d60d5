package whip_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/synth"
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
	return whip.Config{
		Logger: testLogger(t),
		Record: pionrec.Config{OnStats: func(s pionrec.Stats) {
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

// TestLossRecovery sends through 5 % packet loss and 2 % reordering
// (injected after the publisher's NACK responder, so retransmissions are
// lost too): NACKs repair most losses, PLIs the rest, the first picture
// comes within 1.5 s and the files decode without a damaged packet.
func TestLossRecovery(t *testing.T) {
	var ts trackStats
	r := newRig(t, ts.config(t))
	pub := r.publish(t, synth.Participant{Name: "lossy", Index: 2, Loss: 0.05, Reorder: 0.02})
	time.Sleep(6 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	require.NoError(t, pub.Close(ctx))
	st := pub.Stats()
	m := r.finish(t)
	vs := ts.video()
	t.Logf("publisher %+v, recorder video %+v", st, vs)

	require.Positive(t, st.Dropped, "the impairment dropped nothing")
	require.Positive(t, st.NACKs, "the recorder sent no NACK")
	require.Len(t, vs, 1)
	require.LessOrEqual(t, vs[0].FirstKeyframe, firstVideoBound, "first decodable picture")
	require.Positive(t, vs[0].Frames)

	p := participantNamed(t, m, "lossy")
	for _, tr := range tracksOf(p, "video") {
		rep, flashes := analyzeVideo(t, tr)
		require.NotEmpty(t, flashes, "no flash survived")
		// Frames lost for good are dropped until a keyframe, never
		// written damaged: the picture may freeze but plays.
		t.Logf("video %s: %d frames", tr.Path, rep.Video.Frames)
	}
	for _, tr := range tracksOf(p, "audio") {
		_, beeps := analyzeAudio(t, tr, synth.Freq(2))
		require.NotEmpty(t, beeps)
	}
}

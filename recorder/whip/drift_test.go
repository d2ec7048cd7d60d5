package whip_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/synth"
)

// Parameters of TestClockDriftEndToEnd.
const (
	// driftCall is the length of the call. The issue asks for a sender
	// clock 0.1 % fast over 10 minutes, 600 ms of drift in all; the
	// suite reaches the same 600 ms in driftCall with a clock driftSkew
	// off, twenty times the rate (20 ms per second, twenty times more
	// between two Sender Reports), so the check is the harder one.
	driftCall = 30 * time.Second
	driftSkew = 0.02
	// driftMinDrift is the least drift between the sender's clock and
	// real time over the call that the test must see, or it did not test
	// a drifting clock (the skew times the call, less scheduling slack).
	driftMinDrift = 500 * time.Millisecond
	// driftMaxWander bounds how far the recorded markers may move against
	// the real instants the sender showed them at, over the call: the
	// sender-to-local offset follows the drifting clock in revisions of
	// 50 ms (pionrec's offsetRevision), upward ones lagging by the drift
	// over 5 s (its offsetWindow: 100 ms at driftSkew), plus 40 ms for
	// the reports' delays jittering under load. Recorded on the sender's
	// clock alone, a marker would move by the whole drift (600 ms).
	driftMaxWander = 50*time.Millisecond + 100*time.Millisecond + 40*time.Millisecond
	// driftStepSlack: each revision of a fast sender's offset moves its
	// audio back by 50 ms or more, in whole 20 ms packets, which the
	// recorder drops; a beep whose onset falls in the packets dropped is
	// found later by up to 60 ms. At driftSkew that happens every 2.5 s
	// (every 50 s at 0.1 %), so up to driftStepHits markers of the call
	// may be that late.
	driftStepSlack = 60 * time.Millisecond
	driftStepHits  = 3
)

// TestClockDriftEndToEnd publishes over WHIP from a sender whose clock
// runs driftSkew fast, then slow: its media clocks, RTP timestamps and
// Sender Reports all follow that clock (a device whose crystal is off).
// Within the recorded files every flash has its beep within avTolerance,
// for all but one of the markers sent, from the first marker to the last:
// A/V does not wander as the drift accumulates, since the Sender Reports
// tie both tracks to the one sender clock.
func TestClockDriftEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		skew float64
	}{
		{"fast", driftSkew},
		{"slow", -driftSkew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ts trackStats
			r := newRig(t, ts.config(t))
			pub := r.publish(t, synth.Participant{Name: "drift", Index: 4, ClockSkew: tc.skew})
			time.Sleep(driftCall)
			sent := pub.Stats()
			senderTime := time.Duration(sent.AudioPackets) * 20 * time.Millisecond
			ctx, cancel := contextFor(t)
			defer cancel()
			require.NoError(t, pub.Close(ctx))
			m := r.finish(t)
			p := participantNamed(t, m, "drift")
			iv := p.Intervals()[0]
			real := iv.Leave() - iv.Join()
			// The audio packets sent give the sender's clock: one per
			// 20 ms of it.
			drift := senderTime - real
			t.Logf("sender clock %v over %v of presence (drift %v); publisher %+v; tracks %+v", senderTime, real, drift, sent, ts.all)
			if tc.skew > 0 {
				require.Greater(t, drift, driftMinDrift, "the sender's clock did not run fast")
			} else {
				require.Less(t, drift, -driftMinDrift, "the sender's clock did not run slow")
			}
			mk := participantMarkers(t, p, 4)
			n := markersSent(p)
			offsets, err := mediacheck.CheckAV(mk.flashes, mk.beeps, mediacheck.MinPairs(n), avTolerance+driftStepSlack)
			t.Logf("%d markers sent; offsets %v", n, offsets)
			require.NoError(t, err)
			inSync := 0
			for _, o := range offsets {
				if o.AV.Abs() <= avTolerance {
					inSync++
				}
			}
			require.GreaterOrEqual(t, inSync, mediacheck.MinPairs(n)-driftStepHits,
				"pairs within %v (the others may be beeps cut by an audio step): %v", avTolerance, offsets)
			// The last pairs are the ones the drift has had the most
			// time to move; they are checked like the first.
			first, last := offsets[0], offsets[len(offsets)-1]
			require.Less(t, first.Flash, 4*time.Second+iv.Join(), "no pair at the start: %v", offsets)
			require.Greater(t, last.Flash, iv.Leave()-6*time.Second, "no pair at the end: %v", offsets)
			// Against real time: each flash where the session clock
			// was when the sender showed it, give or take a constant
			// (the path's delay); the spread is the wander.
			lo, hi := time.Duration(1<<62), time.Duration(-1<<62)
			for _, o := range offsets {
				var best time.Duration
				for k := time.Duration(0); k*synth.MarkerPeriod < senderTime+synth.MarkerPeriod; k++ {
					d := o.Flash - r.s.SessionTime(pub.WallTime(k*synth.MarkerPeriod))
					if k == 0 || d.Abs() < best.Abs() {
						best = d
					}
				}
				lo, hi = min(lo, best), max(hi, best)
			}
			t.Logf("flashes against the sender's real instants: %v..%v", lo, hi)
			require.LessOrEqual(t, hi-lo, driftMaxWander, "the recording wanders from real time")
		})
	}
}

// contextFor returns a context for closing a publisher.
func contextFor(t *testing.T) (ctx context.Context, cancel context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(t.Context(), closeTimeout)
}

package pionrec

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Drift test parameters and bounds.
const (
	// driftSkew is how fast the sender's clock runs: 0.1 % fast, a poor
	// but real crystal (1 ms a second, 600 ms over the test's 10 minutes
	// if Sender Reports were ignored).
	driftSkew = 1.001
	// driftLength is the call's length in sender time.
	driftLength = 10 * time.Minute
	// driftReportEvery is the interval of each track's Sender Reports, as
	// browsers and pion send them.
	driftReportEvery = time.Second
	// driftDelay and driftJitter model the network: every packet and
	// report arrives driftDelay plus up to driftJitter (uniform) after it
	// was sent.
	driftDelay  = 30 * time.Millisecond
	driftJitter = 15 * time.Millisecond
	// driftMaxAV bounds |A/V| at every marker: video follows the audio's
	// remaining error (see clockGroup.residual) within videoFollow, plus
	// the 1 ms the clock drifts between two reports, plus a millisecond of
	// rounding.
	driftMaxAV = videoFollow + 2*time.Millisecond
	// driftMaxWander bounds how far each stream's session time may move
	// against the real capture time over the call (after removing the
	// constant network delay): audio's steps of audioResync, the 1 ms a
	// second the clock runs away between reports, and the jitter of the
	// least delayed report that fixes the offset. When the sender's NTP
	// clock runs fast too, the sender-to-local offset shrinks by 1 ms a
	// second and is revised only in steps of offsetRevision, which adds
	// that much (for all of the participant's tracks at once: A/V holds).
	driftMaxWander = audioResync + driftJitter + 5*time.Millisecond
	// driftMarkerPeriod is the period of the simulated flash/beep markers.
	driftMarkerPeriod = 2 * time.Second
)

// driftEvent is one packet or Sender Report reaching the recorder.
type driftEvent struct {
	at     time.Time
	audio  bool
	report bool
	ext    int64
	ntp    time.Time // reports
	// sent is the sender-clock time of the media (packets).
	sent time.Duration
}

// TestTrackClockDrift feeds the clocks of a participant whose sender clock
// runs 0.1 % fast for 10 minutes (50 Opus packets and 30 video frames a
// sender second, Sender Reports every second on each track, jittered
// delays), through the writer's rule (audio that steps back drops the
// packets it overlaps) and a reader's (audio placed by sample count,
// honouring gaps of a packet or more). At a marker every 2 s, the audio
// and video of the same sender instant stay within driftMaxAV, and
// neither stream wanders from real time by more than driftMaxWander:
// Sender Reports hold both, although the RTP clock runs away by 600 ms.
//
// Two cases: only the RTP clock runs fast (the reports' NTP times are
// right), and the sender's whole clock runs fast (NTP too, so the
// sender-to-local offset moves and is revised).
func TestTrackClockDrift(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ntpFast bool
		skew    float64
	}{
		{"rtp clock fast", false, driftSkew},
		{"sender clock fast", true, driftSkew},
		{"rtp clock slow", false, 2 - driftSkew},
		// The offset is revised upward too, after offsetWindow.
		{"sender clock slow", true, 2 - driftSkew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin := time.Unix(1000, 0)
			g := &clockGroup{}
			clocks := map[bool]*trackClock{
				true:  newTestClock(origin, 48000, true, g),
				false: newTestClock(origin, 90000, false, g),
			}
			// The sender started capturing 1 s into the session; its NTP
			// clock reads ntp0 at that instant.
			start := origin.Add(time.Second)
			ntp0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			rng := rand.New(rand.NewPCG(11, 1001))
			delay := func() time.Duration { return driftDelay + time.Duration(rng.Int64N(int64(driftJitter))) }
			real := func(sent time.Duration) time.Duration { return time.Duration(float64(sent) / tc.skew) }
			const a0, v0 = 7_000_000, 123_456_789
			var evs []driftEvent
			for k := int64(0); time.Duration(k)*20*time.Millisecond < driftLength; k++ {
				sent := time.Duration(k) * 20 * time.Millisecond
				evs = append(evs, driftEvent{at: start.Add(real(sent) + delay()), audio: true, ext: a0 + 960*k, sent: sent})
			}
			for n := int64(0); time.Duration(n)*time.Second/30 < driftLength; n++ {
				sent := time.Duration(n) * time.Second / 30
				evs = append(evs, driftEvent{at: start.Add(real(sent) + delay()), ext: v0 + 3000*n, sent: sent})
			}
			for r := driftReportEvery / 2; real(driftLength) > r; r += driftReportEvery {
				sent := time.Duration(float64(r) * tc.skew) // the sender's clock at real time r
				ntp := ntp0.Add(r)
				if tc.ntpFast {
					ntp = ntp0.Add(sent)
				}
				for _, audio := range []bool{true, false} {
					ext := int64(v0) + int64(sent)*90000/int64(time.Second)
					if audio {
						ext = int64(a0) + int64(sent)*48000/int64(time.Second)
					}
					evs = append(evs, driftEvent{at: start.Add(r + delay()), audio: audio, report: true, ext: ext, ntp: ntp})
				}
			}
			slices.SortStableFunc(evs, func(a, b driftEvent) int { return a.at.Compare(b.at) })

			// Per stream: frames waiting for the settle window or a report,
			// and what was written.
			type written struct {
				sent, pts time.Duration
			}
			pending := map[bool][]driftEvent{}
			out := map[bool][]written{}
			last := map[bool]time.Duration{}
			dropped := 0
			flush := func(audio bool) {
				c := clocks[audio]
				for _, e := range pending[audio] {
					pts := c.pts(e.ext)
					if w := out[audio]; len(w) > 0 && (pts < last[audio] || (audio && pts == last[audio])) {
						dropped++ // the writer's rule (writer.flush)
						continue
					}
					last[audio] = pts
					out[audio] = append(out[audio], written{e.sent, pts})
				}
				pending[audio] = pending[audio][:0]
			}
			for _, e := range evs {
				c := clocks[e.audio]
				if e.report {
					c.senderReport(e.ext, e.ntp, e.at)
					continue
				}
				if !c.fixed {
					c.arrival(e.ext, e.at)
				}
				if e.audio {
					c.audioFrame = 20 * time.Millisecond
				}
				pending[e.audio] = append(pending[e.audio], e)
				if c.hasReport() || c.ticks(e.ext-pending[e.audio][0].ext) >= settleWindow {
					flush(e.audio)
				}
			}

			// The reader: audio by sample count from the first packet,
			// honouring gaps of a packet or more.
			audioAt := map[time.Duration]time.Duration{} // sent -> placed
			var pos time.Duration
			for i, w := range out[true] {
				if i == 0 || w.pts-pos >= 20*time.Millisecond {
					pos = w.pts
				}
				audioAt[w.sent] = pos
				pos += 20 * time.Millisecond
			}
			videoAt := map[time.Duration]time.Duration{}
			for _, w := range out[false] {
				videoAt[w.sent] = w.pts
			}
			var worstAV time.Duration
			minA, maxA, minV, maxV := time.Duration(1<<62), time.Duration(-1<<62), time.Duration(1<<62), time.Duration(-1<<62)
			markers := 0
			for m := 2 * driftMarkerPeriod; m < driftLength-driftMarkerPeriod; m += driftMarkerPeriod {
				a, okA := audioAt[m]
				v, okV := videoAt[m]
				if !okA || !okV {
					continue // the packet holding it was dropped by a step
				}
				markers++
				av := a - v
				if av.Abs() > worstAV {
					worstAV = av.Abs()
				}
				if av.Abs() > driftMaxAV {
					t.Errorf("marker at sender time %v: audio %v, video %v: A/V %v (bound %v)", m, a, v, av, driftMaxAV)
				}
				truth := time.Second + real(m)
				minA, maxA = min(minA, a-truth), max(maxA, a-truth)
				minV, maxV = min(minV, v-truth), max(maxV, v-truth)
			}
			sent := int((driftLength - 3*driftMarkerPeriod) / driftMarkerPeriod)
			if markers < sent*9/10 {
				t.Fatalf("%d of %d markers had both their audio packet and video frame written", markers, sent)
			}
			t.Logf("%d markers: max |A/V| %v; audio minus real time %v..%v, video %v..%v; %d audio packets dropped by steps back",
				markers, worstAV, minA, maxA, minV, maxV, dropped)
			bound := driftMaxWander
			if tc.ntpFast {
				// The offset moves in revisions; upward ones lag the
				// drift over offsetWindow besides.
				bound += offsetRevision + time.Duration(float64(offsetWindow)*(driftSkew-1))
			}
			if maxA-minA > bound || maxV-minV > bound {
				t.Errorf("streams wander from real time: audio by %v, video by %v (bound %v)", maxA-minA, maxV-minV, bound)
			}
		})
	}
}

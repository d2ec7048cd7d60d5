package whip_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/whip"
)

// publishFor publishes p for d, leaves, and returns the session.json entry
// and the publisher's stats.
func publishFor(t *testing.T, r *rig, p synth.Participant, d time.Duration) {
	t.Helper()
	pub := r.publish(t, p)
	time.Sleep(d)
	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	require.NoError(t, pub.Close(ctx))
	t.Logf("publisher %q: %+v", p.Name, pub.Stats())
}

// TestTimestampWrap starts both tracks' RTP timestamps just below 2^32 so
// that video wraps after 1 s and audio after 1.9 s: the recording goes on
// without a jump and stays in sync.
func TestTimestampWrap(t *testing.T) {
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	publishFor(t, r, synth.Participant{Name: "wrap", Index: 3, InitialTimestamp: math.MaxUint32 - 90000 + 1}, 5*time.Second)
	m := r.finish(t)
	p := participantNamed(t, m, "wrap")
	iv := p.Intervals()[0]
	for _, tr := range p.Tracks {
		end, _ := tr.End()
		require.InDelta(t, (iv.Leave() - iv.Join()).Seconds(), (end - tr.Start()).Seconds(), presenceTolerance.Seconds(), tr.Kind)
	}
	requireAVSync(t, participantMarkers(t, p, 3), markersSent(p))
}

// TestOpusDTXGap pauses the audio packets for 2 s (as Opus DTX does in
// silence): the pause stays a pause of the same length in the recording,
// so the beep after it is still in sync with its flash.
func TestOpusDTXGap(t *testing.T) {
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	gap := synth.Interval{Start: 2500 * time.Millisecond, End: 4500 * time.Millisecond}
	publishFor(t, r, synth.Participant{Name: "dtx", Index: 4, AudioGaps: []synth.Interval{gap}}, 7*time.Second)
	m := r.finish(t)
	p := participantNamed(t, m, "dtx")
	mk := participantMarkers(t, p, 4)
	// Flashes at 0, 2, 4 and 6 s; beeps at 2 and 6 s (and 0 s unless the
	// very first packets were lost): the one at 4 s fell in the gap, and
	// the one after it is still on its flash.
	require.GreaterOrEqual(t, len(mk.flashes), 3, "flashes %v", mk.flashes)
	require.GreaterOrEqual(t, len(mk.beeps), 2, "beeps %v", mk.beeps)
	requireAVSync(t, mk, markersSent(p)-1) // the beep at 4 s fell in the gap
	last := len(mk.beeps) - 1
	require.InDelta(t, 4, (mk.beeps[last] - mk.beeps[last-1]).Seconds(), avTolerance.Seconds(), "beeps around the gap")
}

// eventLog is a sink that keeps the session's events.
type eventLog struct {
	mu     sync.Mutex
	events []recorder.Event
}

func (l *eventLog) OnEvent(e recorder.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) WriteFrame(string, recorder.TrackInfo, recorder.Frame) error { return nil }

func (l *eventLog) Close() error { return nil }

// of returns the events of a kind.
func (l *eventLog) of(k recorder.EventKind) []recorder.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []recorder.Event
	for _, e := range l.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// TestResolutionChange turns a 320x240 camera into 240x320 (a phone
// rotating) mid-stream: the change is reported as an event and in
// session.json, and the file decodes across it.
func TestResolutionChange(t *testing.T) {
	var events eventLog
	r := newRig(t, whip.Config{Logger: testLogger(t)}, &events)
	pub := r.publish(t, synth.Participant{Name: "phone", Index: 5, Resizes: []synth.Resize{{At: 2500 * time.Millisecond, Width: 240, Height: 320}}})
	time.Sleep(5 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), closeTimeout)
	defer cancel()
	require.NoError(t, pub.Close(ctx))
	rotateAt := r.s.SessionTime(pub.Start()) + 2500*time.Millisecond
	m := r.finish(t)

	changes := events.of(recorder.ResolutionChanged)
	require.Len(t, changes, 2, "%+v", changes)
	require.Equal(t, [2]int{320, 240}, [2]int{changes[0].Width, changes[0].Height})
	require.Equal(t, [2]int{240, 320}, [2]int{changes[1].Width, changes[1].Height})
	require.InDelta(t, rotateAt.Seconds(), changes[1].At.Seconds(), 0.1, "rotation time")

	p := participantNamed(t, m, "phone")
	video := tracksOf(p, "video")
	require.Len(t, video, 1)
	require.Len(t, video[0].Resolutions, 1)
	require.Equal(t, 240, video[0].Resolutions[0].Width)
	// Decode with a region both sizes contain.
	video[0].Width, video[0].Height = 240, 240
	rep, flashes := analyzeVideo(t, video[0])
	require.Len(t, flashes, 3)
	t.Logf("decoded %d frames, last size %dx%d", rep.Video.Frames, rep.Video.Width, rep.Video.Height)
}

// TestDroppedConnection severs a publisher's network without a WHIP
// DELETE: the failed connection makes the participant leave.
func TestDroppedConnection(t *testing.T) {
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	pub := r.publish(t, synth.Participant{Name: "gone", Index: 6})
	time.Sleep(2 * time.Second)
	require.Equal(t, 1, r.s.Present())
	pub.Sever()
	severedAt := r.s.Elapsed()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	require.NoError(t, r.s.WaitEmpty(ctx))
	detected := r.s.Elapsed() - severedAt
	t.Logf("left %v after the network went away", detected)
	// ICE checks run every 2 s (pion's keepalive), hence the slack.
	require.Less(t, detected, whip.DefaultICEDisconnectedTimeout+whip.DefaultICEFailedTimeout+2*time.Second)
	require.Equal(t, 0, r.h.Resources())
	m := r.finish(t)
	p := participantNamed(t, m, "gone")
	require.Len(t, p.Intervals(), 1)
	for _, tr := range p.Tracks {
		_, ok := tr.End()
		require.True(t, ok)
	}
	participantMarkers(t, p, 6) // the files decode
}

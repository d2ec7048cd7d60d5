package whip_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/whip"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// TestPlanJoinLeaveRejoin runs three participants, one of whom leaves and
// rejoins: session.json matches the plan, every file decodes and lasts as
// long as its presence, and each participant's flashes and beeps line up.
func TestPlanJoinLeaveRejoin(t *testing.T) {
	r := newRig(t, whip.Config{Logger: testLogger(t)})
	s := time.Second
	plan := synth.Plan{Steps: []synth.Step{
		{Participant: synth.Participant{ID: "ann", Name: "Ann", Index: 0}, Join: 0, Leave: 8 * s},
		{Participant: synth.Participant{ID: "bob", Name: "Bob", Index: 1, VideoCodec: synth.H264}, Join: 1 * s, Leave: 4 * s},
		{Participant: synth.Participant{ID: "bob", Name: "Bob", Index: 1, VideoCodec: synth.H264}, Join: 5 * s, Leave: 8 * s},
		{Participant: synth.Participant{ID: "cat", Name: "Cat", Index: 2, Width: 240, Height: 320}, Join: 2 * s, Leave: 7 * s},
	}}
	res, err := plan.Run(t.Context(), r.url)
	require.NoError(t, err)
	m := r.finish(t)
	planStart := r.s.SessionTime(res.Start)

	// Presence intervals against the plan as it ran: when each publisher
	// connected and when it began to leave. (The schedule itself is kept
	// within the ICE+DTLS set-up time, logged below.)
	want := map[string][]manifest.Interval{}
	for _, st := range res.Steps {
		id := st.Step.Participant.ID
		joined, left := r.s.SessionTime(st.Joined), r.s.SessionTime(st.Left)
		t.Logf("%s scheduled %v..%v, ran %v..%v", id, planStart+st.Step.Join, planStart+st.Step.Leave, joined, left)
		want[id] = append(want[id], manifest.Interval{JoinS: joined.Seconds(), LeaveS: left.Seconds()})
	}
	require.Len(t, m.Participants, 3)
	for _, p := range m.Participants {
		got := p.Intervals()
		require.Len(t, got, len(want[p.ID]), p.ID)
		for i, iv := range got {
			t.Logf("%s interval %d: %.3f..%.3f, plan %.3f..%.3f", p.ID, i, iv.JoinS, iv.LeaveS, want[p.ID][i].JoinS, want[p.ID][i].LeaveS)
			require.InDelta(t, want[p.ID][i].JoinS, iv.JoinS, presenceTolerance.Seconds(), "%s join %d", p.ID, i)
			require.InDelta(t, want[p.ID][i].LeaveS, iv.LeaveS, presenceTolerance.Seconds(), "%s leave %d", p.ID, i)
		}
		// One video and one audio file per presence, each as long as it.
		require.Len(t, tracksOf(p, "video"), len(got), p.ID)
		require.Len(t, tracksOf(p, "audio"), len(got), p.ID)
		for _, tr := range p.Tracks {
			end, ok := tr.End()
			require.True(t, ok)
			iv := containing(got, tr.Start())
			require.InDelta(t, (iv.Leave() - iv.Join()).Seconds(), (end - tr.Start()).Seconds(), presenceTolerance.Seconds(),
				"%s %s track %s", p.ID, tr.Kind, tr.Path)
		}
	}
	for _, st := range res.Steps[:2] {
		p := participantNamed(t, m, st.Step.Participant.Name)
		requireAVSync(t, participantMarkers(t, p, st.Step.Participant.Index), markersSent(p))
	}
	cat := participantNamed(t, m, "Cat")
	requireAVSync(t, participantMarkers(t, cat, 2), markersSent(cat))
}

// containing returns the interval that holds t (the nearest one's start
// otherwise).
func containing(ivs []manifest.Interval, t time.Duration) manifest.Interval {
	best := ivs[0]
	for _, iv := range ivs {
		if t >= iv.Join()-presenceTolerance && t <= iv.Leave() {
			return iv
		}
	}
	return best
}

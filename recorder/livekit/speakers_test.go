package livekit_test

import (
	"slices"
	"testing"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Plan and tolerances of TestActiveSpeakers (session times).
const (
	// speakerTolerance bounds how far from a planned talk start or end
	// the recorded update that lists (or drops) the speaker may be:
	// livekit-server observes levels in 400 ms windows (active when 40 %
	// of a window is louder than -35 dBov) and smooths over two windows,
	// so a change shows one to two windows late; then the signal hop and
	// the SDK's callback, delayed on a loaded machine.
	speakerTolerance = 1500 * time.Millisecond
	// talkDBov and quietDBov are the levels the publishers send while
	// talking and otherwise (RFC 6464, -dBov): far on either side of
	// livekit-server's -35 dBov.
	talkDBov, quietDBov = 20, 90
)

// speakersPlan is who talks when, on the session clock.
var speakersPlan = map[string][][2]time.Duration{
	"ann": {{3 * time.Second, 7 * time.Second}},
	"bo":  {{9 * time.Second, 13 * time.Second}},
}

// TestActiveSpeakers records a room in which two audio-only participants
// take turns talking, with RFC 6464 levels on their packets (which
// livekit-server's speaker detection reads): the bot records LiveKit's
// active-speaker updates in the session's hints file, each talk span is
// listed within speakerTolerance of its start and end and nobody is
// listed outside their spans, and compose's speaker detection takes the
// updates (ann's turn, then bo's).
func TestActiveSpeakers(t *testing.T) {
	t.Parallel() // a namespace and a server of its own
	const room = "speakers"
	srv := inRoom(t, room)
	if srv == nil {
		return // the test ran in its namespace child
	}
	ctx := t.Context()
	s, err := recorder.NewSession(recorder.Config{ID: "speakers", Dir: testDir(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	level := func(who string) func(time.Time) uint8 {
		return func(due time.Time) uint8 {
			at := s.SessionTime(due)
			for _, sp := range speakersPlan[who] {
				if at >= sp[0] && at < sp[1] {
					return talkDBov
				}
			}
			return quietDBov
		}
	}
	done, cancel := startBot(t, srv, room, s)
	for i, who := range []string{"ann", "bo"} {
		c := clip(t, i, false)
		c.Level = level(who)
		p, err := lktest.JoinAndPublish(ctx, srv.URL, room, who, who, c)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Leave()
	}
	runPlan(t, s.StartedAt(), []step{
		{16 * time.Second, "recording stopped", func() error { cancel(); return <-done }},
	})
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(s.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	if m.Hints == "" {
		t.Fatal("session.json names no hints file")
	}
	h, err := manifest.LoadHints(m.Hints)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range h.Speakers {
		t.Logf("update at %v: %v", u.At, u.IDs)
	}
	listed := func(who string, at time.Duration) bool {
		var ids []string
		for _, u := range h.Speakers {
			if u.At <= at {
				ids = u.IDs
			}
		}
		return slices.Contains(ids, who)
	}
	for who, spans := range speakersPlan {
		for _, sp := range spans {
			// Listed from within the tolerance of the start to within it
			// of the end; never outside the span widened by it.
			for at := sp[0] + speakerTolerance; at < sp[1]; at += 100 * time.Millisecond {
				if !listed(who, at) {
					t.Errorf("%s not listed at %v, in the talk span %v-%v", who, at, sp[0], sp[1])
					break
				}
			}
		}
		for at := time.Duration(0); at < 16*time.Second; at += 100 * time.Millisecond {
			inside := false
			for _, sp := range spans {
				inside = inside || (at >= sp[0]-speakerTolerance/4 && at < sp[1]+speakerTolerance)
			}
			if !inside && listed(who, at) {
				t.Errorf("%s listed at %v, outside the talk spans %v", who, at, spans)
				break
			}
		}
	}
	turns, src, err := compose.SpeakerTurns(ctx, m, compose.Config{FullSpan: true})
	if err != nil {
		t.Fatal(err)
	}
	if src != compose.SpeakersUpdates {
		t.Errorf("speaker turns from %v, want the updates", src)
	}
	var ids []string
	for _, iv := range turns {
		ids = append(ids, iv.ID)
	}
	if !slices.Equal(ids, []string{"ann", "bo"}) {
		t.Errorf("turns %v: want ann's, then bo's", turns)
	}
	t.Logf("turns %v from %v; %d updates", turns, src, len(h.Speakers))
}

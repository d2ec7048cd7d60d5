package livekit_test

import (
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Timings of TestReconnect.
const (
	// outageAt is when the server goes away, outage how long it stays away.
	outageAt = 4 * time.Second
	outage   = 2 * time.Second
	// reconnectWithin bounds how long after the server is back the bot
	// records again: the SDK retries with a growing back-off, and the
	// publisher has to republish first.
	reconnectWithin = 8 * time.Second
)

// TestReconnect kills and restarts the server under a recording bot (a
// cut, not a shutdown: no leave message reaches the clients): the SDK
// reconnects, the participant who was there before and after stays
// present, and its media has a gap where the server was away.
func TestReconnect(t *testing.T) {
	t.Parallel() // a namespace and a server of its own
	const room = "flaky"
	srv := inRoom(t, room)
	if srv == nil {
		return // the test ran in its namespace child
	}
	ctx := t.Context()
	alice, err := lktest.JoinAndPublish(ctx, srv.URL, room, "alice", "Alice", clip(t, 0, true, lktest.Size{W: 320, H: 180}))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Leave()
	s, err := recorder.NewSession(recorder.Config{ID: "flaky", Dir: testDir(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := startBot(t, srv, room, s)
	time.Sleep(outageAt)
	down := s.Elapsed()
	srv.Kill()
	time.Sleep(outage)
	up := s.Elapsed()
	lktest.StartServer(t, srv.Addr) // same address and ports: the clients come back
	t.Logf("server away %.2fs-%.2fs", down.Seconds(), up.Seconds())
	time.Sleep(reconnectWithin + 2*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Record: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(s.ManifestPath())
	if err != nil {
		t.Fatal(err)
	}
	var p *manifest.Participant
	for i := range m.Participants {
		if m.Participants[i].Key() == "alice" {
			p = &m.Participants[i]
		}
	}
	if p == nil {
		t.Fatalf("alice not recorded")
	}
	t.Logf("alice presence %+v", p.Intervals())
	for _, tr := range p.Tracks {
		end := -1.0
		if tr.EndS != nil {
			end = *tr.EndS
		}
		t.Logf("alice %s track %s: %.2fs-%.2fs", tr.Kind, tr.Path, tr.StartS, end)
	}
	if n := len(p.Intervals()); n != 1 {
		t.Errorf("alice has %d presence intervals, want 1: she never left", n)
	}
	var before, after bool
	for _, tr := range p.Tracks {
		if tr.Kind != manifest.KindVideo {
			continue
		}
		start := manifest.FromSeconds(tr.StartS)
		if start < down && tr.EndS != nil && manifest.FromSeconds(*tr.EndS) <= up+presenceTolerance {
			before = true
		}
		if start >= down && start < up+reconnectWithin {
			after = true
		}
	}
	if !before || !after {
		t.Errorf("want a video track ending in the outage and one starting within %v after it", reconnectWithin)
	}
}

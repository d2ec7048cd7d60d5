package livekit_test

import (
	"context"
	"testing"
	"time"

	lkproto "github.com/livekit/protocol/livekit"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/livekit"
)

// endAfter is when each case of TestCleanEnds ends the recording.
const endAfter = 4 * time.Second

// TestCleanEnds ends a recording in each of the ways that are not errors:
// Record returns nil soon after, and the participant it recorded has left
// the session then.
func TestCleanEnds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// setup returns the bot's Config and what ends the recording.
		setup func(t *testing.T, srv *lktest.Server, room string, cancel context.CancelFunc) (livekit.Config, func() error)
	}{
		{"token expires", func(t *testing.T, srv *lktest.Server, room string, _ context.CancelFunc) (livekit.Config, func() error) {
			t.Helper()
			// Token expiry has a resolution of a second.
			tok, err := livekit.BotToken(lktest.APIKey, lktest.APISecret, room, "bot", "Bot", endAfter)
			if err != nil {
				t.Fatal(err)
			}
			return livekit.Config{URL: srv.URL, Token: tok}, nil
		}},
		{"bot removed", func(t *testing.T, srv *lktest.Server, room string, _ context.CancelFunc) (livekit.Config, func() error) {
			t.Helper()
			return livekit.Config{URL: srv.URL, APIKey: lktest.APIKey, APISecret: lktest.APISecret, Room: room},
				func() error {
					_, err := srv.RoomService().RemoveParticipant(t.Context(), &lkproto.RoomParticipantIdentity{
						Room: room, Identity: livekit.DefaultIdentity,
					})
					return err
				}
		}},
		{"context cancelled", func(t *testing.T, srv *lktest.Server, room string, cancel context.CancelFunc) (livekit.Config, func() error) {
			t.Helper()
			return livekit.Config{URL: srv.URL, APIKey: lktest.APIKey, APISecret: lktest.APISecret, Room: room},
				func() error { cancel(); return nil }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // a namespace and a server of its own
			const room = "ends"
			srv := inRoom(t, room)
			if srv == nil {
				return // the test ran in its namespace child
			}
			alice, err := lktest.JoinAndPublish(t.Context(), srv.URL, room, "alice", "Alice", clip(t, 0, false))
			if err != nil {
				t.Fatal(err)
			}
			defer alice.Leave()
			s, err := recorder.NewSession(recorder.Config{DisableFiles: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close(context.Background()) }()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			cfg, end := c.setup(t, srv, room, cancel)
			cfg.Logger = testLogger(t)
			done := make(chan error, 1)
			go func() { done <- livekit.Record(ctx, s, cfg) }()
			start := time.Now()

			deadline := time.Now().Add(endAfter)
			for time.Now().Before(deadline) {
				if p, ok := s.Participant("alice"); ok && p.Present() {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if p, ok := s.Participant("alice"); !ok || !p.Present() {
				t.Fatalf("alice not recorded within %v", endAfter)
			}
			if end != nil {
				time.Sleep(time.Until(start.Add(endAfter)))
				if err := end(); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Record: %v", err)
				}
				took := time.Since(start)
				t.Logf("Record returned after %v", took.Round(time.Millisecond))
				if took < endAfter-time.Second || took > endAfter+endTolerance {
					t.Errorf("Record returned after %v, want about %v", took, endAfter)
				}
			case <-time.After(endAfter + endTolerance):
				t.Fatalf("Record still running %v after the end", endTolerance)
			}
			if p, _ := s.Participant("alice"); p.Present() {
				t.Errorf("alice still present in the session after Record returned")
			}
		})
	}
}

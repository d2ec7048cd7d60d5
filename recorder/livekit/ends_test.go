package livekit_test

import (
	"context"
	"log/slog"
	"sync"
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

// leaveAfter is how long after the bot started recording her track the
// publisher of TestLeaveKeepsFrames leaves: inside pionrec's one-second
// settle window, before the SFU's first Sender Report for the track has
// reliably reached the bot, so that frames are pending when she goes.
const leaveAfter = 700 * time.Millisecond

// maxResyncDrops bounds the Opus packets a step back of the audio clock
// may drop when the first Sender Report places the track: a few 20 ms
// packets (the arrival-time anchor is off by a few tens of milliseconds).
const maxResyncDrops = 5

// trackEndLog collects pionrec's "track ended" and "frames lost" records.
type trackEndLog struct {
	mu    sync.Mutex
	ended []map[string]int64
	lost  int
}

func (l *trackEndLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *trackEndLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r.Message {
	case "track ended":
		attrs := map[string]int64{}
		r.Attrs(func(a slog.Attr) bool {
			if a.Value.Kind() == slog.KindInt64 {
				attrs[a.Key] = a.Value.Int64()
			}
			return true
		})
		if _, ok := attrs["packets"]; ok {
			l.ended = append(l.ended, attrs)
		}
	case "frames lost: the track was stopped before they were written":
		l.lost++
	}
	return nil
}

func (l *trackEndLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *trackEndLog) WithGroup(string) slog.Handler      { return l }

// TestLeaveKeepsFrames has a publisher leave the room soon after the bot
// started recording her microphone: every packet the bot received is a
// frame in her file, though the leave came while frames waited for a
// Sender Report (before the bot drained its recordings first, those were
// dropped).
func TestLeaveKeepsFrames(t *testing.T) {
	t.Parallel() // a namespace and a server of its own
	const room = "leave"
	srv := inRoom(t, room)
	if srv == nil {
		return // the test ran in its namespace child
	}
	ctx := t.Context()
	started, left := make(chan struct{}, 1), make(chan struct{}, 1)
	s, err := recorder.NewSession(recorder.Config{ID: "leave", Dir: testDir(t), Sinks: []recorder.Sink{recorder.EventFunc(func(e recorder.Event) {
		ch := map[recorder.EventKind]chan struct{}{recorder.TrackStarted: started, recorder.ParticipantLeft: left}[e.Kind]
		if ch != nil {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &trackEndLog{}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- livekit.Record(bctx, s, livekit.Config{
			URL: srv.URL, APIKey: lktest.APIKey, APISecret: lktest.APISecret, Room: room,
			Logger: slog.New(logs),
		})
	}()
	alice, err := lktest.Join(ctx, srv.URL, room, "alice", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PublishAudio(clip(t, 0, false), lkproto.TrackSource_MICROPHONE, "mic"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(endAfter):
		t.Fatal("the bot did not start recording alice's microphone")
	}
	time.Sleep(leaveAfter)
	alice.Leave()
	// The bot sees her go, drains and makes her leave.
	select {
	case <-left:
	case <-time.After(endAfter):
		t.Fatal("alice never left the session")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.ended) != 1 {
		t.Fatalf("tracks ended: %v, want alice's microphone", logs.ended)
	}
	st := logs.ended[0]
	t.Logf("alice's microphone: %v", st)
	// Each Opus packet is a frame: written, or dropped by an audio clock
	// step back on the first Sender Report (pionrec's resync, counted).
	if logs.lost > 0 || st["unwritten"] > 0 || st["packets"] == 0 || st["frames"]+st["dropped"] != st["packets"] || st["dropped"] > maxResyncDrops {
		t.Errorf("%d packets received, %d frames written, %d dropped by a clock step, %d unwritten (%d reports of frames lost)",
			st["packets"], st["frames"], st["dropped"], st["unwritten"], logs.lost)
	}
}

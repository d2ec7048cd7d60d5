package bot

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/recorder/browser"
	"github.com/roomtape/roomtape/timeline/manifest"
)

func TestBrowserFlags(t *testing.T) {
	env := func(kv map[string]string) Env {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	base := []string{"--env-file", ""}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		mode Mode
		err  bool
	}{
		{"daily with key", []string{"--daily-url", "https://acme.daily.co/standup"}, map[string]string{"DAILY_API_KEY": "k"}, ModeDaily, false},
		{"daily with token", []string{"--daily-url", "https://acme.daily.co/standup", "--daily-token", "t"}, nil, ModeDaily, false},
		{"daily without credentials", []string{"--daily-url", "https://acme.daily.co/standup"}, nil, 0, true},
		{"daily and livekit", []string{"--daily-url", "https://acme.daily.co/s", "--daily-token", "t", "--room-url", "ws://h", "--token", "x"}, nil, 0, true},
		{"via browser", []string{"--room-url", "ws://h:7880", "--token", "x", "--via-browser"}, nil, ModeLiveKit, false},
		{"via browser without room", []string{"--via-browser"}, nil, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseArgs(append(append([]string(nil), base...), c.args...), env(c.env), io.Discard)
			if c.err {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("error %v, want ErrConfig", err)
				}
				return
			}
			if err != nil || cfg.Mode != c.mode {
				t.Fatalf("mode %v, error %v; want %v", cfg.Mode, err, c.mode)
			}
		})
	}
}

// TestDailyTokenMinted: with DAILY_API_KEY and no token the bot mints a
// hidden, non-sending meeting token for the room through the REST API.
func TestDailyTokenMinted(t *testing.T) {
	var props map[string]any
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/meeting-tokens" || r.Header.Get("Authorization") != "Bearer k3y" {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		var body struct {
			Properties map[string]any `json:"properties"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		props = body.Properties
		_, _ = w.Write([]byte(`{"token":"minted"}`))
	}))
	defer api.Close()
	cfg, err := ParseArgs([]string{"--env-file", "", "--daily-url", "https://acme.daily.co/standup"},
		func(k string) (string, bool) {
			v, ok := map[string]string{"DAILY_API_KEY": "k3y", "DAILY_API_URL": api.URL + "/v1"}[k]
			return v, ok
		}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	room, _, err := browserRoom(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := room.(browser.DailyRoom); !ok || d.Token != "minted" || d.URL != "https://acme.daily.co/standup" {
		t.Fatalf("room %v", room)
	}
	if props["room_name"] != "standup" || props["user_name"] != browser.DailyBotName {
		t.Errorf("token properties %v", props)
	}
}

// TestLiveKitViaBrowser runs the bot with --room-url --via-browser
// against a real livekit-server (in a network namespace) with one
// synthetic publisher, and checks that the composed MP4 shows and plays
// it: the bot's wiring of the browser bridge (join, hidden bot, idle end,
// composition). The bridge's own checks are recorder/browser's tests.
func TestLiveKitViaBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("records a LiveKit room through Chromium")
	}
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return
	}
	srv := lktest.StartServer(t, ns.Addr)
	ctx, cancel := context.WithTimeout(t.Context(), lkTimeout)
	defer cancel()
	const w, h = 320, 180
	recDir := t.TempDir()
	cfg, err := ParseArgs([]string{
		"--room-url", srv.URL, "--api-key", lktest.APIKey, "--api-secret", lktest.APISecret,
		"--room", "standup", "--via-browser", "--idle-timeout", lkIdle.String(),
		"--width", "320", "--height", "180", "--preset", "ultrafast",
		"--recordings-dir", recDir, "--env-file", "",
	}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	done := runAsync(ctx, cfg, Options{Out: &out, Logger: testLogger(t)})
	clip, err := lktest.MakeClip(ctx, t.TempDir(), 0, []lktest.Size{{W: 320, H: 180}}, false)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := lktest.JoinAndPublish(ctx, srv.URL, "standup", "alice", "Alice", clip)
	if err != nil {
		t.Fatal(err)
	}
	// Alice stays lkStay from when the bridge has her in the session:
	// Chromium's start and join take seconds on a loaded machine, and
	// her recorded presence must hold enough markers to check.
	waitRecorded(ctx, t, recDir, "alice")
	time.Sleep(lkStay)
	pub.Leave()
	var r runResult
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatalf("bot did not finish: %v\n%s", ctx.Err(), out.String())
	}
	t.Logf("bot output:\n%s", out.String())
	if r.err != nil {
		t.Fatal(r.err)
	}
	m, err := manifest.Load(r.res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Participants) != 1 || m.Participants[0].Name != "Alice" {
		t.Fatalf("participants %+v, want Alice only (the bot is hidden)", m.Participants)
	}
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	checkSyntheticAV(t, r.res.Output, cm, w, h, []synthParticipant{{"Alice", 0}}, lkAVTolerance)
}

// waitRecorded waits until a session.json under dir lists participant id.
func waitRecorded(ctx context.Context, t *testing.T, dir, id string) {
	t.Helper()
	for {
		paths, _ := filepath.Glob(filepath.Join(dir, "*", "session.json"))
		for _, p := range paths {
			if m, err := manifest.Load(p); err == nil {
				for _, pp := range m.Participants {
					if pp.Key() == id {
						return
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never recorded under %s: %v", id, dir, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

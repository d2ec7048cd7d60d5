package bot

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// TestRecorderHook records a WHIP publisher through the bot with
// Options.Recorder cutting segments: the session is segmented and every
// segment reaches the hook's OnFile.
func TestRecorderHook(t *testing.T) {
	const (
		idle    = time.Second
		publish = 3 * time.Second
	)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cfg, err := ParseArgs([]string{
		"--whip-listen", "127.0.0.1:0", "--ice-loopback", "--idle-timeout", idle.String(), "--no-compose",
		"--recordings-dir", t.TempDir(), "--env-file", "",
	}, mapEnv(map[string]string{"WHIP_TOKEN": "recorder-hook-token-0123456789"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	files := map[string]bool{}
	urls := make(chan string, 1)
	done := runAsync(ctx, cfg, Options{
		Logger: testLogger(t), OnListen: func(u string) { urls <- u },
		Recorder: func(c *recorder.Config) {
			c.SegmentDuration = recorder.MinSegmentDuration
			c.OnFile = func(p string) {
				mu.Lock()
				defer mu.Unlock()
				files[filepath.Base(p)] = true
			}
		},
	})
	var whipURL string
	select {
	case whipURL = <-urls:
	case r := <-done:
		t.Fatalf("bot ended before listening: %v", r.err)
	}
	pub, err := synth.Publish(ctx, whipURL, synth.Participant{Name: "alice", Index: 1, Token: "recorder-hook-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(publish)
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	m, err := manifest.Load(r.res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != manifest.FormatSegments || len(m.Participants) != 1 {
		t.Fatalf("format %d, %d participants: want a segmented session of alice", m.Format, len(m.Participants))
	}
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, tr := range m.Participants[0].Tracks {
		for _, sg := range tr.Segments {
			n++
			if !files[filepath.Base(sg.Path)] {
				t.Errorf("segment %s did not reach OnFile (got %v)", sg.Path, files)
			}
		}
	}
	if n < 4 {
		t.Errorf("%d segments in %v of two tracks cut every %v", n, publish, recorder.MinSegmentDuration)
	}
	if !files[recorder.ManifestName] {
		t.Error("session.json did not reach OnFile")
	}
}

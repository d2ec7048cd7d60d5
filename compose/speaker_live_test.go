package compose_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// replay is a finished session shown to [compose.Live] as if it were being
// recorded: presence runs until now and the files are not complete until
// the end. The files are on disk whole: the composition must not use what
// lies past the live edge (the speaker detection drops levels after it).
type replay struct {
	m     *manifest.Session
	start time.Time
	once  sync.Once
}

func (r *replay) Elapsed() time.Duration {
	r.once.Do(func() { r.start = time.Now() })
	return time.Since(r.start)
}

func (r *replay) Manifest() *manifest.Session {
	now := r.Elapsed()
	c := r.m.Clone()
	end := r.m.End()
	if now >= end {
		e := manifest.ToSeconds(end)
		c.EndTimeS = &e
		return c
	}
	c.EndTimeS = nil
	for i := range c.Participants {
		p := &c.Participants[i]
		p.LeaveTimeS = min(p.LeaveTimeS, manifest.ToSeconds(now))
	}
	return c
}

// TestSpeakerLive composes talkPlan live, Config.Delay behind the edge:
// the speaker detection looks ahead only within the delay, and the main
// area still shows the planned speaker at each turn, as after the call.
func TestSpeakerLive(t *testing.T) {
	dir := t.TempDir()
	s, _, err := testmedia.Make(context.Background(), dir, talkPlan, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "live.mp4")
	cfg := testConfig
	cfg.Layout = timeline.Speaker
	ctx, cancel := context.WithTimeout(context.Background(), s.End()+time.Minute)
	defer cancel()
	if err := compose.Live(ctx, &replay{m: s}, out, cfg); err != nil {
		t.Fatal(err)
	}
	checkMain(t, out, timeline.Speaker, s.End())
}

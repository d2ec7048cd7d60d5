package browser

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// logRecorder keeps the messages of the records logged through it.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

// dailyEvents are Daily's documented event payloads (daily-js
// "participant-joined", "participant-updated", "participant-left",
// "track-started", "track-stopped"), emitted on the real call object the
// adapter built; tracks are real MediaStreamTracks from a canvas.
const dailyEvents = `(async () => {
  const call = window.dailyCall;
  const alice = {session_id: 's-1', user_id: 'u-alice', user_name: 'Alice', local: false, tracks: {}};
  const bob = {session_id: 's-2', user_name: 'Bob', local: false, tracks: {}};
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  call.emit('participant-joined', {action: 'participant-joined', participant: alice});
  await pause(300);
  call.emit('participant-joined', {action: 'participant-joined', participant: bob});
  await pause(300);
  const canvas = document.createElement('canvas');
  const screen = canvas.captureStream(5).getVideoTracks()[0];
  call.emit('track-started', {action: 'track-started', participant: {...alice, tracks: {screenVideo: {state: 'playable', track: screen, persistentTrack: screen}}}, track: screen, type: 'screenVideo'});
  call.emit('participant-updated', {action: 'participant-updated', participant: {...alice, user_name: 'Alice B.'}});
  await pause(300);
  call.emit('track-stopped', {action: 'track-stopped', participant: alice, track: screen, type: 'screenVideo'});
  call.emit('participant-left', {action: 'participant-left', participant: bob, reason: 'hidden'});
  await pause(300);
  return true;
})()`

// TestDailyAdapter loads the real daily-js bundle in Chromium, builds a
// call object in call-object mode (without joining: this machine cannot
// reach Daily) and drives the adapter with Daily's documented event
// payloads; the recorder must see the joins and leaves, the untappable
// track logged, and each kind of end mapped to Record's result.
func TestDailyAdapter(t *testing.T) {
	if _, err := os.Stat(DefaultChromium); err != nil {
		if os.Getenv("ROOMTAPE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium: %v", err)
		}
		t.Skipf("SKIPPING DAILY ADAPTER TEST: %v (run scripts/setup.sh)", err)
	}
	cases := []struct {
		name string
		end  string // JavaScript that ends the meeting
		err  error
	}{
		{"ejected", `window.dailyCall.emit('error', {action: 'error', errorMsg: 'Ejected from meeting', error: {type: 'ejected'}})`, nil},
		{"left meeting", `window.dailyCall.emit('left-meeting', {action: 'left-meeting'})`, nil},
		{"connection error", `window.dailyCall.emit('error', {action: 'error', errorMsg: 'lost', error: {type: 'connection-error'}})`, ErrDisconnected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sess, err := recorder.NewSession(recorder.Config{ID: "daily", Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			logs := &logRecorder{}
			pages := make(chan context.Context, 1)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- Record(ctx, sess, Config{
					Room:   DailyRoom{URL: "https://roomtape.daily.co/standup", Token: "offline", offline: true},
					Logger: slog.New(logs),
					onPage: func(ctx context.Context) { pages <- ctx },
				})
			}()
			var page context.Context
			select {
			case page = <-pages:
			case err := <-done:
				t.Fatalf("Record ended early: %v", err)
			}
			ready := false
			for i := 0; i < 100 && !ready; i++ {
				ready, _ = chromedp.Run(page, chromedp.Evaluate[bool](`!!window.dailyCall && typeof window.Daily.createCallObject === 'function'`))
				if !ready {
					time.Sleep(100 * time.Millisecond)
				}
			}
			if !ready {
				t.Fatal("the daily-js call object never appeared")
			}
			ver, err := chromedp.Run(page, chromedp.Evaluate[string](`String(window.Daily.version ? window.Daily.version() : '')`))
			t.Logf("daily-js %s loaded, call object built (err %v)", ver, err)
			if _, err := chromedp.Run(page, chromedp.Evaluate[bool](dailyEvents, chromedp.EvalAwaitPromise)); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Run(page, chromedp.Evaluate[bool](`setTimeout(() => { `+c.end+` }, 50); true`)); err != nil {
				t.Fatal(err)
			}
			select {
			case err = <-done:
			case <-ctx.Done():
				t.Fatal("Record did not end with the meeting")
			}
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("Record = %v, want %v", err, c.err)
			}
			if err := sess.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Load(sess.ManifestPath())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, p := range m.Participants {
				got[p.Key()+"/"+p.Name] = len(p.Intervals())
			}
			if len(got) != 2 || got["u-alice/Alice"] != 1 || got["s-2/Bob"] != 1 {
				t.Errorf("participants %v: want u-alice (Alice) and s-2 (Bob, no user_id), one interval each", got)
			}
			for _, p := range m.Participants {
				if p.Key() == "s-2" && m.End()-manifest.FromSeconds(p.LeaveTimeS) < 100*time.Millisecond {
					t.Errorf("Bob left at %.2fs, the end (%v): participant-left was not mapped", p.LeaveTimeS, m.End())
				}
			}
			if !logs.has("track cannot be tapped") || !logs.has("source=screen_share") {
				t.Errorf("the screen track without a receiver was not logged as untappable: %v", logs.msgs)
			}
		})
	}
}

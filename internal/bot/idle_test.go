package bot

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// TestIdleRule checks the idle timer's rule on the real bot: refused
// publishers (no token, a bad token, a forged ?id=) never start it, a
// guest who joins and leaves while someone is present does not end the
// session, and the session ends IdleTimeout after the last token holder
// left.
func TestIdleRule(t *testing.T) {
	const (
		token = "idle-rule-token-0123456789"
		idle  = 2 * time.Second
		// wait exceeds idle so that a timer started by mistake fires.
		wait = idle + time.Second
		// endSlack allows the bot's own shutdown after the timer (the
		// WHIP server and the publication closing).
		endSlack = 2 * time.Second
	)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cfg, err := ParseArgs([]string{
		"--whip-listen", "127.0.0.1:0", "--ice-loopback", "--idle-timeout", idle.String(), "--no-compose",
		"--recordings-dir", t.TempDir(), "--env-file", "",
	}, mapEnv(map[string]string{"WHIP_TOKEN": token}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	done := runAsync(ctx, cfg, Options{Logger: testLogger(t), OnListen: func(u string) { urls <- u }})
	var whipURL string
	select {
	case whipURL = <-urls:
	case r := <-done:
		t.Fatalf("bot ended before listening: %v", r.err)
	}
	refused := func(query, auth string, want int) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, whipURL+query, strings.NewReader("v=0\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/sdp")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d", query, resp.StatusCode, want)
		}
	}
	stillRunning := func(phase string) {
		t.Helper()
		select {
		case r := <-done:
			t.Fatalf("%s: the session ended early (%v)", phase, r.err)
		case <-time.After(wait):
		}
	}
	publish := func(name string) *synth.Publisher {
		t.Helper()
		p, err := synth.Publish(ctx, whipURL, synth.Participant{Name: name, Width: 160, Height: 120, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Before anyone joined, refusals do not start the timer.
	refused("?name=Mallory", "", http.StatusUnauthorized)
	refused("?name=Mallory", "Bearer wrong-token-0123456789", http.StatusUnauthorized)
	stillRunning("refused publishers before anyone joined")

	alice := publish("Alice")
	refused("?id=alice&name=Mallory", "Bearer "+token, http.StatusBadRequest)
	guest := publish("Guest")
	time.Sleep(500 * time.Millisecond)
	if err := guest.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stillRunning("a guest joined and left while Alice was present")

	// Alice's leave happens during Close (her DELETE).
	leaving := time.Now()
	if err := alice.Close(ctx); err != nil {
		t.Fatal(err)
	}
	left := time.Now()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("session ended %v..%v after Alice left (idle timeout %v)",
		r.res.RecordingEnded.Sub(left).Round(time.Millisecond), r.res.RecordingEnded.Sub(leaving).Round(time.Millisecond), idle)
	if r.res.RecordingEnded.Before(leaving.Add(idle)) || r.res.RecordingEnded.After(left.Add(idle+endSlack)) {
		t.Fatalf("session ended at %v, want idle %v after the leave in [%v, %v]", r.res.RecordingEnded, idle, leaving, left)
	}
	m, err := manifest.Load(r.res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Participants) != 2 {
		t.Fatalf("%d participants in session.json, want Alice and Guest", len(m.Participants))
	}
}

package service_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/service"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Bounds of the restart test, each with its reason.
const (
	// resumeBound bounds the gap a kill -9 leaves in a recording: what the
	// last checkpoint missed (recorder.DefaultCheckpointInterval, 1 s),
	// the restart (serverStart at worst, about a second here), the
	// takeover (testAckWait after the last heartbeat) and the publishers
	// coming back (they retry every 200 ms), with a loaded machine's
	// slack.
	resumeBound = 20 * time.Second
	// notDelayed bounds the end of a one-person recording after its call
	// when the webhook receiver never answers: the idle timeout (1 s),
	// closing the files and the live composition's last window and remux
	// (about 3 s on a loaded machine), nothing waiting for the receiver.
	notDelayed = 15 * time.Second
)

// TestRestart kills the service with SIGKILL while it records a WHIP room
// and a composition waits in the queue, starts it again on the same data
// directory and address, and checks that the publishers' recording goes
// on as a second part of the same job, composed into one MP4 covering
// both parts with the gap between them, and that the queued composition
// runs. Its webhook receiver never answers, which must not hold up any
// recording.
func TestRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("records three short calls")
	}
	var hung atomic.Int32
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		hung.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	addr, dir := freePort(t), t.TempDir()
	env := []string{"ROOMTAPE_WEBHOOK_SECRET=" + webhookSecret}
	srv := startServer(t, addr, dir, env, "--webhook-url", hang.URL, "--workers", "1")
	ctx := t.Context()
	out := service.Output{Width: outW, Height: outH, Preset: "ultrafast"}

	// A: one participant, recorded to the end, not delayed by the
	// receiver that hangs.
	a := srv.createRecording(service.RecordingRequest{
		Room: service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "carol"}}, IdleTimeoutS: 1}, Output: out,
	})
	pa := publish(ctx, t, a.WHIP.URL, a.WHIP.Tokens["carol"], 0, roomStart)
	time.Sleep(5 * time.Second)
	if err := pa.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	ja, _ := srv.waitJob("/v1/recordings/"+a.Job.ID, jobDone)
	if ja.State != service.StateDone {
		t.Fatalf("A: %s %s", ja.State, ja.Error)
	}
	if d := time.Since(ended); d > notDelayed || hung.Load() == 0 {
		t.Errorf("A done %v after its call (bound %v) with %d webhook attempts hanging", d, notDelayed, hung.Load())
	}

	// B: two participants; the composition of A queues behind it (one
	// worker slot).
	b := srv.createRecording(service.RecordingRequest{
		Room: service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "alice"}, {ID: "bob"}}, IdleTimeoutS: 2}, Output: out,
	})
	bpath := "/v1/recordings/" + b.Job.ID
	pctx, cancelPubs := context.WithCancel(ctx)
	publish(pctx, t, b.WHIP.URL, b.WHIP.Tokens["alice"], 0, roomStart)
	publish(pctx, t, b.WHIP.URL, b.WHIP.Tokens["bob"], 1, roomStart)
	code, body := srv.do("POST", "/v1/compositions", testKey, service.DerivedRequest{Source: a.Job.ID, Output: service.Output{Width: 240, Height: 136, Preset: "ultrafast", Layout: "grid"}})
	if code != http.StatusCreated {
		t.Fatalf("composition: %d %s", code, body)
	}
	var c service.Job
	mustJSON(t, body, &c)
	cpath := "/v1/compositions/" + c.ID
	waitFor(t, 10*time.Second, "B records both", func() bool { return srv.job(bpath).Progress.Participants == 2 })
	time.Sleep(6 * time.Second)
	if st := srv.job(cpath).State; st != service.StateQueued {
		t.Fatalf("composition %s before the kill, want queued", st)
	}
	srv.kill()
	killed := time.Now()
	cancelPubs() // their peer connections died with the server

	srv = startServer(t, addr, dir, env, "--webhook-url", hang.URL, "--workers", "2")
	pubA := publish(ctx, t, b.WHIP.URL, b.WHIP.Tokens["alice"], 0, resumeBound)
	pubB := publish(ctx, t, b.WHIP.URL, b.WHIP.Tokens["bob"], 1, resumeBound)
	back := time.Since(killed)
	t.Logf("publishers back %v after the kill", back)
	time.Sleep(7 * time.Second)
	for _, p := range []*synth.Publisher{pubA, pubB} {
		if err := p.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	jb, states := srv.waitJob(bpath, jobDone)
	if jb.State != service.StateDone || len(jb.Parts) != 2 {
		t.Fatalf("B: %s with %d parts (%v) %s", jb.State, len(jb.Parts), states, jb.Error)
	}
	jc, _ := srv.waitJob(cpath, jobDone)
	if jc.State != service.StateDone {
		t.Fatalf("composition after the restart: %s %s", jc.State, jc.Error)
	}

	// B's output covers both parts with the gap.
	rec, _ := jb.File(service.FileRecording)
	mf, _ := jb.File(service.FileManifest)
	m, err := manifest.Load(mf.Path)
	if err != nil {
		t.Fatal(err)
	}
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cm.Participants {
		iv := p.Intervals()
		if len(iv) != 2 {
			t.Fatalf("%s: presence %+v, want two parts", p.Key(), iv)
		}
		gap := iv[1].Join() - iv[0].Leave()
		t.Logf("%s: %v, gap %v", p.Key(), iv, gap)
		if gap <= 0 || gap > resumeBound {
			t.Errorf("%s: gap %v, want (0, %v]", p.Key(), gap, resumeBound)
		}
	}
	_, flashes := checkOutput(t, rec.Path, cm, outW, outH, []who{{"alice", 0}, {"bob", 1}})
	for id, fs := range flashes {
		p1 := within(fs, 0, cm.Participants[0].Intervals()[0].Leave())
		p2 := within(fs, cm.Participants[0].Intervals()[1].Join(), cm.End())
		if len(p1) == 0 || len(p2) == 0 {
			t.Errorf("%s: %d flashes before the kill, %d after: want both parts in the MP4", id, len(p1), len(p2))
		}
	}
	// The composition of A: decodes at its size, as long as A's call.
	cf, _ := jc.File(service.FileRecording)
	rep, err := mediacheck.Analyze(cf.Path, mediacheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	amf, _ := ja.File(service.FileManifest)
	am, err := manifest.Load(amf.Path)
	if err != nil {
		t.Fatal(err)
	}
	acm, _, err := am.Trim()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Video == nil || rep.Video.Width != 240 || (rep.Duration-acm.End()).Abs() > durTolerance {
		t.Errorf("composition %s: %+v, %v long, want 240x136 and %v", cf.Path, rep.Video, rep.Duration, acm.End())
	}
	srv.stop()
}

package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/service"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Output size of the service tests (small: a 2-core machine composes it
// live beside the recording).
const outW, outH = 320, 180

// webhookSecret signs the test servers' webhooks.
const webhookSecret = "webhook-secret-0123456789"

// receiver is a webhook receiver: it verifies every delivery and answers
// fail (500) to the first delivery of each event when failFirst.
type receiver struct {
	t         *testing.T
	failFirst bool
	mu        sync.Mutex
	tries     map[string]int           // by event ID
	events    map[string]service.Event // delivered (2xx), by ID
	order     []service.EventType
	bad       int
}

func newReceiver(t *testing.T, failFirst bool) (*receiver, *httptest.Server) {
	t.Helper()
	r := &receiver{t: t, failFirst: failFirst, tries: map[string]int{}, events: map[string]service.Event{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := service.VerifySignature(webhookSecret, req.Header.Get(service.SignatureHeader), body, time.Now(), 0); err != nil {
		r.mu.Lock()
		r.bad++
		r.mu.Unlock()
		r.t.Errorf("webhook signature: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	var ev service.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("webhook body: %v", err)
		return
	}
	if id := req.Header.Get(service.WebhookIDHeader); id != ev.ID {
		r.t.Errorf("webhook ID header %q, body %q", id, ev.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries[ev.ID]++
	if r.failFirst && r.tries[ev.ID] == 1 {
		http.Error(w, "down for a moment", 500)
		return
	}
	if _, dup := r.events[ev.ID]; !dup {
		r.order = append(r.order, ev.Type)
	}
	r.events[ev.ID] = ev
}

// delivered returns the events delivered, by type.
func (r *receiver) delivered() map[service.EventType]service.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[service.EventType]service.Event{}
	for _, ev := range r.events {
		out[ev.Type] = ev
	}
	return out
}

// clips are the synthetic participants' media, encoded once.
var (
	clipsOnce sync.Once
	clips     []*synth.Clip
	clipsErr  error
)

// clipLength is a synthetic clip's loop (whole marker periods).
const clipLength = 4 * time.Second

func clip(t *testing.T, index int) *synth.Clip {
	t.Helper()
	clipsOnce.Do(func() {
		for i := range 2 {
			c, err := synth.EncodeClip(synth.Participant{Index: i, Width: 320, Height: 240}, clipLength)
			if err != nil {
				clipsErr = err
				return
			}
			clips = append(clips, c)
		}
	})
	if clipsErr != nil {
		t.Fatal(clipsErr)
	}
	return clips[index%len(clips)]
}

// publish connects synthetic participant index with token to whipURL,
// retrying while the room is not mounted yet (404: the job is queued or
// being resumed) for up to timeout.
func publish(ctx context.Context, t *testing.T, whipURL, token string, index int, timeout time.Duration) *synth.Publisher {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pub, err := synth.PublishClip(ctx, whipURL, synth.Participant{Token: token, Index: index}, clip(t, index))
		if err == nil {
			t.Cleanup(func() { _ = pub.Close(context.Background()) })
			return pub
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "404") {
			t.Fatalf("publish %d: %v", index, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// roomStart bounds the wait for a queued job's WHIP room to open.
const roomStart = 15 * time.Second

// TestRecordWHIP records a service-hosted WHIP room of two synthetic
// publishers through the API of a real server process, composes it live,
// and checks the MP4 and the webhooks (a receiver failing each event's
// first delivery gets it again, signed, with the same idempotency ID).
func TestRecordWHIP(t *testing.T) {
	if testing.Short() {
		t.Skip("records a 10 s call")
	}
	rcv, hook := newReceiver(t, true)
	srv := startServer(t, "127.0.0.1:0", t.TempDir(), []string{"ROOMTAPE_WEBHOOK_SECRET=" + webhookSecret}, "--webhook-url", hook.URL)
	resp := srv.createRecording(service.RecordingRequest{
		Room:   service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "alice", Name: "Alice"}, {ID: "bob", Name: "Bob"}}, IdleTimeoutS: 2},
		Output: service.Output{Width: outW, Height: outH, Preset: "ultrafast"},
	})
	if resp.WHIP == nil || len(resp.WHIP.Tokens) != 2 {
		t.Fatalf("no WHIP room in %+v", resp)
	}
	path := "/v1/recordings/" + resp.Job.ID
	ctx := t.Context()
	a := publish(ctx, t, resp.WHIP.URL, resp.WHIP.Tokens["alice"], 0, roomStart)
	time.Sleep(time.Second)
	b := publish(ctx, t, resp.WHIP.URL, resp.WHIP.Tokens["bob"], 1, roomStart)
	waitFor(t, 5*time.Second, "two participants in the progress", func() bool { return srv.job(path).Progress.Participants == 2 })
	time.Sleep(8 * time.Second)
	for _, p := range []*synth.Publisher{a, b} {
		if err := p.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	j, states := srv.waitJob(path, jobDone)
	t.Logf("states %v, files %+v", states, j.Files)
	if j.State != service.StateDone {
		t.Fatalf("job %s: %s", j.State, j.Error)
	}
	for _, want := range []service.State{service.StateRecording, service.StateComposing} {
		if !containsState(states, want) {
			t.Errorf("state %s never seen (%v)", want, states)
		}
	}
	rec, ok := j.File(service.FileRecording)
	mf, ok2 := j.File(service.FileManifest)
	if !ok || !ok2 {
		t.Fatalf("files %+v", j.Files)
	}
	code, body := srv.do("GET", path+"/files/recording.mp4", testKey, nil)
	if code != 200 || int64(len(body)) != rec.Bytes {
		t.Errorf("GET recording.mp4: %d, %d bytes, want %d", code, len(body), rec.Bytes)
	}
	m, err := manifest.Load(mf.Path)
	if err != nil {
		t.Fatal(err)
	}
	cm, _, err := m.Trim()
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, rec.Path, cm, outW, outH, []who{{"alice", 0}, {"bob", 1}})

	_, metrics := srv.do("GET", "/metrics", readKey, nil)
	for _, want := range []string{`roomtape_jobs{kind="record",state="done"} 1`, `roomtape_job_cpu_seconds_total{kind="record"}`, "roomtape_bytes_written_total"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Webhooks: each event failed once, then delivered.
	want := []service.EventType{service.EventRecordingStarted, service.EventRecordingEnded, service.EventRecordingReady}
	waitFor(t, 30*time.Second, "webhooks delivered", func() bool { return len(rcv.delivered()) >= len(want) })
	got := rcv.delivered()
	for _, w := range want {
		ev, ok := got[w]
		if !ok {
			t.Errorf("no %s event", w)
			continue
		}
		if ev.Job.ID != j.ID {
			t.Errorf("%s for job %s, want %s", w, ev.Job.ID, j.ID)
		}
		rcv.mu.Lock()
		if n := rcv.tries[ev.ID]; n < 2 {
			t.Errorf("%s delivered in %d attempts: want a retry after the 500", w, n)
		}
		rcv.mu.Unlock()
	}
	if ev := got[service.EventRecordingReady]; ev.Job.State != service.StateDone || len(ev.Job.Files) == 0 {
		t.Errorf("recording.ready carries %s with files %+v", ev.Job.State, ev.Job.Files)
	}
	checkNoSecrets(t, srv.logs.String(), append([]string{testKey, readKey, webhookSecret}, tokens(resp)...))
	srv.stop()
}

func containsState(ss []service.State, s service.State) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func tokens(r service.RecordingResponse) []string {
	var out []string
	if r.WHIP != nil {
		for _, tok := range r.WHIP.Tokens {
			out = append(out, tok)
		}
	}
	return out
}

// checkNoSecrets fails if any secret appears in the logs.
func checkNoSecrets(t *testing.T, logs string, secrets []string) {
	t.Helper()
	if logs == "" {
		t.Error("no logs to check")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("a secret (%d bytes) is in the logs", len(s))
		}
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

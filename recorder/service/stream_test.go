package service_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/rtmptest"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder/service"
)

// streamKey is the RTMP stream key of the tests: a secret that must show
// nowhere (answers, logs, webhooks, metrics).
const streamKey = "sk-live-0123456789abcdef"

// tlsStreamKey is the RTMPS target's key.
const tlsStreamKey = "sk-tls-fedcba9876543210"

// Bounds of the stream test, each with its reason.
const (
	// streamUp bounds the wait for a stream output to connect: the
	// live composition starts after its delay (compose.DefaultDelay) and
	// a loaded machine lags behind it.
	streamUp = 30 * time.Second
	// streamOutage is how long the RTMP server stays dead: several
	// backoff steps (0.5 s doubling), so that the output fails more than
	// once while the service reports it down.
	streamOutage = 3 * time.Second
	// minResumedFrames is the least number of video frames the RTMP
	// server's recording after its restart must hold: the call goes on
	// streamAfter after the reconnection, and the stream to its end (the
	// live composition's delay later); half of that at the output's
	// 30 fps leaves room for the keyframe the resumed push waits for.
	minResumedFrames = int(streamAfter/time.Second) * outFPS / 2
	// streamAfter is how long the call goes on after the reconnection.
	streamAfter = 4 * time.Second
)

// TestRecordStreams records a WHIP room through the API of a real server
// process with output.rtmp (a real nginx-rtmp, over RTMP and over RTMPS,
// its certificate trusted through SSL_CERT_FILE) and output.hls: the job
// shows the targets redacted and its outputs' state, the live HLS
// playlist and its segments are served while the call runs, the RTMP
// server's death and return are reported (job, webhooks, metrics) and
// survived (reconnections, each stream recorded in two parts, the resumed
// ones decode), and no stream key shows in any answer, log line or
// webhook.
func TestRecordStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("records a 15 s call with an RTMP server")
	}
	rtmp := rtmptest.StartTLS(t)
	rcv, hook := newReceiver(t, false)
	srv := startServer(t, "127.0.0.1:0", t.TempDir(), []string{"ROOMTAPE_WEBHOOK_SECRET=" + webhookSecret, "SSL_CERT_FILE=" + rtmp.CertFile}, "--webhook-url", hook.URL)
	target, tlsTarget := rtmp.URL(streamKey), rtmp.TLSURL(tlsStreamKey)
	code, body := srv.do("POST", "/v1/recordings", testKey, service.RecordingRequest{
		Room:   service.Room{Type: service.RoomWHIP, Participants: []service.Grant{{ID: "alice"}, {ID: "bob"}}, IdleTimeoutS: 2},
		Output: service.Output{Width: outW, Height: outH, Preset: "ultrafast", RTMP: []string{target, tlsTarget}, HLS: true},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if strings.Contains(string(body), streamKey) || strings.Contains(string(body), tlsStreamKey) {
		t.Errorf("the create answer shows a stream key: %s", body)
	}
	var resp service.RecordingResponse
	mustJSON(t, body, &resp)
	if got := resp.Job.Output.RTMP; len(got) != 2 || !strings.HasSuffix(got[0], "/live/REDACTED") || !strings.HasPrefix(got[1], "rtmps://") || !strings.HasSuffix(got[1], "/live/REDACTED") {
		t.Errorf("the job shows output.rtmp %q, want the URLs redacted", got)
	}
	path := "/v1/recordings/" + resp.Job.ID
	ctx := t.Context()
	a := publish(ctx, t, resp.WHIP.URL, resp.WHIP.Tokens["alice"], 0, roomStart)
	b := publish(ctx, t, resp.WHIP.URL, resp.WHIP.Tokens["bob"], 1, roomStart)

	streams := func() []service.StreamState {
		code, body := srv.do("GET", path, testKey, nil)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		if strings.Contains(string(body), streamKey) || strings.Contains(string(body), tlsStreamKey) {
			t.Fatalf("the job shows a stream key: %s", body)
		}
		var j service.Job
		mustJSON(t, body, &j)
		return j.Streams
	}
	up := func(i int) func() bool {
		return func() bool { st := streams(); return len(st) == 3 && st[i].Connected }
	}
	waitFor(t, streamUp, "the RTMP output connected", up(0))
	waitFor(t, streamUp, "the RTMPS output connected", up(1))
	waitFor(t, streamUp, "the HLS output writing", up(2))
	if st := streams(); st[2].Target != "hls" || !strings.HasSuffix(st[2].URL, path+"/hls/"+service.HLSLivePlaylist) {
		t.Errorf("HLS output %+v", st[2])
	}

	// The live playlist and its segments while the call runs.
	hlsPath := path + "/hls/" + service.HLSLivePlaylist
	var playlist string
	waitFor(t, streamUp, "a live playlist with a segment", func() bool {
		code, body := srv.do("GET", hlsPath, readKey, nil)
		playlist = string(body)
		return code == 200 && strings.Contains(playlist, ".ts")
	})
	seg := regexp.MustCompile(`(?m)^seg[0-9]+\.ts$`).FindString(playlist)
	if code, body := srv.do("GET", path+"/hls/"+seg, readKey, nil); code != 200 || len(body) < 188 || body[0] != 0x47 {
		t.Errorf("GET segment %q: %d, %d bytes (want MPEG-TS)", seg, code, len(body))
	}
	for _, bad := range []string{"../session.json", "x.m3u8", "seg1.ts.tmp"} {
		if code, _ := srv.do("GET", path+"/hls/"+bad, readKey, nil); code != http.StatusNotFound {
			t.Errorf("GET hls/%s: %d, want 404", bad, code)
		}
	}
	if code, _ := srv.do("GET", hlsPath, "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET the playlist without a key: %d, want 401", code)
	}

	// The RTMP server dies and comes back: reported down, then up again.
	time.Sleep(time.Second)
	rtmp.Kill()
	waitFor(t, streamUp, "the RTMP outputs reported down", func() bool {
		st := streams()
		return !st[0].Connected && st[0].Failures > 0 && st[0].Error != "" && !st[1].Connected && st[1].Failures > 0
	})
	time.Sleep(streamOutage)
	if err := rtmp.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, streamUp, "the RTMP outputs reconnected", func() bool {
		st := streams()
		return st[0].Connected && st[0].Reconnects > 0 && st[1].Connected && st[1].Reconnects > 0
	})
	time.Sleep(streamAfter)
	for _, p := range []*synth.Publisher{a, b} {
		if err := p.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	j, _ := srv.waitJob(path, jobDone)
	if j.State != service.StateDone {
		t.Fatalf("job %s: %s", j.State, j.Error)
	}
	if len(j.Streams) != 3 {
		t.Fatalf("streams %+v", j.Streams)
	}
	h := j.Streams[2]
	for _, r := range j.Streams[:2] {
		t.Logf("%+v", r)
		if r.Connected || r.Reconnects < 1 || r.Failures < 1 || r.Packets == 0 || r.Error == "" {
			t.Errorf("final state %+v: want disconnected, a reconnection, a failure, packets and the last error", r)
		}
		if r.Dropped == 0 {
			t.Errorf("%s dropped nothing over a %v outage: what waited must be skipped to a keyframe", r.Target, streamOutage)
		}
	}
	t.Logf("%+v", h)
	if h.Packets == 0 || h.Failures != 0 {
		t.Errorf("final HLS state %+v", h)
	}
	if code, body := srv.do("GET", path+"/hls/"+service.HLSVODPlaylist, readKey, nil); code != 200 || !strings.Contains(string(body), "#EXT-X-ENDLIST") {
		t.Errorf("VOD playlist: %d %.200s", code, body)
	}

	// The server recorded two publications of each key (KEY-UNIXTIME.flv,
	// oldest first); the resumed ones decode.
	for _, key := range []string{streamKey, tlsStreamKey} {
		var recs []string
		for _, f := range rtmp.Recordings() {
			if strings.HasPrefix(filepath.Base(f), key+"-") {
				recs = append(recs, f)
			}
		}
		if len(recs) < 2 {
			t.Errorf("the RTMP server recorded %d publications of a key, want 2 (before and after its restart)", len(recs))
			continue
		}
		rep, err := mediacheck.Analyze(recs[len(recs)-1], mediacheck.Options{})
		if err != nil {
			t.Fatalf("the resumed stream: %v", err)
		}
		if rep.Video == nil || rep.Video.Frames < minResumedFrames || rep.Audio == nil || rep.Video.Width != outW {
			t.Errorf("the resumed stream: video %+v, audio %+v: want %d px wide video of at least %d frames, and audio", rep.Video, rep.Audio, outW, minResumedFrames)
		}
	}

	// Metrics.
	_, metrics := srv.do("GET", "/metrics", readKey, nil)
	for _, name := range []string{"roomtape_stream_reconnects_total", "roomtape_stream_failures_total", "roomtape_stream_dropped_packets_total"} {
		for _, kind := range []string{"rtmp", "rtmps"} {
			if v := metricValue(string(metrics), name+`{kind="`+kind+`"}`); v < 1 {
				t.Errorf("%s{kind=%q} = %v, want at least 1", name, kind, v)
			}
		}
	}

	// Webhooks: connected, failed once for the outage, connected again.
	waitFor(t, 30*time.Second, "stream webhooks", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return count(rcv.order, service.EventStreamConnected) >= 5 && count(rcv.order, service.EventStreamFailed) >= 2 &&
			count(rcv.order, service.EventRecordingReady) == 1
	})
	rcv.mu.Lock()
	if n := count(rcv.order, service.EventStreamFailed); n != 2 {
		t.Errorf("%d stream_failed events for one outage of two outputs: want 2 (%v)", n, rcv.order)
	}
	for _, ev := range rcv.events {
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), streamKey) || strings.Contains(string(b), tlsStreamKey) {
			t.Errorf("webhook %s shows a stream key", ev.Type)
		}
	}
	rcv.mu.Unlock()
	checkNoSecrets(t, srv.logs.String(), []string{testKey, readKey, webhookSecret, streamKey, tlsStreamKey, target, tlsTarget})
	srv.stop()
}

func count(ts []service.EventType, want service.EventType) int {
	n := 0
	for _, t := range ts {
		if t == want {
			n++
		}
	}
	return n
}

// metricValue is the value of the sample name{labels} in a Prometheus
// text exposition (-1 when absent).
func metricValue(text, sample string) float64 {
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

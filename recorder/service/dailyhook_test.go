package service_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomtape/roomtape/recorder/service"
)

// dailyHookSecret is a Daily webhook hmac secret as Daily gives it
// (base64 of 32 bytes).
var dailyHookSecret = base64.StdEncoding.EncodeToString([]byte("daily-webhook-secret-0123456789ab"))

// dailyHookJob bounds how long an auto-recorded Daily job takes to appear
// and to take its stop request (queue round trips on a loaded machine).
const dailyHookJob = 20 * time.Second

// postDaily posts a Daily webhook body signed at ts with secret (sig
// overrides the signature when not empty).
func postDaily(t *testing.T, srv *server, body string, ts time.Time, secret, sig string) int {
	t.Helper()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	if sig == "" {
		var err error
		if sig, err = service.SignDailyWebhook(secret, stamp, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest("POST", srv.URL+"/v1/daily/webhook", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Timestamp", stamp)
	req.Header.Set("X-Webhook-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func dailyEvent(typ, room string) string {
	return `{"version":"1.0.0","type":"` + typ + `","id":"ev-` + room + `","payload":{"room":"` + room + `","meeting_id":"m1","start_ts":1},"event_ts":1}`
}

// TestDailyAutoRecord drives the Daily webhook receiver of a real server
// process with Daily's documented events, signed as Daily signs them.
// Daily's servers cannot exist here: the worker's meeting-token request
// goes to a local stand-in of Daily's REST API that holds it, so that
// the job is still running when meeting.ended arrives.
func TestDailyAutoRecord(t *testing.T) {
	var mints atomic.Int32
	release := make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mints.Add(1)
		select { // hold the token request until the test has stopped the job
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "stand-in", http.StatusServiceUnavailable)
	}))
	defer api.Close()
	defer letGo()
	srv := startServer(t, "127.0.0.1:0", t.TempDir(),
		[]string{"DAILY_API_KEY=daily-test-api-key", "DAILY_API_URL=" + api.URL, "DAILY_WEBHOOK_SECRET=" + dailyHookSecret},
		"--daily-domain", "acme", "--daily-auto-record", "stand*")
	now := time.Now()

	// Refused: no signature, a wrong one, another secret, a stale one.
	other := base64.StdEncoding.EncodeToString([]byte("another-secret-0123456789abcdef"))
	for name, code := range map[string]int{
		"wrong signature": postDaily(t, srv, dailyEvent("meeting.started", "standup"), now, dailyHookSecret, "AAAA"),
		"other secret":    postDaily(t, srv, dailyEvent("meeting.started", "standup"), now, other, ""),
		"stale":           postDaily(t, srv, dailyEvent("meeting.started", "standup"), now.Add(-10*time.Minute), dailyHookSecret, ""),
	} {
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	// Daily's check when the webhook is created: 200, nothing done.
	if code := postDaily(t, srv, `{"test":"test"}`, now, dailyHookSecret, "x"); code != http.StatusOK {
		t.Errorf("creation check: %d, want 200", code)
	}
	// A room the rule leaves out.
	if code := postDaily(t, srv, dailyEvent("meeting.started", "private"), now, dailyHookSecret, ""); code != http.StatusOK {
		t.Errorf("meeting.started of a room left out: %d, want 200", code)
	}
	if n := len(srv.list("/v1/recordings")); n != 0 {
		t.Fatalf("%d recordings before any accepted start", n)
	}

	// meeting.started, twice (Daily retries): one recording.
	for range 2 {
		if code := postDaily(t, srv, dailyEvent("meeting.started", "standup"), now, dailyHookSecret, ""); code != http.StatusOK {
			t.Fatalf("meeting.started: %d, want 200", code)
		}
	}
	var job service.Job
	waitFor(t, dailyHookJob, "the auto-recorded job", func() bool {
		js := srv.list("/v1/recordings")
		if len(js) != 1 {
			return false
		}
		job = js[0]
		return true
	})
	if r := job.Room; r == nil || r.Type != service.RoomDaily || r.URL != "https://acme.daily.co/standup" || r.Name != "acme.daily.co.standup" {
		t.Fatalf("job room %+v: want the Daily room https://acme.daily.co/standup", r)
	}
	waitFor(t, dailyHookJob, "the worker's token request", func() bool { return mints.Load() > 0 })

	// meeting.ended stops it.
	if code := postDaily(t, srv, dailyEvent("meeting.ended", "standup"), now, dailyHookSecret, ""); code != http.StatusOK {
		t.Fatalf("meeting.ended: %d, want 200", code)
	}
	waitFor(t, dailyHookJob, "the stop request", func() bool { return srv.job("/v1/recordings/" + job.ID).StopRequest })
	letGo() // the token request fails now, and the job ends
	if j, states := srv.waitJob("/v1/recordings/"+job.ID, dailyHookJob); !j.State.Final() {
		t.Errorf("job %s after its stop (states %v), want final", j.State, states)
	}
	if n := len(srv.list("/v1/recordings")); n != 1 {
		t.Errorf("%d recordings, want 1", n)
	}
	checkNoSecrets(t, srv.logs.String(), []string{testKey, dailyHookSecret, "daily-test-api-key"})
	srv.stop()
}

func TestVerifyDailyWebhook(t *testing.T) {
	body := []byte(dailyEvent("meeting.started", "standup"))
	now := time.Unix(1_800_000_000, 0)
	sec := strconv.FormatInt(now.Unix(), 10)
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	sig := func(ts string, b []byte) string {
		s, err := service.SignDailyWebhook(dailyHookSecret, ts, b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ev, err := service.VerifyDailyWebhook(dailyHookSecret, sec, sig(sec, body), body, now)
	if err != nil || ev.Type != "meeting.started" || ev.Payload.Room != "standup" {
		t.Fatalf("signed event: %+v, %v", ev, err)
	}
	if _, err := service.VerifyDailyWebhook(dailyHookSecret, ms, sig(ms, body), body, now); err != nil {
		t.Errorf("millisecond timestamp: %v", err)
	}
	for name, c := range map[string]struct{ ts, sig string }{
		"body changed":  {sec, sig(sec, append(bytes.Clone(body), ' '))},
		"ts changed":    {strconv.FormatInt(now.Unix()+1, 10), sig(sec, body)},
		"stale":         {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), sig(strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), body)},
		"future":        {strconv.FormatInt(now.Add(time.Hour).Unix(), 10), sig(strconv.FormatInt(now.Add(time.Hour).Unix(), 10), body)},
		"no timestamp":  {"", sig(sec, body)},
		"bad timestamp": {"soon", sig("soon", body)},
		"no signature":  {sec, ""},
	} {
		if _, err := service.VerifyDailyWebhook(dailyHookSecret, c.ts, c.sig, body, now); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func FuzzVerifyDailyWebhook(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(dailyEvent("meeting.ended", "standup"))
	good, _ := service.SignDailyWebhook(dailyHookSecret, ts, body)
	f.Add(ts, good, body)
	f.Add("", "", []byte("{}"))
	f.Add("99999999999999999999", good, body)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		ev, err := service.VerifyDailyWebhook(dailyHookSecret, ts, sig, body, now)
		if err != nil {
			return
		}
		if ev == nil {
			t.Fatal("verified without an event")
		}
		want, _ := service.SignDailyWebhook(dailyHookSecret, ts, body)
		if want != sig {
			t.Fatalf("verified a signature %q that is not the body's %q", sig, want)
		}
	})
}

package service_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/netns"
	"github.com/roomtape/roomtape/recorder/browser"
	"github.com/roomtape/roomtape/recorder/service"
)

// Bounds of the Daily job test, each with its reason.
const (
	// dailyFail bounds a Daily job's failure when the room cannot be
	// reached: Chromium's start and the page's load (browser's
	// DefaultJoinTimeout bounds both) on a loaded machine, the job's
	// final write after.
	dailyFail = browser.DefaultJoinTimeout + 30*time.Second
	// chromiumGone bounds how long the bridge's Chromium may outlive the
	// job that started it (recorder/browser stops it before Record
	// returns; its children follow within a moment).
	chromiumGone = 5 * time.Second
)

// dailyTestToken has a Daily meeting token's shape (a JWT); it is a
// secret that must show nowhere.
const dailyTestToken = "eyJhbGciOiJIUzI1NiJ9.eyJyIjoic3RhbmR1cCJ9.c2VjcmV0LXNpZ25hdHVyZS0wMTIz"

// browserStarted is recorder/browser's log line with Chromium's PID.
var browserStarted = regexp.MustCompile(`msg="browser started".* pid=([0-9]+)`)

// TestRecordDailyUnreachable records a Daily room through the API of a
// real server process. Daily's servers cannot exist here: the test runs in
// a network namespace of its own, where nothing beyond it is reachable
// (no packet leaves the machine). The job must start the browser bridge
// (Chromium with daily-js) under its ID, fail clearly when the room
// cannot be joined, leave no Chromium behind, and show the meeting token
// in no answer or log line.
func TestRecordDailyUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium")
	}
	needChromium(t, "DAILY JOB TEST")
	if netns.Enter(t, netns.Config{}) == nil {
		return // ran in the namespace
	}
	srv := startServer(t, "127.0.0.1:0", t.TempDir(), nil)
	code, body := srv.do("POST", "/v1/recordings", testKey, map[string]any{
		"room": map[string]any{"type": "daily", "url": "https://acme.daily.co/standup", "token": dailyTestToken, "idle_timeout_s": 2},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if strings.Contains(string(body), dailyTestToken) {
		t.Errorf("the create answer shows the meeting token: %s", body)
	}
	var resp service.RecordingResponse
	mustJSON(t, body, &resp)
	if r := resp.Job.Room; r == nil || r.Type != service.RoomDaily || r.Name != "acme.daily.co.standup" || r.Token != "" {
		t.Errorf("job room %+v: want the Daily room named acme.daily.co.standup, no token", r)
	}
	// One recording per room.
	if code, _ := srv.do("POST", "/v1/recordings", testKey, map[string]any{
		"room": map[string]any{"type": "daily", "url": "https://acme.daily.co/standup", "token": dailyTestToken},
	}); code != http.StatusConflict {
		t.Errorf("the same Daily room twice: %d, want 409", code)
	}
	path := "/v1/recordings/" + resp.Job.ID
	j, states := srv.waitJob(path, dailyFail)
	t.Logf("states %v, error %q", states, j.Error)
	if j.State != service.StateFailed || !strings.Contains(j.Error, "Daily room https://acme.daily.co/standup") {
		t.Errorf("job %s (%q): want failed, naming the Daily room", j.State, j.Error)
	}

	// The bridge ran for this job, and its Chromium is gone.
	var pids []int
	for line := range strings.SplitSeq(srv.logs.String(), "\n") {
		if m := browserStarted.FindStringSubmatch(line); m != nil && strings.Contains(line, "job="+j.ID) {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no %q line for job %s: the bridge did not start", "browser started", j.ID)
	}
	deadline := time.Now().Add(chromiumGone)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("Chromium %d still runs %v after its job failed", pid, chromiumGone)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("Chromium %v started for the job, gone after it", pids)
	// The room is free again.
	code, body = srv.do("POST", "/v1/recordings", testKey, map[string]any{
		"room": map[string]any{"type": "daily", "url": "https://acme.daily.co/standup", "token": dailyTestToken},
	})
	if code != http.StatusCreated {
		t.Errorf("the Daily room after its job failed: %d %s", code, body)
	} else {
		var again service.RecordingResponse
		mustJSON(t, body, &again)
		srv.do("POST", "/v1/recordings/"+again.Job.ID+"/stop", testKey, nil)
		srv.waitJob("/v1/recordings/"+again.Job.ID, dailyFail)
	}
	checkNoSecrets(t, srv.logs.String(), []string{testKey, dailyTestToken})
	srv.stop()
}

package service_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/recorder/service"
)

// TestAPIAuthAndValidation checks every endpoint without a key, with a
// wrong key and (writes) with a read-only key, malformed bodies (400 with
// the field), unknown jobs (404), a duplicate room (409), capacity (429),
// stopping a recording nobody joined, and that no key or token is logged.
func TestAPIAuthAndValidation(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", t.TempDir(), nil, "--max-recordings", "2")
	endpoints := []struct {
		method, path string
		write        bool
	}{
		{"POST", "/v1/recordings", true},
		{"GET", "/v1/recordings", false},
		{"GET", "/v1/recordings/rec_x", false},
		{"POST", "/v1/recordings/rec_x/stop", true},
		{"GET", "/v1/recordings/rec_x/files/recording.mp4", false},
		{"GET", "/v1/recordings/rec_x/session", false},
		{"POST", "/v1/compositions", true},
		{"GET", "/v1/compositions", false},
		{"GET", "/v1/compositions/cmp_x", false},
		{"POST", "/v1/uploads", true},
		{"GET", "/v1/uploads/upl_x", false},
		{"GET", "/metrics", false},
	}
	for _, e := range endpoints {
		if code, body := srv.do(e.method, e.path, "", "{}"); code != http.StatusUnauthorized {
			t.Errorf("%s %s without a key: %d %s", e.method, e.path, code, body)
		}
		if code, _ := srv.do(e.method, e.path, "wrong-key-0123456789abcdef", "{}"); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong key: %d", e.method, e.path, code)
		}
		if e.write {
			if code, _ := srv.do(e.method, e.path, readKey, "{}"); code != http.StatusForbidden {
				t.Errorf("%s %s with a read-only key: %d, want 403", e.method, e.path, code)
			}
		}
	}
	for _, p := range []string{"/v1/recordings/rec_nope", "/v1/compositions/cmp_nope", "/v1/nothing"} {
		if code, _ := srv.do("GET", p, testKey, nil); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := srv.do("GET", p, "", nil); code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
	}

	whip := `"room":{"type":"whip","participants":[{"id":"alice"}]}`
	bad := []struct {
		name, path, body, field string
	}{
		{"not JSON", "/v1/recordings", `{"room":`, "body"},
		{"empty", "/v1/recordings", ``, "body"},
		{"trailing", "/v1/recordings", `{` + whip + `} {}`, "body"},
		{"unknown field", "/v1/recordings", `{` + whip + `,"colour":"red"}`, "colour"},
		{"wrong type", "/v1/recordings", `{"room":{"type":"whip","participants":"alice"}}`, "room.participants"},
		{"no room type", "/v1/recordings", `{"room":{}}`, "room.type"},
		{"bad room type", "/v1/recordings", `{"room":{"type":"zoom"}}`, "room.type"},
		{"no participants", "/v1/recordings", `{"room":{"type":"whip"}}`, "room.participants"},
		{"bad participant", "/v1/recordings", `{"room":{"type":"whip","participants":[{"id":"../x"}]}}`, "room.participants[0].id"},
		{"twice", "/v1/recordings", `{"room":{"type":"whip","participants":[{"id":"a"},{"id":"a"}]}}`, "room.participants[1].id"},
		{"token given", "/v1/recordings", `{"room":{"type":"whip","participants":[{"id":"a","token_sha256":"00"}]}}`, "room.participants[0].token_sha256"},
		{"bad name", "/v1/recordings", `{"room":{"type":"whip","name":"a b","participants":[{"id":"a"}]}}`, "room.name"},
		{"idle", "/v1/recordings", `{` + whip[:len(whip)-1] + `,"idle_timeout_s":-1}}`, "room.idle_timeout_s"},
		{"layout", "/v1/recordings", `{` + whip + `,"output":{"layout":"spiral"}}`, "output.layout"},
		{"odd width", "/v1/recordings", `{` + whip + `,"output":{"width":321,"height":180}}`, "output.width"},
		{"fps", "/v1/recordings", `{` + whip + `,"output":{"fps":500}}`, "output.fps"},
		{"compose", "/v1/recordings", `{` + whip + `,"output":{"compose":"later"}}`, "output.compose"},
		{"preset", "/v1/recordings", `{` + whip + `,"output":{"preset":"ludicrous"}}`, "output.preset"},
		{"upload without S3", "/v1/recordings", `{` + whip + `,"output":{"upload":true}}`, "output.upload"},
		{"livekit unconfigured", "/v1/recordings", `{"room":{"type":"livekit","name":"r"}}`, "room.url"},
		{"composition source", "/v1/compositions", `{}`, "source"},
		{"composition compose", "/v1/compositions", `{"source":"rec_x","output":{"compose":"none"}}`, "output.compose"},
		{"rtmp scheme", "/v1/recordings", `{` + whip + `,"output":{"rtmp":["http://h/live/` + streamKey + `"]}}`, "output.rtmp[0]"},
		{"rtmp no key", "/v1/recordings", `{` + whip + `,"output":{"rtmp":["rtmp://h/live"]}}`, "output.rtmp[0]"},
		{"rtmp no host", "/v1/recordings", `{` + whip + `,"output":{"rtmp":["rtmp:///live/` + streamKey + `"]}}`, "output.rtmp[0]"},
		{"rtmp twice", "/v1/recordings", `{` + whip + `,"output":{"rtmp":["rtmp://h/live/a` + streamKey + `","rtmps://h/live/b","rtmp://h/live/c"]}}`, "output.rtmp[2]"},
		{"rtmp too many", "/v1/recordings", `{` + whip + `,"output":{"rtmp":["rtmp://a/l/k","rtmp://b/l/k","rtmp://c/l/k","rtmp://d/l/k","rtmp://e/l/k"]}}`, "output.rtmp"},
		{"rtmp offline", "/v1/recordings", `{` + whip + `,"output":{"compose":"offline","rtmp":["rtmp://h/live/` + streamKey + `"]}}`, "output.rtmp"},
		{"hls no compose", "/v1/recordings", `{` + whip + `,"output":{"compose":"none","hls":true}}`, "output.hls"},
		{"rtmp type", "/v1/recordings", `{` + whip + `,"output":{"rtmp":"rtmp://h/live/k"}}`, "output.rtmp"},
		{"composition rtmp", "/v1/compositions", `{"source":"rec_x","output":{"rtmp":["rtmp://h/live/` + streamKey + `"]}}`, "output.rtmp"},
		{"composition hls", "/v1/compositions", `{"source":"rec_x","output":{"hls":true}}`, "output.hls"},
		{"daily no url", "/v1/recordings", `{"room":{"type":"daily","token":"a.b.c"}}`, "room.url"},
		{"daily http", "/v1/recordings", `{"room":{"type":"daily","url":"http://acme.daily.co/standup","token":"a.b.c"}}`, "room.url"},
		{"daily path", "/v1/recordings", `{"room":{"type":"daily","url":"https://acme.daily.co/a/b","token":"a.b.c"}}`, "room.url"},
		{"daily no token", "/v1/recordings", `{"room":{"type":"daily","url":"https://acme.daily.co/standup"}}`, "room.token"},
		{"daily bad token", "/v1/recordings", `{"room":{"type":"daily","url":"https://acme.daily.co/standup","token":"x ` + streamKey + `"}}`, "room.token"},
		{"daily participants", "/v1/recordings", `{"room":{"type":"daily","url":"https://acme.daily.co/standup","token":"a.b.c","participants":[{"id":"a"}]}}`, "room.participants"},
		{"token on whip", "/v1/recordings", `{"room":{"type":"whip","token":"a.b.c","participants":[{"id":"a"}]}}`, "room.token"},
	}
	for _, c := range bad {
		code, body := srv.do("POST", c.path, testKey, c.body)
		var e struct{ Error, Field string }
		_ = json.Unmarshal(body, &e)
		if code != http.StatusBadRequest || e.Field != c.field || e.Error == "" {
			t.Errorf("%s: %d field %q (%s), want 400 field %q", c.name, code, e.Field, e.Error, c.field)
		}
		if strings.Contains(string(body), streamKey) {
			t.Errorf("%s: the answer shows the stream key: %s", c.name, body)
		}
	}
	if code, _ := srv.do("POST", "/v1/compositions", testKey, `{"source":"rec_nope"}`); code != http.StatusNotFound {
		t.Errorf("composition of an unknown recording: %d, want 404", code)
	}

	// A named room twice: 409; then capacity (2): 429.
	named := service.RecordingRequest{Room: service.Room{Type: service.RoomWHIP, Name: "standup", Participants: []service.Grant{{ID: "alice"}}}}
	first := srv.createRecording(named)
	code, body := srv.do("POST", "/v1/recordings", testKey, named)
	if code != http.StatusConflict || !strings.Contains(string(body), first.Job.ID) {
		t.Errorf("duplicate room: %d %s, want 409 naming %s", code, body, first.Job.ID)
	}
	other := named
	other.Room.Name = "retro"
	second := srv.createRecording(other)
	other.Room.Name = "planning"
	if code, body := srv.do("POST", "/v1/recordings", testKey, other); code != http.StatusTooManyRequests {
		t.Errorf("over capacity: %d %s, want 429", code, body)
	}
	if code, _ := srv.do("GET", "/v1/recordings", readKey, nil); code != 200 {
		t.Errorf("list with a read-only key: %d", code)
	}
	// Nobody joined: stopping ends them as stopped, and frees the room.
	for _, r := range []service.RecordingResponse{first, second} {
		path := "/v1/recordings/" + r.Job.ID
		waitFor(t, roomStart, "recording "+r.Job.ID, func() bool { return srv.job(path).State == service.StateRecording })
		if code, body := srv.do("POST", path+"/stop", testKey, nil); code != http.StatusAccepted {
			t.Errorf("stop: %d %s", code, body)
		}
		if j, _ := srv.waitJob(path, 30*time.Second); j.State != service.StateStopped {
			t.Errorf("%s: %s, want stopped (%s)", r.Job.ID, j.State, j.Error)
		}
	}
	again := srv.createRecording(named)
	srv.do("POST", "/v1/recordings/"+again.Job.ID+"/stop", testKey, nil)
	checkNoSecrets(t, srv.logs.String(), append(append([]string{testKey, readKey, streamKey}, tokens(first)...), tokens(second)...))
	srv.stop()
}

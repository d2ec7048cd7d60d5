package recorder_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

func TestRoomParticipant(t *testing.T) {
	if id, name := recorder.RoomParticipant("alice", "Alice", false); id != "alice" || name != "Alice" {
		t.Errorf("camera: %q %q", id, name)
	}
	id, name := recorder.RoomParticipant("alice", "Alice", true)
	if id != "alice"+manifest.ScreenSuffix || name != "Alice"+manifest.ScreenNameSuffix {
		t.Errorf("screen share: %q %q", id, name)
	}
}

// TestJoinLogged: a join is logged and gives the participant; a second
// join of a present ID and a join after Close are refused, logged as
// errors, and give nil.
func TestJoinLogged(t *testing.T) {
	s, err := recorder.NewSession(recorder.Config{Dir: t.TempDir(), DisableFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if p := recorder.JoinLogged(s, log, "alice", "Alice"); p == nil || p.ID() != "alice" {
		t.Fatalf("join: %v", p)
	}
	if !strings.Contains(buf.String(), `msg="participant joined" participant=alice name=Alice`) {
		t.Errorf("no join line: %s", buf.String())
	}
	buf.Reset()
	if p := recorder.JoinLogged(s, log, "alice", "Alice"); p != nil {
		t.Errorf("second join of a present ID gave %v", p)
	}
	if !strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("refusal not logged as an error: %s", buf.String())
	}
	_ = s.Close(t.Context())
	if p := recorder.JoinLogged(s, log, "bob", "Bob"); p != nil {
		t.Errorf("join after Close gave %v", p)
	}
}

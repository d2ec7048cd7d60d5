package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	lkproto "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/roomtape/roomtape/internal/lktest"
	"github.com/roomtape/roomtape/internal/netns"
)

// TestCreateRoom creates a room on a real server and joins it with the
// printed token.
func TestCreateRoom(t *testing.T) {
	ns := netns.Enter(t, netns.Config{})
	if ns == nil {
		return
	}
	srv := lktest.StartServer(t, ns.Addr)
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{
		"--url", srv.URL, "--api-key", lktest.APIKey, "--api-secret", lktest.APISecret,
		"--room", "weekly", "--identity", "alice",
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	rooms, err := srv.RoomService().ListRooms(t.Context(), &lkproto.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms.Rooms) != 1 || rooms.Rooms[0].Name != "weekly" {
		t.Fatalf("rooms after createroom: %v", rooms.Rooms)
	}
	m := regexp.MustCompile(`(?m)^url:\s+(\S+)\ntoken:\s+(\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no url and token in the output:\n%s", out.String())
	}
	if m[1] != srv.URL {
		t.Errorf("printed URL %q, want %q", m[1], srv.URL)
	}
	room, err := lksdk.ConnectToRoomWithToken(m[1], m[2], lksdk.NewRoomCallback(), lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("joining with the printed token: %v", err)
	}
	defer room.Disconnect()
	if room.Name() != "weekly" || room.LocalParticipant.Identity() != "alice" {
		t.Errorf("joined room %q as %q, want weekly as alice", room.Name(), room.LocalParticipant.Identity())
	}
}

func TestRunErrors(t *testing.T) {
	t.Setenv("LIVEKIT_URL", "")
	t.Setenv("LIVEKIT_API_KEY", "")
	t.Setenv("LIVEKIT_API_SECRET", "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no credentials", []string{"--url", "ws://h:7880"}, "need --url"},
		{"bad url", []string{"--url", "::", "--api-key", "k", "--api-secret", "s"}, "not a URL"},
		{"bad flag", []string{"--nope"}, "bad usage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), c.args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", c.args, err, c.want)
			}
		})
	}
}

// Command createroom creates a LiveKit room through the server's room
// service and prints the room's URL and a join token for a participant, as
// the prototype's create_room.py did for its hosted rooms:
//
//	LIVEKIT_URL=ws://localhost:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret \
//	        createroom --room standup --identity alice
//
// See README.md for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/livekit/protocol/auth"
	lkproto "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/roomtape/roomtape/recorder/browser"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "createroom:", err)
		os.Exit(1)
	}
}

// errUsage is returned for bad flags (the flag package printed why).
var errUsage = errors.New("bad usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("createroom", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serverURL := fs.String("url", os.Getenv("LIVEKIT_URL"), "LiveKit server URL, ws:// or wss:// (env LIVEKIT_URL)")
	apiKey := fs.String("api-key", os.Getenv("LIVEKIT_API_KEY"), "API key (env LIVEKIT_API_KEY)")
	apiSecret := fs.String("api-secret", os.Getenv("LIVEKIT_API_SECRET"), "API secret (env LIVEKIT_API_SECRET)")
	room := fs.String("room", "", "room name (default roomtape-<UTC timestamp>)")
	identity := fs.String("identity", "guest", "identity of the participant the join token is for")
	name := fs.String("name", "", "display name in the join token (default the identity)")
	ttl := fs.Duration("ttl", 6*time.Hour, "validity of the join token")
	emptyTimeout := fs.Duration("empty-timeout", 10*time.Minute, "close the room after it has been empty this long")
	maxParticipants := fs.Uint("max-participants", 0, "participant limit (0: none)")
	daily := fs.Bool("daily", false, "create a Daily room through Daily's REST API (env DAILY_API_KEY) instead")
	dailyToken := fs.Bool("daily-token", false, "with --daily: also print a meeting token for the recorder bot")
	public := fs.Bool("public", false, "with --daily: a public room (default private)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if *daily {
		return createDaily(ctx, stdout, *room, *public, *dailyToken, *ttl)
	}
	if *serverURL == "" || *apiKey == "" || *apiSecret == "" {
		return errors.New("need --url, --api-key and --api-secret (or LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET)")
	}
	if u, err := url.Parse(*serverURL); err != nil || u.Host == "" {
		return fmt.Errorf("--url %q is not a URL", *serverURL)
	}
	if *room == "" {
		*room = "roomtape-" + time.Now().UTC().Format("20060102-150405")
	}
	if *name == "" {
		*name = *identity
	}

	rs := lksdk.NewRoomServiceClient(*serverURL, *apiKey, *apiSecret)
	r, err := rs.CreateRoom(ctx, &lkproto.CreateRoomRequest{
		Name:            *room,
		EmptyTimeout:    uint32(emptyTimeout.Seconds()),
		MaxParticipants: uint32(*maxParticipants),
	})
	if err != nil {
		return fmt.Errorf("create room %q: %w", *room, err)
	}

	grant := &auth.VideoGrant{RoomJoin: true, Room: r.Name}
	token, err := auth.NewAccessToken(*apiKey, *apiSecret).
		SetVideoGrant(grant).SetIdentity(*identity).SetName(*name).SetValidFor(*ttl).ToJWT()
	if err != nil {
		return fmt.Errorf("join token: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "room:  %s (%s)\nurl:   %s\ntoken: %s\n"+
		"record it: go run ./examples/bot --room-url %s --api-key <key> --api-secret <secret> --room %s\n",
		r.Name, r.Sid, *serverURL, token, *serverURL, r.Name)
	return err
}

// createDaily creates a Daily room (its name given or Daily's) that
// expires after ttl, prints its URL and, with botToken, a meeting token
// for the recorder bot.
func createDaily(ctx context.Context, stdout io.Writer, room string, public, botToken bool, ttl time.Duration) error {
	c := browser.DailyClient{APIKey: os.Getenv("DAILY_API_KEY"), BaseURL: os.Getenv("DAILY_API_URL")}
	if c.APIKey == "" {
		return errors.New("--daily needs DAILY_API_KEY")
	}
	info, err := c.CreateRoom(ctx, room, public, ttl)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "room:  %s (%s)\nurl:   %s\n", info.Name, info.Privacy, info.URL); err != nil {
		return err
	}
	if botToken {
		tok, err := c.BotToken(ctx, info.Name, ttl)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "bot token: %s\n", tok); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(stdout, "record it: DAILY_API_KEY=<key> go run ./examples/bot --daily-url %s\n", info.URL)
	return err
}

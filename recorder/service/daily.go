package service

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"

	"github.com/roomtape/roomtape/recorder/browser"
)

// Daily rooms (room.type "daily") are recorded through the browser bridge:
// the worker runs the bot's --daily-url path (internal/bot, recorder/
// browser), daily-js in a headless Chromium of its own that joins the room
// as a hidden participant and hands the encoded frames to the recorder.
// The worker needs Chromium (ROOMTAPE_CHROMIUM or Debian's) and the
// daily-js bundle built in (scripts/fetch-js.sh); a room it cannot join
// fails the job with the bridge's error, and Chromium is stopped with it.

// maxDailyToken bounds room.token: Daily's meeting tokens are JWTs of a
// few hundred bytes.
const maxDailyToken = 4096

// dailyToken is a JWT's shape: three base64url parts.
var dailyToken = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// checkDailyRoom validates a Daily room of a record request and names it
// (for the one-recording-per-room rule) "HOST.ROOM" unless room.name is
// given. Errors never show the token.
func (s *Service) checkDailyRoom(room *Room) *fieldError {
	if len(room.Participants) > 0 {
		return bad("room.participants", "Daily rooms admit their own participants")
	}
	if room.URL == "" {
		return bad("room.url", "the Daily room URL is required: https://DOMAIN.daily.co/ROOM")
	}
	name, err := browser.DailyRoomName(room.URL)
	if err != nil {
		return bad("room.url", "want https://DOMAIN.daily.co/ROOM (one path element naming the room, no query)")
	}
	u, _ := url.Parse(room.URL) // parsed by DailyRoomName
	if u.User != nil || u.Fragment != "" {
		return bad("room.url", "want https://DOMAIN.daily.co/ROOM without user info or fragment")
	}
	switch {
	case room.Token == "" && s.cfg.Daily.APIKey == "":
		return bad("room.token", "required: this service has no Daily API key to mint the bot's meeting token")
	case len(room.Token) > maxDailyToken:
		return bad("room.token", "longer than %d bytes", maxDailyToken)
	case room.Token != "" && !dailyToken.MatchString(room.Token):
		return bad("room.token", "not a Daily meeting token (a JWT: three base64url parts separated by dots)")
	}
	if room.Name == "" {
		room.Name = dailyJobRoom(u.Hostname(), name)
	}
	return nil
}

// dailyJobRoom is the default room name of a Daily room's jobs (for the
// one-recording-per-room rule): "HOST.ROOM", or a digest of it when that
// is not a valid name.
func dailyJobRoom(host, room string) string {
	n := host + "." + room
	if !idPattern.MatchString(n) { // too long: a digest names it
		sum := sha256.Sum256([]byte(host + "/" + room))
		n = "daily-" + hex.EncodeToString(sum[:16])
	}
	return n
}

package livekit

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"
)

// errMalformedToken is returned by tokenExpiry for a string that is not a
// JWT with a JSON claims part.
var errMalformedToken = errors.New("malformed token")

// BotToken returns an access token that lets identity join room as a
// hidden, subscribe-only recorder, valid for ttl. It is what [Record] uses
// when Config.Token is empty; hosts that hand the bot a token can make it
// here.
func BotToken(apiKey, apiSecret, room, identity, name string, ttl time.Duration) (string, error) {
	grant := &auth.VideoGrant{
		RoomJoin: true,
		Room:     room,
		Hidden:   true,
		Recorder: true,
	}
	grant.SetCanPublish(false)
	grant.SetCanPublishData(false)
	grant.SetCanSubscribe(true)
	at := auth.NewAccessToken(apiKey, apiSecret).
		SetVideoGrant(grant).
		SetIdentity(identity).
		SetName(name).
		SetValidFor(ttl)
	tok, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("livekit: sign token for %q in room %q: %w", identity, room, err)
	}
	return tok, nil
}

// tokenExpiry returns the exp claim of a JWT without verifying it (only the
// server can); ok is false when the token has no exp claim.
func tokenExpiry(token string) (exp time.Time, ok bool, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false, fmt.Errorf("%w: %d parts, want 3", errMalformedToken, len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: claims: %w", errMalformedToken, err)
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return time.Time{}, false, fmt.Errorf("%w: claims: %w", errMalformedToken, err)
	}
	if claims.Exp == nil {
		return time.Time{}, false, nil
	}
	secs, err := claims.Exp.Float64()
	if err != nil || secs < 0 || secs > maxUnixSeconds {
		return time.Time{}, false, fmt.Errorf("%w: exp %q", errMalformedToken, claims.Exp.String())
	}
	return time.Unix(int64(secs), 0), true, nil
}

// maxUnixSeconds bounds exp claims (year 9999) so that time arithmetic on
// them cannot overflow.
const maxUnixSeconds = 253402300799

package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// DefaultDailyAPI is Daily's REST API.
const DefaultDailyAPI = "https://api.daily.co/v1"

// DailyBotName is the user_name of the bot's meeting tokens.
const DailyBotName = "roomtape-recorder"

// ErrDailyAPI is returned when Daily's REST API refuses a request or
// cannot be reached.
var ErrDailyAPI = errors.New("browser: Daily REST API")

// dailyRoomRE is a Daily room name: letters, digits, '-' and '_'.
var dailyRoomRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// DailyRoomName returns the room name of a room URL
// https://DOMAIN.daily.co/ROOM.
func DailyRoomName(roomURL string) (string, error) {
	u, err := url.Parse(roomURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("%w: Daily room URL %q: want https://DOMAIN.daily.co/ROOM", ErrBadConfig, roomURL)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !dailyRoomRE.MatchString(name) {
		return "", fmt.Errorf("%w: Daily room URL %q: want one path element naming the room", ErrBadConfig, roomURL)
	}
	return name, nil
}

// DailyClient calls Daily's REST API with an API key (a secret: never
// logged). The zero value is unusable; APIKey is required.
type DailyClient struct {
	// APIKey is the domain's API key (DAILY_API_KEY).
	APIKey string
	// BaseURL (optional) defaults to DefaultDailyAPI.
	BaseURL string
	// HTTPClient (optional) defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// DailyRoomInfo is what Daily says about a room it created.
type DailyRoomInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	URL     string `json:"url"`
	Privacy string `json:"privacy"`
}

// CreateRoom creates a room (private unless public; Daily names it when
// name is empty) that expires after ttl (none when 0) and returns it.
func (c DailyClient) CreateRoom(ctx context.Context, name string, public bool, ttl time.Duration) (DailyRoomInfo, error) {
	body := map[string]any{"privacy": "private"}
	if public {
		body["privacy"] = "public"
	}
	if name != "" {
		if !dailyRoomRE.MatchString(name) {
			return DailyRoomInfo{}, fmt.Errorf("%w: Daily room name %q", ErrBadConfig, name)
		}
		body["name"] = name
	}
	if ttl > 0 {
		body["properties"] = map[string]any{"exp": time.Now().Add(ttl).Unix()}
	}
	var info DailyRoomInfo
	if err := c.post(ctx, "/rooms", body, &info); err != nil {
		return DailyRoomInfo{}, err
	}
	if info.URL == "" {
		return DailyRoomInfo{}, fmt.Errorf("%w: create room: no url in the answer", ErrDailyAPI)
	}
	return info, nil
}

// BotToken mints a meeting token for the recorder bot in room: a hidden
// participant (permissions.hasPresence false) that cannot send media
// (canSend false), named DailyBotName, valid for ttl (Daily's default
// when 0).
func (c DailyClient) BotToken(ctx context.Context, room string, ttl time.Duration) (string, error) {
	if !dailyRoomRE.MatchString(room) {
		return "", fmt.Errorf("%w: Daily room name %q", ErrBadConfig, room)
	}
	props := map[string]any{
		"room_name":   room,
		"user_name":   DailyBotName,
		"is_owner":    false,
		"permissions": map[string]any{"hasPresence": false, "canSend": false},
	}
	if ttl > 0 {
		props["exp"] = time.Now().Add(ttl).Unix()
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := c.post(ctx, "/meeting-tokens", map[string]any{"properties": props}, &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", fmt.Errorf("%w: meeting token: no token in the answer", ErrDailyAPI)
	}
	return out.Token, nil
}

// maxAnswer bounds a REST answer read into memory.
const maxAnswer = 1 << 20

// post sends body as JSON to path and decodes the answer into out.
func (c DailyClient) post(ctx context.Context, path string, body, out any) error {
	if c.APIKey == "" {
		return fmt.Errorf("%w: no Daily API key", ErrBadConfig)
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultDailyAPI
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: POST %s: %w", ErrDailyAPI, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%w: POST %s: %w", ErrDailyAPI, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
			Info  string `json:"info"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("%w: POST %s: %s: %s %s", ErrDailyAPI, path, resp.Status, e.Error, e.Info)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: POST %s: answer: %w", ErrDailyAPI, path, err)
	}
	return nil
}

package livekit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Defaults used for zero Config fields.
const (
	// DefaultIdentity is the bot's participant identity.
	DefaultIdentity = "roomtape-recorder"
	// DefaultTokenTTL is how long a token made from the API key and secret
	// is valid. The server refreshes the token of a connected participant,
	// so it only bounds how late the bot may (re)connect.
	DefaultTokenTTL = 6 * time.Hour
	// DefaultConnectTimeout bounds joining the room.
	DefaultConnectTimeout = 15 * time.Second
	// DefaultOutputWidth and DefaultOutputHeight are the output canvas
	// used to choose simulcast layers.
	DefaultOutputWidth  = 1280
	DefaultOutputHeight = 720
)

// ScreenSuffix and ScreenNameSuffix make the participant ID and name under
// which a screen share is recorded from its publisher's identity and name.
const (
	ScreenSuffix     = manifest.ScreenSuffix
	ScreenNameSuffix = manifest.ScreenNameSuffix
)

// Errors returned by [Record]; test them with errors.Is.
var (
	// ErrBadConfig is returned for an unusable Config.
	ErrBadConfig = errors.New("livekit: bad config")
	// ErrTokenExpired is returned when the token given in Config.Token
	// has expired before the bot could join.
	ErrTokenExpired = errors.New("livekit: token expired")
	// ErrJoin is returned when the bot cannot join the room.
	ErrJoin = errors.New("livekit: cannot join room")
	// ErrDisconnected is returned when the bot lost the room for a reason
	// other than a clean end (room closed or deleted, bot removed, token
	// expired, ctx cancelled), e.g. a failed reconnection or another
	// participant joining with the bot's identity.
	ErrDisconnected = errors.New("livekit: disconnected")
)

// Output describes the composed output the recording is meant for. It
// only steers which simulcast layer is received; the zero value is a
// 1280x720 canvas with the Columns layout and letterboxed tiles.
type Output struct {
	// Width and Height (optional) default to DefaultOutputWidth and
	// DefaultOutputHeight.
	Width, Height int
	// Layout (optional) defaults to timeline.Columns.
	Layout timeline.LayoutKind
	// Fit (optional) defaults to timeline.Letterbox.
	Fit timeline.Fit
	// MaxTiles (optional) caps the tiles on screen as in
	// timeline.Options.MaxTiles; defaults to timeline.DefaultMaxTiles for
	// Grid and no cap for Columns.
	MaxTiles int
}

// withDefaults fills o's defaults.
func (o Output) withDefaults() Output {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = DefaultOutputWidth, DefaultOutputHeight
	}
	return o
}

// Config configures [Record].
type Config struct {
	// URL is the LiveKit server's WebSocket URL, e.g. ws://host:7880.
	// Required.
	URL string
	// Token is an access token for the bot. (optional) when empty, one is
	// made from APIKey, APISecret, Room and Identity with the grants to
	// join Room hidden, as a recorder, subscribe-only. When set, its expiry
	// ends the recording.
	Token string
	// APIKey and APISecret sign the bot's token; required without Token.
	APIKey, APISecret string
	// Room is the room name; required without Token.
	Room string
	// Identity is the bot's participant identity. (optional) defaults to
	// DefaultIdentity; ignored with Token.
	Identity string
	// Name is the bot's display name. (optional) defaults to Identity;
	// ignored with Token.
	Name string
	// TokenTTL (optional) defaults to DefaultTokenTTL; ignored with Token.
	TokenTTL time.Duration
	// Output (optional) describes the composed output; see [Output].
	Output Output
	// DisableScreenShare (optional) defaults to false; true leaves screen
	// shares out of the recording.
	DisableScreenShare bool
	// ConnectTimeout (optional) defaults to DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Logger (optional) defaults to a logger that discards everything. The
	// SDK's own logs go to it too, under the group "lksdk".
	Logger *slog.Logger
}

// withDefaults validates c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.URL)
	if c.URL == "" || err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("%w: URL %q is not a ws://, wss://, http:// or https:// URL", ErrBadConfig, c.URL)
	}
	if c.Token == "" {
		switch {
		case c.APIKey == "" || c.APISecret == "":
			return c, fmt.Errorf("%w: need Token, or APIKey and APISecret", ErrBadConfig)
		case c.Room == "":
			return c, fmt.Errorf("%w: need Room with APIKey and APISecret", ErrBadConfig)
		}
	}
	if c.Identity == "" {
		c.Identity = DefaultIdentity
	}
	if c.Name == "" {
		c.Name = c.Identity
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	c.Output = c.Output.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

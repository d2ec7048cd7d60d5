package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"time"

	"github.com/roomtape/roomtape/timeline"
)

// Errors returned by [Record], wrapped with details; test them with
// errors.Is.
var (
	// ErrBadConfig is returned for an unusable Config.
	ErrBadConfig = errors.New("browser: bad config")
	// ErrSDKMissing is returned when the room SDK bundle was not built
	// into the binary (run scripts/fetch-js.sh, which scripts/setup.sh
	// calls, then rebuild).
	ErrSDKMissing = errors.New("browser: room SDK bundle missing")
	// ErrBrowser is returned when Chromium cannot be started, or crashed
	// or hung more often than Config.MaxRestarts allows.
	ErrBrowser = errors.New("browser: Chromium failed")
	// ErrJoin is returned when the page cannot join the room.
	ErrJoin = errors.New("browser: cannot join the room")
	// ErrUntappable is logged (not returned) for a track whose encoded
	// frames the page cannot tap; see the package documentation.
	ErrUntappable = errors.New("browser: track cannot be tapped")
	// ErrDisconnected is returned when the room ended the bot's
	// connection for a reason other than a normal end.
	ErrDisconnected = errors.New("browser: disconnected from the room")
)

// Room is the room the page joins: [LiveKitRoom] or [DailyRoom].
type Room interface {
	// page returns the adapter name, the SDK bundle and the settings the
	// page's config.json carries.
	page() (adapter, bundle string, settings map[string]any)
	validate() error
	// String names the room without secrets.
	String() string
}

// LiveKitRoom is a LiveKit room joined with livekit-client. Token is a
// secret: never logged.
type LiveKitRoom struct {
	// URL is the server's ws:// or wss:// URL.
	URL string
	// Token is the bot's access token (a hidden, subscribe-only recorder:
	// recorder/livekit.BotToken makes one).
	Token string
}

func (r LiveKitRoom) page() (string, string, map[string]any) {
	return "livekit", "livekit-client.umd.js", map[string]any{"url": r.URL, "token": r.Token}
}

func (r LiveKitRoom) validate() error {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: LiveKit URL %q: want ws://, wss://, http:// or https:// with a host", ErrBadConfig, r.URL)
	}
	if r.Token == "" {
		return fmt.Errorf("%w: LiveKit room %s: no token", ErrBadConfig, r.URL)
	}
	return nil
}

// String returns the room's URL.
func (r LiveKitRoom) String() string { return "livekit " + r.URL }

// DailyRoom is a Daily room joined with daily-js in call-object mode.
// Token is a secret: never logged.
type DailyRoom struct {
	// URL is the room's https://DOMAIN.daily.co/ROOM URL.
	URL string
	// Token is the bot's meeting token (see [DailyClient.BotToken]);
	// (optional) for a public room, though the bot then joins visible.
	Token string

	// offline makes the page build the call object without joining, for
	// the tests that drive the adapter with Daily's event payloads.
	offline bool
}

func (r DailyRoom) page() (string, string, map[string]any) {
	return "daily", "daily.js", map[string]any{"url": r.URL, "token": r.Token, "offline": r.offline}
}

func (r DailyRoom) validate() error {
	if _, err := DailyRoomName(r.URL); err != nil {
		return err
	}
	return nil
}

// String returns the room's URL.
func (r DailyRoom) String() string { return "daily " + r.URL }

// Output is the composed output the recording is for: the bot asks for
// the video size (simulcast layer) that fits each participant's tile.
type Output struct {
	// Width and Height (optional) default to 1280x720.
	Width, Height int
	// Layout (optional) defaults to timeline.Columns (the zero value).
	Layout timeline.LayoutKind
	// MaxTiles (optional) caps the tiles, as timeline.Options.MaxTiles.
	MaxTiles int
	// Fit (optional) defaults to timeline.Letterbox (the zero value).
	Fit timeline.Fit
}

// Defaults of Config.
const (
	// DefaultChromium is Debian's Chromium.
	DefaultChromium = "/usr/bin/chromium"
	// DefaultJoinTimeout bounds starting Chromium, loading the page and
	// joining the room.
	DefaultJoinTimeout = 30 * time.Second
	// DefaultHeartbeatTimeout is how long the page may stay silent (it
	// beats once a second) before the browser counts as hung and is
	// restarted.
	DefaultHeartbeatTimeout = 10 * time.Second
	// DefaultMaxRestarts is how many times a crashed or hung browser is
	// restarted before Record gives up.
	DefaultMaxRestarts = 5
	// DefaultLeaveTimeout bounds leaving the room at the end.
	DefaultLeaveTimeout = 3 * time.Second
)

// Config configures [Record]. Room is required; the zero value of every
// other field works.
type Config struct {
	// Room is the room to join.
	Room Room
	// Chromium (optional) is the browser binary; defaults to
	// $ROOMTAPE_CHROMIUM, else DefaultChromium, else "chromium" on PATH.
	Chromium string
	// Output (optional) sizes the video the bot asks for.
	Output Output
	// NoDecode (optional) keeps tapped frames from the browser's decoders,
	// which saves most of the browser's CPU; but a receiver whose decoder
	// gets nothing asks for a keyframe several times a second, so every
	// publisher then sends keyframes at that rate (larger files, more
	// bandwidth for everyone). Off by default: frames are tapped and then
	// decoded (and dropped: nothing is rendered).
	NoDecode bool
	// JoinTimeout (optional) defaults to DefaultJoinTimeout.
	JoinTimeout time.Duration
	// HeartbeatTimeout (optional) defaults to DefaultHeartbeatTimeout.
	HeartbeatTimeout time.Duration
	// MaxRestarts (optional) defaults to DefaultMaxRestarts; negative
	// disables restarts.
	MaxRestarts int
	// LeaveTimeout (optional) defaults to DefaultLeaveTimeout.
	LeaveTimeout time.Duration
	// Logger (optional) defaults to discarding logs.
	Logger *slog.Logger
	// OnBrowser (optional) is called with the process id of each Chromium
	// the bridge starts (tests and CPU measurements use it).
	OnBrowser func(pid int)
	// OnJoined (optional) is called each time the page has joined the
	// room (first launch and every restart), from Record's goroutine; it
	// must not block.
	OnJoined func()

	// onPage (tests) is called on its own goroutine with the chromedp
	// context of each launch's tab.
	onPage func(ctx context.Context)
}

// withDefaults validates c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Room == nil {
		return c, fmt.Errorf("%w: no room", ErrBadConfig)
	}
	if err := c.Room.validate(); err != nil {
		return c, err
	}
	if c.Chromium == "" {
		c.Chromium = findChromium()
	}
	if c.Chromium == "" {
		return c, fmt.Errorf("%w: Chromium not found (install Debian's chromium or set ROOMTAPE_CHROMIUM)", ErrBrowser)
	}
	if c.Output.Width <= 0 || c.Output.Height <= 0 {
		c.Output.Width, c.Output.Height = 1280, 720
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = DefaultJoinTimeout
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.MaxRestarts == 0 {
		c.MaxRestarts = DefaultMaxRestarts
	}
	if c.LeaveTimeout <= 0 {
		c.LeaveTimeout = DefaultLeaveTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// findChromium returns the Chromium to start, "" if none.
func findChromium() string {
	if p := os.Getenv("ROOMTAPE_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat(DefaultChromium); err == nil {
		return DefaultChromium
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

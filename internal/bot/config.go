package bot

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/recorder/whip"
	"github.com/roomtape/roomtape/timeline"
)

// ErrConfig is wrapped by every configuration error (bad flag, bad
// environment value, unknown layout).
var ErrConfig = errors.New("bot: bad configuration")

// Defaults of the configuration.
const (
	DefaultRecordingsDir = "./recordings"
	DefaultWidth         = compose.DefaultWidth
	DefaultHeight        = compose.DefaultHeight
	DefaultIdleTimeout   = 30 * time.Second
	DefaultDemoDuration  = 30 * time.Second
	DefaultEnvFile       = ".env"
	// DefaultDemoWidth and DefaultDemoHeight are the demo's landscape
	// camera, the prototype example's; its phone is 720x1280 portrait.
	DefaultDemoWidth  = 1280
	DefaultDemoHeight = 720
)

// Config is everything the bot needs; [ParseArgs] fills it from flags, the
// environment and a .env file.
type Config struct {
	// Mode is what the bot records.
	Mode Mode

	// WHIPListen is the WHIP ingest address (ModeWHIP, and the demo's
	// 127.0.0.1:0).
	WHIPListen string
	// PublicICE offers every interface's ICE candidates (ModeWHIP unless
	// --ice-loopback); false offers 127.0.0.1 only (the demo).
	PublicICE bool
	// WHIPToken (ModeWHIP) is the shared bearer token publishers send;
	// required unless WHIPListen is a loopback address. A secret: never
	// logged.
	WHIPToken string
	// WHIPOrigins are the origins whose pages may publish (CORS; default
	// none); WHIPHosts the host names the Host header may carry besides
	// the listen address.
	WHIPOrigins, WHIPHosts []string
	// WHIPMaxPublishers bounds the publishers at once (0: the whip
	// default).
	WHIPMaxPublishers int
	// IdleTimeout ends a ModeWHIP session when everyone has left and
	// nobody has come back for this long. The rule: the timer starts only
	// once someone has joined, at the leave that empties the room, and
	// restarts in full at the next such leave; a join stops it. Only
	// admitted publishers join (a valid token, within the limits, an ID
	// of their own), so a refused request never starts or shortens it,
	// and a guest leaving while others are present does not start it.
	IdleTimeout time.Duration
	// DemoDuration is the length of the demo session.
	DemoDuration time.Duration
	// DemoReplay makes the demo's publishers replay media encoded once
	// beforehand instead of encoding live (lighter on the CPU).
	DemoReplay bool
	// DemoWidth and DemoHeight are the demo's landscape camera size; the
	// phone is the portrait transpose. Zero: DefaultDemoWidth x
	// DefaultDemoHeight.
	DemoWidth, DemoHeight int

	// LiveKit is the room to join in ModeLiveKit.
	LiveKit LiveKitConfig
	// ViaBrowser joins the LiveKit room through the browser bridge
	// (recorder/browser, livekit-client in Chromium) instead of the Go SDK.
	ViaBrowser bool
	// Daily is the room to join in ModeDaily.
	Daily DailyConfig

	// RecordingsDir is the recordings root; sessions go to RecordingsDir/ID.
	RecordingsDir string
	// SessionID (optional) defaults to the start time, like the prototype.
	SessionID string

	// Output settings of the composition.
	Width, Height int
	FPS           int
	Layout        timeline.LayoutKind
	Crop          bool
	Labels        bool
	AudioM4A      bool // also write <output>.m4a, the audio alone
	Preset        string
	CRF           int
	X264Params    string        // extra libx264 options (compose.Config.X264Params)
	CrossFade     time.Duration // speaker-switch dissolve (compose.Config.CrossFade)
	// NoCompose stops after recording (session.json and per-participant
	// files only).
	NoCompose bool
	// Offline composes after the call instead of live while recording.
	Offline bool
	// LiveDelay is how far behind the live edge the live composition runs;
	// 0 is compose.DefaultDelay.
	LiveDelay time.Duration
	// FullSpan composes the whole session instead of first join → last
	// leave.
	FullSpan bool
	// RTMP are the live composition's RTMP push targets (--rtmp, or
	// RTMP_URLS space-separated); secrets (stream keys): logged redacted.
	RTMP []string
	// HLS writes the live composition as HLS into SessionDir/hls.
	HLS bool

	// S3 is the upload target; an empty bucket keeps results local.
	S3 S3Config
	// UploadAll uploads session.json and the per-participant files too.
	UploadAll bool

	// LogLevel and LogJSON shape the logs (text on stderr by default).
	LogLevel slog.Level
	LogJSON  bool
}

// Mode is what the bot records.
type Mode int

// Modes.
const (
	// ModeDemo runs synthetic participants over WHIP on 127.0.0.1.
	ModeDemo Mode = iota
	// ModeWHIP records external WHIP publishers.
	ModeWHIP
	// ModeLiveKit joins a LiveKit room.
	ModeLiveKit
	// ModeDaily joins a Daily room through the browser bridge.
	ModeDaily
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case ModeDemo:
		return "demo"
	case ModeWHIP:
		return "whip"
	case ModeLiveKit:
		return "livekit"
	case ModeDaily:
		return "daily"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// LiveKitConfig says which LiveKit room to join. Token, APIKey and
// APISecret are secrets: never logged.
type LiveKitConfig struct {
	URL       string
	Token     string
	APIKey    string
	APISecret string
	Room      string
	Identity  string
}

// DailyConfig says which Daily room to join. Token and APIKey are
// secrets: never logged.
type DailyConfig struct {
	// URL is https://DOMAIN.daily.co/ROOM.
	URL string
	// Token is the bot's meeting token; without it the bot mints one with
	// APIKey (hidden, cannot send).
	Token  string
	APIKey string
	// APIURL (optional) is Daily's REST API base (tests).
	APIURL string
}

// LogValue keeps secrets out of logs.
func (c DailyConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.URL),
		slog.Bool("token", c.Token != ""),
		slog.Bool("api_key", c.APIKey != ""),
	)
}

// S3Config is the prototype's S3 settings plus an endpoint for
// S3-compatible servers. AccessKeyID and SecretAccessKey are secrets:
// never logged.
type S3Config struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	Bucket          string
	// Endpoint (optional) is an S3-compatible server URL (path-style).
	Endpoint string
	// BaseCDNURL (optional) prefixes the key to make the printed URL.
	BaseCDNURL string
	// Prefix (optional) is prepended to object keys.
	Prefix string
}

// LogValue keeps secrets out of logs (URLs lose user info and query).
func (c S3Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("bucket", c.Bucket),
		slog.String("region", c.Region),
		slog.String("endpoint", RedactURL(c.Endpoint)),
		slog.String("base_cdn_url", RedactURL(c.BaseCDNURL)),
		slog.Bool("credentials", c.AccessKeyID != ""),
	)
}

// LogValue keeps secrets out of logs (the URL loses user info and query).
func (c LiveKitConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", RedactURL(c.URL)),
		slog.String("room", c.Room),
		slog.String("identity", c.Identity),
		slog.Bool("token", c.Token != ""),
		slog.Bool("api_key", c.APIKey != ""),
	)
}

// Env looks a variable up; [OSEnv] is the process environment.
type Env func(key string) (string, bool)

// OSEnv is the process environment.
var OSEnv Env = os.LookupEnv

// WithDotEnv returns env backed by the KEY=VALUE file at path when it
// exists: variables already set in env win over the file. A missing file
// is not an error; an unreadable or malformed one is (the error names the
// line, never its content). Secrets (WHIP_TOKEN, LIVEKIT_TOKEN,
// LIVEKIT_API_SECRET, AWS_SECRET_ACCESS_KEY) belong in the environment
// or this file, not in flags, which every user sees in ps.
func WithDotEnv(env Env, path string) (Env, error) {
	if path == "" {
		return env, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return env, nil
		}
		return nil, fmt.Errorf("%w: env file %s: %w", ErrConfig, path, err)
	}
	vals, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		// godotenv's message quotes the file from the bad line on: it
		// may hold secrets, so only the line and the reason are told.
		if lerr := checkDotEnv(string(data)); lerr != nil {
			return nil, fmt.Errorf("%w: env file %s: %w", ErrConfig, path, lerr)
		}
		return nil, fmt.Errorf("%w: env file %s is malformed (its values are not shown)", ErrConfig, path)
	}
	return func(key string) (string, bool) {
		if v, ok := env(key); ok {
			return v, true
		}
		v, ok := vals[key]
		return v, ok
	}, nil
}

// ParseArgs reads the configuration from args (without the program name),
// then the environment and the .env file named by --env-file (default
// ".env" in the working directory). Flags win over the environment, which
// wins over the file. Usage and errors go to usage.
func ParseArgs(args []string, env Env, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(usage)
	envFile := DefaultEnvFile
	for i, a := range args { // --env-file must be known before the defaults
		switch {
		case a == "--env-file" || a == "-env-file":
			if i+1 < len(args) {
				envFile = args[i+1]
			}
		case strings.HasPrefix(a, "--env-file="), strings.HasPrefix(a, "-env-file="):
			envFile = a[strings.IndexByte(a, '=')+1:]
		}
	}
	env, err := WithDotEnv(env, envFile)
	if err != nil {
		return Config{}, err
	}
	get := func(key, def string) string {
		if v, ok := env(key); ok && v != "" {
			return v
		}
		return def
	}
	var errs []error
	getInt := func(key string, def int) int {
		v, ok := env(key)
		if !ok || v == "" {
			return def
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%q is not an integer", ErrConfig, key, v))
			return def
		}
		return n
	}

	var c Config
	fs.String("env-file", envFile, "read KEY=VALUE settings from this file when it exists")
	fs.StringVar(&c.WHIPListen, "whip-listen", "", "record external WHIP publishers on this address (e.g. 127.0.0.1:8080); without it (and without --room-url) the bot runs its demo")
	fs.StringVar(&c.WHIPToken, "whip-token", get("WHIP_TOKEN", ""), "shared bearer token WHIP publishers must send; required off loopback (prefer env WHIP_TOKEN: flags show in ps)")
	origins := fs.String("whip-origin", get("WHIP_ALLOW_ORIGINS", ""), "comma-separated origins whose web pages may publish (CORS; default none; env WHIP_ALLOW_ORIGINS)")
	hosts := fs.String("whip-host", get("WHIP_ALLOW_HOSTS", ""), "comma-separated host names publishers may use to reach the bot besides its IP address (env WHIP_ALLOW_HOSTS)")
	fs.IntVar(&c.WHIPMaxPublishers, "whip-max-publishers", getInt("WHIP_MAX_PUBLISHERS", whip.DefaultMaxResources), "most WHIP publishers at once (env WHIP_MAX_PUBLISHERS)")
	iceLoopback := fs.Bool("ice-loopback", false, "with --whip-listen: offer only 127.0.0.1 ICE candidates (publishers on this machine that use loopback, not browsers)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", DefaultIdleTimeout, "end the session when everyone has left for this long")
	fs.DurationVar(&c.DemoDuration, "demo-duration", DefaultDemoDuration, "length of the demo session (the plan scales with it)")
	fs.BoolVar(&c.DemoReplay, "demo-replay", false, "demo publishers replay pre-encoded media instead of encoding live (lighter on the CPU)")
	fs.IntVar(&c.DemoWidth, "demo-width", DefaultDemoWidth, "demo camera width (the phone is portrait: height x width)")
	fs.IntVar(&c.DemoHeight, "demo-height", DefaultDemoHeight, "demo camera height")
	fs.StringVar(&c.LiveKit.URL, "room-url", get("LIVEKIT_URL", ""), "LiveKit server URL (ws://...) to join a room")
	fs.StringVar(&c.LiveKit.Token, "token", get("LIVEKIT_TOKEN", ""), "LiveKit access token (or env LIVEKIT_TOKEN)")
	fs.StringVar(&c.LiveKit.APIKey, "api-key", get("LIVEKIT_API_KEY", ""), "LiveKit API key (or env LIVEKIT_API_KEY)")
	fs.StringVar(&c.LiveKit.APISecret, "api-secret", get("LIVEKIT_API_SECRET", ""), "LiveKit API secret (or env LIVEKIT_API_SECRET)")
	fs.StringVar(&c.LiveKit.Room, "room", get("LIVEKIT_ROOM", ""), "LiveKit room name (with --api-key/--api-secret)")
	fs.StringVar(&c.LiveKit.Identity, "identity", get("LIVEKIT_IDENTITY", "roomtape-recorder"), "bot identity in the room")
	fs.BoolVar(&c.ViaBrowser, "via-browser", false, "with --room-url: join through the browser bridge (livekit-client in headless Chromium) instead of the Go SDK")
	fs.StringVar(&c.Daily.URL, "daily-url", get("DAILY_ROOM_URL", ""), "Daily room URL (https://DOMAIN.daily.co/ROOM) to join through the browser bridge (env DAILY_ROOM_URL)")
	fs.StringVar(&c.Daily.Token, "daily-token", get("DAILY_TOKEN", ""), "Daily meeting token for the bot (or env DAILY_TOKEN; else minted with DAILY_API_KEY)")
	c.Daily.APIKey = get("DAILY_API_KEY", "")
	c.Daily.APIURL = get("DAILY_API_URL", "")
	fs.StringVar(&c.RecordingsDir, "recordings-dir", get("RECORDINGS_DIR", DefaultRecordingsDir), "recordings root (env RECORDINGS_DIR)")
	fs.StringVar(&c.SessionID, "session-id", "", "session ID (default: start time, 20060102_150405)")
	fs.IntVar(&c.Width, "width", getInt("OUTPUT_WIDTH", DefaultWidth), "output width (env OUTPUT_WIDTH)")
	fs.IntVar(&c.Height, "height", getInt("OUTPUT_HEIGHT", DefaultHeight), "output height (env OUTPUT_HEIGHT)")
	fs.IntVar(&c.FPS, "fps", compose.DefaultFPS, "output frame rate")
	layout := fs.String("layout", get("LAYOUT", "columns"), "layout: columns, grid, speaker, single-speaker or auto")
	fit := fs.String("fit", "letterbox", "tile fit: letterbox or crop")
	fs.BoolVar(&c.Labels, "labels", false, "draw name labels on tiles")
	fs.DurationVar(&c.CrossFade, "cross-fade", 0, "dissolve speaker switches of the speaker layouts over this long (0 to 1s; 0 cuts)")
	fs.BoolVar(&c.AudioM4A, "audio-m4a", false, "also write the mixed audio alone as <output>.m4a (audio-only recording)")
	fs.StringVar(&c.Preset, "preset", compose.DefaultPreset, "libx264 preset")
	fs.IntVar(&c.CRF, "crf", compose.DefaultCRF, "libx264 CRF (1-51)")
	fs.StringVar(&c.X264Params, "x264-params", "", "extra libx264 options, key=value:key=value (default: "+compose.DefaultX264Params+" with the default preset; - for none)")
	fs.BoolVar(&c.NoCompose, "no-compose", false, "record only; compose later with examples/compose")
	fs.BoolVar(&c.Offline, "offline", false, "compose after the call instead of live while recording")
	fs.DurationVar(&c.LiveDelay, "live-delay", compose.DefaultDelay, "how far behind the live edge the live composition runs (at least the 2s minimum window)")
	fs.BoolVar(&c.FullSpan, "full-span", false, "compose the whole session, not only first join to last leave")
	var rtmpFlags []string
	fs.Func("rtmp", "push the live composition to this RTMP URL (repeatable; prefer env RTMP_URLS, space-separated: the stream key shows in ps)", func(v string) error {
		rtmpFlags = append(rtmpFlags, v)
		return nil
	})
	fs.BoolVar(&c.HLS, "hls", false, "write the live composition as HLS into the session directory's hls/ (uploaded with the recording)")
	fs.BoolVar(&c.UploadAll, "upload-all", false, "also upload session.json and per-participant files")
	fs.StringVar(&c.S3.Endpoint, "s3-endpoint", get("S3_ENDPOINT", ""), "S3-compatible endpoint URL (env S3_ENDPOINT)")
	fs.StringVar(&c.S3.Prefix, "s3-prefix", get("S3_PREFIX", ""), "key prefix for uploads (env S3_PREFIX)")
	logLevel := fs.String("log-level", get("LOG_LEVEL", "INFO"), "DEBUG, INFO, WARN or ERROR (env LOG_LEVEL)")
	fs.BoolVar(&c.LogJSON, "log-json", false, "log JSON lines instead of text")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("%w: unexpected argument %q", ErrConfig, fs.Arg(0)))
	}
	warnSecretFlags(fs, usage)
	c.WHIPOrigins, c.WHIPHosts = splitList(*origins), splitList(*hosts)
	c.RTMP = strings.Fields(get("RTMP_URLS", ""))
	if len(rtmpFlags) > 0 {
		c.RTMP = rtmpFlags
	}
	c.S3.AccessKeyID = get("AWS_ACCESS_KEY_ID", "")
	c.S3.SecretAccessKey = get("AWS_SECRET_ACCESS_KEY", "")
	c.S3.Region = get("AWS_REGION", "")
	c.S3.Bucket = get("S3_BUCKET", "")
	c.S3.BaseCDNURL = get("BASE_CDN_URL", "")

	if k, ok := timeline.ParseLayout(strings.ToLower(*layout)); ok || *layout == "" {
		c.Layout = k
	} else {
		errs = append(errs, fmt.Errorf("%w: unknown layout %q (want columns, grid, speaker, single-speaker or auto)", ErrConfig, *layout))
	}
	switch strings.ToLower(*fit) {
	case "letterbox", "":
	case "crop":
		c.Crop = true
	default:
		errs = append(errs, fmt.Errorf("%w: unknown fit %q (want letterbox or crop)", ErrConfig, *fit))
	}
	if err := c.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("%w: LOG_LEVEL %q: want DEBUG, INFO, WARN or ERROR", ErrConfig, *logLevel))
	}
	switch {
	case c.Daily.URL != "" && (c.LiveKit.URL != "" || c.WHIPListen != ""):
		errs = append(errs, fmt.Errorf("%w: --daily-url excludes --room-url and --whip-listen", ErrConfig))
	case c.Daily.URL != "":
		c.Mode = ModeDaily
		if c.Daily.Token == "" && c.Daily.APIKey == "" {
			errs = append(errs, fmt.Errorf("%w: --daily-url needs --daily-token (DAILY_TOKEN) or DAILY_API_KEY", ErrConfig))
		}
	case c.LiveKit.URL != "" && c.WHIPListen != "":
		errs = append(errs, fmt.Errorf("%w: --whip-listen and --room-url are exclusive", ErrConfig))
	case c.LiveKit.URL != "":
		c.Mode = ModeLiveKit
		if c.LiveKit.Token == "" && (c.LiveKit.APIKey == "" || c.LiveKit.APISecret == "" || c.LiveKit.Room == "") {
			errs = append(errs, fmt.Errorf("%w: --room-url needs --token, or --api-key, --api-secret and --room", ErrConfig))
		}
	case c.ViaBrowser:
		errs = append(errs, fmt.Errorf("%w: --via-browser needs --room-url", ErrConfig))
	case c.WHIPListen != "":
		c.Mode = ModeWHIP
		c.PublicICE = !*iceLoopback
		if c.WHIPToken == "" && !loopbackAddr(c.WHIPListen) {
			errs = append(errs, fmt.Errorf("%w: --whip-listen %s is reachable from other machines: set WHIP_TOKEN (environment or .env; a --whip-token flag shows in ps)", ErrConfig, c.WHIPListen))
		}
	default:
		c.Mode = ModeDemo
		c.WHIPListen = "127.0.0.1:0"
	}
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// Output size limits: even sizes that libx264 and the tile geometry take.
const (
	minOutputSize = 64
	maxOutputSize = 7680
)

func (c *Config) validate() []error {
	var errs []error
	for _, d := range []struct {
		name string
		v    int
	}{{"width (OUTPUT_WIDTH)", c.Width}, {"height (OUTPUT_HEIGHT)", c.Height}} {
		if d.v < minOutputSize || d.v > maxOutputSize || d.v%2 != 0 {
			errs = append(errs, fmt.Errorf("%w: output %s %d: want an even number in [%d, %d]", ErrConfig, d.name, d.v, minOutputSize, maxOutputSize))
		}
	}
	if c.FPS < 1 || c.FPS > 120 {
		errs = append(errs, fmt.Errorf("%w: fps %d: want 1..120", ErrConfig, c.FPS))
	}
	if !slices.Contains(compose.Presets, c.Preset) {
		errs = append(errs, fmt.Errorf("%w: preset %q: want one of %v", ErrConfig, c.Preset, compose.Presets))
	}
	if c.CRF < 1 || c.CRF > 51 {
		errs = append(errs, fmt.Errorf("%w: crf %d: want 1..51", ErrConfig, c.CRF))
	}
	if c.CrossFade < 0 || c.CrossFade > compose.MaxCrossFade {
		errs = append(errs, fmt.Errorf("%w: cross-fade %v: want 0 to %v", ErrConfig, c.CrossFade, compose.MaxCrossFade))
	}
	if !c.Offline && (c.LiveDelay < timeline.DefaultMinWindow || c.LiveDelay > time.Minute) {
		errs = append(errs, fmt.Errorf("%w: live-delay %v: want %v to 1m (at least the layout's minimum window)", ErrConfig, c.LiveDelay, timeline.DefaultMinWindow))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: idle-timeout %v must be positive", ErrConfig, c.IdleTimeout))
	}
	if c.Mode == ModeDemo && c.DemoDuration < minDemoDuration {
		errs = append(errs, fmt.Errorf("%w: demo-duration %v: want at least %v", ErrConfig, c.DemoDuration, minDemoDuration))
	}
	if c.RecordingsDir == "" {
		errs = append(errs, fmt.Errorf("%w: empty RECORDINGS_DIR", ErrConfig))
	}
	if c.WHIPToken != "" && len(c.WHIPToken) < whip.MinTokenBytes {
		errs = append(errs, fmt.Errorf("%w: WHIP_TOKEN is %d bytes: want at least %d (e.g. openssl rand -hex 16)", ErrConfig, len(c.WHIPToken), whip.MinTokenBytes))
	}
	if c.WHIPMaxPublishers < 1 {
		errs = append(errs, fmt.Errorf("%w: whip-max-publishers %d: want at least 1", ErrConfig, c.WHIPMaxPublishers))
	}
	if (len(c.RTMP) > 0 || c.HLS) && (c.Offline || c.NoCompose) {
		errs = append(errs, fmt.Errorf("%w: --rtmp and --hls stream the live composition: not with --offline or --no-compose", ErrConfig))
	}
	if err := (compose.Streams{RTMP: c.RTMP}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrConfig, err))
	}
	if c.S3.Bucket == "" && (c.S3.Endpoint != "" || c.UploadAll) {
		errs = append(errs, fmt.Errorf("%w: --s3-endpoint/--upload-all without S3_BUCKET", ErrConfig))
	}
	return errs
}

// secretFlags are the flags that carry secrets, with the variable to use
// instead: a command line is visible to every user (ps, /proc).
var secretFlags = map[string]string{
	"token": "LIVEKIT_TOKEN", "api-secret": "LIVEKIT_API_SECRET", "whip-token": "WHIP_TOKEN", "rtmp": "RTMP_URLS",
}

// warnSecretFlags writes a warning for each secret given as a flag.
func warnSecretFlags(fs *flag.FlagSet, w io.Writer) {
	fs.Visit(func(f *flag.Flag) {
		if env, ok := secretFlags[f.Name]; ok {
			_, _ = fmt.Fprintf(w, "bot: warning: --%s on the command line is visible to other users (ps); set %s in the environment or .env instead\n", f.Name, env)
		}
	})
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// loopbackAddr reports whether a listen address is reachable from this
// machine only: a loopback IP, "localhost", or no host (whip.Listen
// listens on 127.0.0.1 then).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "" || strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

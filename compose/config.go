package compose

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
	"github.com/roomtape/roomtape/timeline/speaker"
)

// Defaults of [Config].
const (
	DefaultWidth  = 1280
	DefaultHeight = 720
	DefaultFPS    = 30
	// DefaultPreset is libx264's superfast, with DefaultX264Params and
	// DefaultCRF: on the benchmark sessions of bench/live.sh it keeps SSIM
	// ≥ 0.9955 against a near-lossless composition of the same session,
	// with files at most 1.24 × preset fast / CRF 23's, at about half of
	// fast's composing CPU.
	DefaultPreset = "superfast"
	// DefaultX264Params are the libx264 options added to DefaultPreset
	// when Config.X264Params is empty: macroblock-tree rate control over a
	// 10-frame lookahead (superfast turns it off) spends bits where the
	// picture changes, which nearly halves superfast's file size on calls
	// for 3 % more encoding CPU.
	DefaultX264Params = "mbtree=1:rc-lookahead=10"
	// DefaultCRF is one step below libx264's usual 23: at 23, superfast
	// falls to SSIM 0.9947 on bench/live.sh's "example" session (fine
	// moving detail), under the 0.995 quality floor; 22 gives 0.9955 there
	// for 14 % more bits, still smaller than or near preset fast's file.
	DefaultCRF          = 22
	DefaultHoldLast     = time.Second
	DefaultAudioBitrate = 128000
	// DefaultDelay is how far behind the live edge [Live] composes: longer
	// than timeline.DefaultMinWindow, so that a quick reconnect is bridged
	// before its window is drawn, with a second for the recorder's files
	// to reach the disk.
	DefaultDelay = 3 * time.Second
	// SampleRate is the output audio sample rate.
	SampleRate = 48000
)

// Presets are the libx264 presets [Config.Preset] accepts.
var Presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"}

// Errors returned (wrapped) by [Session] and [Graphs]; test with errors.Is.
var (
	// ErrConfig is a Config field out of range; the message names it.
	ErrConfig = errors.New("compose: bad config")
	// ErrNoParticipants is a session without participants.
	ErrNoParticipants = errors.New("compose: no participants")
	// ErrInput is a participant's media file that is missing or that
	// FFmpeg cannot read; the message names the participant and the file.
	ErrInput = errors.New("compose: unreadable input")
)

// Config tunes a composition. The zero value composes 1280x720 at 30 fps in
// the prototype's column layout, letterboxed, libx264 preset superfast
// with macroblock-tree rate control (DefaultX264Params), CRF 22.
type Config struct {
	// Width and Height (optional) are the output size; default to 1280x720.
	// Both must be even.
	Width, Height int
	// FPS (optional) is the constant output frame rate; defaults to 30.
	FPS int
	// Layout (optional) defaults to timeline.Columns; see the package
	// documentation (Layouts) for the others.
	Layout timeline.LayoutKind
	// Speaker (optional) tunes the speaker detection of the Speaker and
	// SingleSpeaker layouts; the zero value gives speaker's defaults. Its
	// Lookahead is set by the composition: unbounded for [Session], Delay
	// less a second (for the audio to reach its file) for [Live].
	Speaker speaker.Config
	// IgnoreHints (optional) makes the speaker layouts decode every
	// microphone file even when the session has transport hints (see the
	// package documentation, Layouts); defaults to false: hints are used.
	IgnoreHints bool
	// CrossFade (optional) dissolves the picture on a speaker switch
	// (the Speaker and SingleSpeaker layouts, the same people on screen,
	// another one in the main area) from the last frame before it to the
	// new layout, over this long; defaults to 0, a cut. At most 1 s.
	// Joins, leaves, screen shares and other layout changes always cut.
	CrossFade time.Duration
	// MaxTiles (optional) caps the tiles on screen; see timeline.Options.
	MaxTiles int
	// MinWindow (optional) is timeline.Options.MinWindow; defaults to
	// timeline.DefaultMinWindow, negative disables it.
	MinWindow time.Duration
	// Fit (optional) defaults to timeline.Letterbox.
	Fit timeline.Fit
	// Preset (optional) is the libx264 preset; defaults to DefaultPreset.
	Preset string
	// CRF (optional) is libx264's constant rate factor, 1-51; defaults to
	// 23.
	CRF int
	// X264Params (optional) are extra libx264 options in x264's
	// "key=value:key=value" syntax (as ffmpeg's -x264-params); defaults to
	// DefaultX264Params with DefaultPreset and to none with another preset;
	// "-" adds none.
	X264Params string
	// AudioBitrate (optional) is the AAC bit rate in bit/s; defaults to
	// 128000.
	AudioBitrate int
	// Labels (optional) draws each participant's name on their tile.
	Labels bool
	// Font (optional) is the fontconfig pattern for names; defaults to
	// "DejaVu Sans".
	Font string
	// HoldLast (optional) is how long a tile keeps showing a stream's last
	// frame when no newer frame comes (the stream stopped or stalled)
	// before it falls back to the placeholder; defaults to 1 s, negative
	// holds forever.
	HoldLast time.Duration
	// Threads (optional) is the encoder's and decoders' thread count;
	// defaults to 0, FFmpeg's choice for the encoder and one or two
	// threads per decoder.
	Threads int
	// FullSpan (optional) composes the whole session, from session time 0
	// to its end. By default the output spans the first join to the last
	// leave (manifest.Session.Trim), leaving out the wait before anyone
	// came and the idle time after everyone left.
	FullSpan bool
	// AudioFile (optional) also writes the mixed audio alone to this file
	// at the end, an M4A (AAC in MP4, copied from the output without
	// re-encoding), for audio-only sessions (nobody ever sent video: the
	// MP4 shows the placeholders with the names) or podcasts.
	AudioFile string
	// Delay (optional) is how far behind the live edge [Live] composes;
	// defaults to DefaultDelay. It must not be shorter than MinWindow.
	Delay time.Duration
	// Streams (optional) are live outputs besides the MP4 (RTMP, HLS);
	// only [Live] takes them.
	Streams Streams
	// Logger (optional) defaults to a discard logger.
	Logger *slog.Logger
	// Progress (optional) is called about every percent of output with
	// the progress so far, and once at the end; while [Live] follows a
	// session still being recorded, about once a second. It runs in the
	// composing goroutine: it must return quickly.
	Progress func(Progress)
}

// Progress reports how far a composition is.
type Progress struct {
	// Live says the session is still being recorded: Total and Percent
	// are not known yet, Lag is set.
	Live bool
	// Done is how much of the output is composed; Total is its length.
	Done, Total time.Duration
	// Frames is the number of video frames composed.
	Frames int64
	// Lag is how far the composition is behind the live edge (about
	// Config.Delay when it keeps up).
	Lag time.Duration
	// Percent is 100 * Done / Total.
	Percent float64
	// Elapsed is the wall time since the start.
	Elapsed time.Duration
	// Speed is Done / Elapsed: 2 means twice as fast as real time.
	Speed float64
	// ETA is the estimated wall time left at the current speed.
	ETA time.Duration
	// Streams is the state of each of Config.Streams' outputs.
	Streams []StreamStatus
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Width == 0 && c.Height == 0 {
		c.Width, c.Height = DefaultWidth, DefaultHeight
	}
	if c.Width < 16 || c.Height < 16 || c.Width > 8192 || c.Height > 8192 || c.Width%2 != 0 || c.Height%2 != 0 {
		return c, fmt.Errorf("%w: size %dx%d: width and height must be even, 16 to 8192", ErrConfig, c.Width, c.Height)
	}
	if c.FPS == 0 {
		c.FPS = DefaultFPS
	}
	if c.FPS < 1 || c.FPS > 240 {
		return c, fmt.Errorf("%w: FPS %d: must be 1 to 240", ErrConfig, c.FPS)
	}
	if c.Layout < timeline.Columns || c.Layout > timeline.Auto {
		return c, fmt.Errorf("%w: unknown layout %d", ErrConfig, c.Layout)
	}
	if c.CrossFade < 0 || c.CrossFade > MaxCrossFade {
		return c, fmt.Errorf("%w: CrossFade %v: must be 0 to %v", ErrConfig, c.CrossFade, MaxCrossFade)
	}
	if c.Fit != timeline.Letterbox && c.Fit != timeline.Crop {
		return c, fmt.Errorf("%w: unknown fit %d", ErrConfig, c.Fit)
	}
	if c.Preset == "" {
		c.Preset = DefaultPreset
	}
	if !slices.Contains(Presets, c.Preset) {
		return c, fmt.Errorf("%w: preset %q: want one of %v", ErrConfig, c.Preset, Presets)
	}
	if c.CRF == 0 {
		c.CRF = DefaultCRF
	}
	switch {
	case c.X264Params == "" && c.Preset == DefaultPreset:
		c.X264Params = DefaultX264Params
	case c.X264Params == "-":
		c.X264Params = ""
	}
	if c.CRF < 1 || c.CRF > 51 {
		return c, fmt.Errorf("%w: CRF %d: must be 1 to 51", ErrConfig, c.CRF)
	}
	if c.AudioBitrate == 0 {
		c.AudioBitrate = DefaultAudioBitrate
	}
	if c.AudioBitrate < 8000 || c.AudioBitrate > 512000 {
		return c, fmt.Errorf("%w: audio bit rate %d: must be 8000 to 512000", ErrConfig, c.AudioBitrate)
	}
	if c.HoldLast == 0 {
		c.HoldLast = DefaultHoldLast
	}
	if c.Delay == 0 {
		c.Delay = DefaultDelay
	}
	if c.Delay < 0 || c.Delay > time.Minute {
		return c, fmt.Errorf("%w: delay %v: must be 0 to 1m", ErrConfig, c.Delay)
	}
	if c.MinWindow == 0 {
		c.MinWindow = timeline.DefaultMinWindow
	}
	if c.Threads < 0 {
		return c, fmt.Errorf("%w: threads %d", ErrConfig, c.Threads)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if c.Streams.enabled() {
		c.Streams, err = c.Streams.withDefaults()
	}
	return c, err
}

func (c Config) timelineOptions(m *manifest.Session, turns []speaker.Interval, sizes map[string]float64) timeline.Options {
	return timeline.Options{
		Layout: c.Layout, MaxTiles: c.MaxTiles, MinWindow: c.MinWindow,
		Turns: turns, Screens: screens(m), Aspects: aspects(m, sizes),
	}
}

// span is the part of m to compose: m trimmed to first join → last leave,
// or all of it with FullSpan; offset is the session time of its 0.
func (c Config) span(m *manifest.Session) (_ *manifest.Session, offset time.Duration, err error) {
	if c.FullSpan || m == nil {
		return m, 0, nil
	}
	return m.Trim()
}

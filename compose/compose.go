// Package compose turns a recorded session into one MP4 whose layout follows
// who is present: H.264 (libx264, yuv420p, constant frame rate) and AAC
// 48 kHz stereo, written in a single pass in-process through go-astiav,
// after the call ([Session]) or while it is recorded ([Live]).
//
// # How it works
//
// Every input is decoded once and the output is encoded once; nothing is
// written but the output. [Session] drives the output clock itself: for
// output frame n at time t = n/FPS it finds the layout window containing t
// (timeline.Windows), advances each on-screen participant's decoder to the
// latest frame at or before t (sample and hold, which is what makes
// variable-frame-rate inputs with a 1/90000 time base and gaps work without a
// normalisation pass) and pushes those frames, stamped n, into a filter graph
// built by the pure package compose/graph for the current layout state. The
// graph scales (and crops) each picture into its tile with timeline.Place,
// overlays it on a black canvas, draws placeholders and labels, and its
// output goes to the encoder.
//
// A layout state is the window plus, per tile, whether it shows a picture
// and at what source size and pixel format. When it changes (a window
// boundary, a stream starting or stopping, a resolution change in the middle
// of a stream) the current graph is drained and a new one is configured,
// as the ffmpeg CLI reconfigures its graphs; that happens a handful of times
// per session.
//
// A stream that stops shows its last frame for Config.HoldLast, then the
// participant's placeholder (a grey tile with the name), which is also what a
// present participant without video gets.
//
// Audio tracks are decoded, resampled to 48 kHz, placed at their track's
// start on the session clock and mixed by package mix, then encoded AAC,
// interleaved with the video.
//
// The output is written progressively, as a fragmented MP4 (a fragment at
// least every second), then remuxed without re-encoding into the final
// faststart MP4 ([Finalize]) under a temporary name and renamed; inputs are
// only read. By default the output spans the first join to the last leave
// (manifest.Session.Trim); Config.FullSpan keeps the whole session.
//
// # Layouts
//
// Config.Layout picks the rule (timeline.LayoutKind): Columns (the
// prototype's, the default), Grid, Auto (tiles at the pictures' aspects,
// timeline.AutoTiles; the aspects come from the recorded track sizes or
// the camera files), Speaker and SingleSpeaker (the active speaker in the
// main area). A screen share (a participant whose ID ends in
// [ScreenSuffix], as recorder/livekit records one, or a participant's
// screen tracks, as recorder/whip records a track announced with
// a=content:slides) takes the main area in every layout while present.
//
// The speaker layouts measure every microphone file's level per 20 ms
// (a decoder of their own per file, at 48 kHz mono: a pre-pass after the
// call, following the files while they are recorded live) and find the
// turns with package timeline/speaker: after the call with unbounded
// look-ahead, live incrementally with a look-ahead of Config.Delay less a
// second, the horizon held back until the turns before it are final. The
// turns cut the layout windows, so both layouts go through the one
// engine: a turn change is a window boundary like a join. Window changes
// cut; Config.CrossFade dissolves a speaker switch instead (the last frame
// before it blended into the new layout's frames, in the encoder's feed).
//
// After the call, transport hints recorded with the session
// (manifest.Session.Hints) replace the decoding, in this order of
// precedence: active-speaker updates (recorder/livekit records LiveKit's)
// are every participant's speech, through the same stability rules
// (speaker.FromUpdates, Track.Speech), and no audio is decoded; else a
// participant with RFC 6464 levels (recorder/whip records a publisher's
// audio-level header extension) is detected from them (DBFS = -dBov, the
// same RMS scale as the decoded level) and the others from their decoded
// audio, as is a participant one of whose microphone files (a rejoin from
// another client) has no level at all. A hints file that cannot be read, or that its writer truncated,
// is ignored (logged): everything is decoded. Live composition decodes
// (the hints file is only read once the session has ended), and so does
// every composition with Config.IgnoreHints. [SpeakerTurns] runs this
// detection alone.
//
// # Live
//
// [Live] runs the same engine while the session is recorded: it rereads the
// recording's manifest every 200 ms for new participants, tracks and
// finished files, and draws output frame n once the live edge has passed
// its time by Config.Delay (and never into the last minimum window before
// an empty room's end, which a rejoin could still change). Its inputs
// follow the recorder's Matroska files as they grow (a reader that waits at
// the end of a file not yet complete): a frame not recorded by then is
// held (video) or left silent (audio, counted as dropped). The recording
// never waits for the composition; a composition that falls behind catches
// up after the call.
//
// # Threads and memory
//
// Each video and audio input decodes in its own goroutine a couple of
// frames ahead, the filter graph runs (one thread) in the calling
// goroutine and encoding, audio mixing and muxing run in another, so
// decoding, filtering and encoding overlap.
// With several video inputs each decoder gets one thread (a frame-threaded
// decoder keeps a picture pool per thread); libx264 picks its own thread
// count. Four 720p inputs composed at 1280x720 peak at about 290 MB RSS.
//
// # Names
//
// Placeholders and labels draw names with FFmpeg's drawtext filter, which
// FFmpeg 7 builds only with libfreetype and libharfbuzz. Without it
// ([HasDrawtext] is false) tiles are drawn without names and a warning is
// logged.
package compose

import (
	"errors"
	"fmt"
	"slices"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/compose/graph"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
	"github.com/roomtape/roomtape/timeline/speaker"
)

// WindowGraph is the filter graph of one layout window, for display.
type WindowGraph struct {
	Window timeline.Window
	Plan   graph.Plan
}

// Graphs returns the filter graph of every layout window of m as [Session]
// would first build it, with each participant's video at the size and pixel
// format its file starts with (it opens the video files to find out). It is
// what examples/compose --print-graph prints. It does not measure the
// audio: the Speaker and SingleSpeaker layouts are shown as before anyone
// spoke (and with any screen share in the main area).
func Graphs(m *manifest.Session, cfg Config) (_ []WindowGraph, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if m, _, err = cfg.span(splitScreens(m)); err != nil {
		return nil, err
	}
	sizes := map[string]float64{}
	if cfg.Layout == timeline.Auto {
		probeAspects(m, true, sizes, demux.Options{Logger: cfg.Logger})
	}
	ws, err := windows(m, cfg, nil, sizes)
	if err != nil {
		return nil, err
	}
	srcs := map[string]*graph.Source{}
	for _, p := range m.Participants {
		// The graph starts with the first file's size: open only that one.
		tracks := p.VideoTracks()
		if len(tracks) == 0 {
			continue
		}
		if err := checkFile(p.Name, "video", tracks[0].Path); err != nil {
			return nil, err
		}
		// A complete file: openFile opens it directly, without a tail.
		d, _, err := openFile(p.Name, demux.Video, newTrackFile(tracks[0], true), nil, nil, demux.Options{Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		cc := d.CodecContext()
		srcs[p.Key()] = &graph.Source{Width: cc.Width(), Height: cc.Height(), PixelFormat: cc.PixelFormat().Name()}
		d.Close()
	}
	var out []WindowGraph
	for _, w := range ws {
		l := layout(cfg, w)
		for i, p := range w.Participants {
			l.Tiles[i].Video = srcs[p.ID]
		}
		out = append(out, WindowGraph{Window: w, Plan: graph.Build(l)})
	}
	return out, nil
}

func windows(m *manifest.Session, cfg Config, turns []speaker.Interval, sizes map[string]float64) ([]timeline.Window, error) {
	if m == nil || len(m.Participants) == 0 {
		return nil, ErrNoParticipants
	}
	ws, err := m.Windows(cfg.timelineOptions(m, turns, sizes))
	if err != nil {
		if errors.Is(err, timeline.ErrNoParticipants) {
			return nil, fmt.Errorf("%w: %w", ErrNoParticipants, err)
		}
		return nil, fmt.Errorf("compose: session %q: %w", m.SessionID, err)
	}
	return ws, nil
}

// scaleFlags are the swscale flags of tile scaling. Tiles are mostly
// downscaled camera pictures; swscale's bilinear widens its filter with
// the scale factor, so it does not alias, and it costs a third of bicubic
// (measured: 0.5 against 1.5 CPU-s per minute of one 720p input scaled to a
// 426x240 tile; see bench/live.sh for the effect on the output's SSIM).
const scaleFlags = "bilinear"

// layoutCache keeps the layout of the last window drawn: the Auto
// layout's arrangement is searched once per window, not per frame.
type layoutCache struct {
	w   *timeline.Window
	win timeline.Window
	l   graph.Layout
}

// layout is layout(cfg, *w), a fresh copy of the tiles.
func (lc *layoutCache) layout(cfg Config, w *timeline.Window) graph.Layout {
	if lc.w != w || lc.win.Start != w.Start || lc.win.End != w.End {
		lc.w, lc.win, lc.l = w, *w, layout(cfg, *w)
	}
	l := lc.l
	l.Tiles = slices.Clone(lc.l.Tiles)
	return l
}

// layout is the graph layout of w with every tile a placeholder.
func layout(cfg Config, w timeline.Window) graph.Layout {
	l := graph.Layout{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, Fit: cfg.Fit, Labels: cfg.Labels, Font: cfg.Font, NoText: !HasDrawtext(), ScaleFlags: scaleFlags}
	for i, r := range w.Tiles(cfg.Width, cfg.Height) {
		l.Tiles = append(l.Tiles, graph.Tile{Rect: r, Name: w.Participants[i].Name})
	}
	return l
}

// HasDrawtext reports whether the linked FFmpeg has the drawtext filter.
// Without it (FFmpeg 7 builds it only with libfreetype and libharfbuzz)
// placeholders and labels are drawn without names and [Session] logs a
// warning.
func HasDrawtext() bool {
	return astiav.FindFilterByName("drawtext") != nil
}

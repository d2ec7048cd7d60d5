// Package compose turns a recorded session into one MP4 whose layout follows
// who is present: H.264 (libx264, yuv420p, constant frame rate) and AAC
// 48 kHz stereo, written in a single pass in-process through go-astiav.
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
// The output is written to a temporary file next to the final name and
// renamed when complete; inputs are only read.
//
// # Threads and memory
//
// Each video input decodes in its own goroutine a couple of frames ahead,
// the filter graph runs in the calling goroutine and encoding, audio mixing
// and muxing run in a third, so decoding, filtering and encoding overlap.
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
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/compose/graph"
	"github.com/roomtape/roomtape/mix"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// WindowGraph is the filter graph of one layout window, for display.
type WindowGraph struct {
	Window timeline.Window
	Plan   graph.Plan
}

// Graphs returns the filter graph of every layout window of m as [Session]
// would first build it, with each participant's video at the size and pixel
// format its file starts with (it opens the video files to find out). It is
// what examples/compose --print-graph prints.
func Graphs(m *manifest.Session, cfg Config) ([]WindowGraph, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ws, err := windows(m, cfg)
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
		v, err := openVideo(p, tracks[:1], demux.Options{Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		cc := v.files[0].dec.CodecContext()
		srcs[p.Key()] = &graph.Source{Width: cc.Width(), Height: cc.Height(), PixelFormat: cc.PixelFormat().Name()}
		v.close()
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

func windows(m *manifest.Session, cfg Config) ([]timeline.Window, error) {
	if m == nil || len(m.Participants) == 0 {
		return nil, ErrNoParticipants
	}
	ws, err := m.Windows(cfg.timelineOptions())
	if err != nil {
		if errors.Is(err, timeline.ErrNoParticipants) {
			return nil, fmt.Errorf("%w: %w", ErrNoParticipants, err)
		}
		return nil, fmt.Errorf("compose: session %q: %w", m.SessionID, err)
	}
	return ws, nil
}

// layout is the graph layout of w with every tile a placeholder.
func layout(cfg Config, w timeline.Window) graph.Layout {
	l := graph.Layout{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, Fit: cfg.Fit, Labels: cfg.Labels, Font: cfg.Font, NoText: !HasDrawtext()}
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

// Session composes m into the MP4 file out. It returns an error wrapping
// [ErrConfig], [ErrNoParticipants] or [ErrInput] (naming the participant
// and the file) for bad input, or FFmpeg's error; then no file is left at
// out. A truncated or damaged media file is used as far as it decodes, with
// a warning on Config.Logger.
func Session(ctx context.Context, m *manifest.Session, out string, cfg Config) (err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return err
	}
	ws, err := windows(m, cfg)
	if err != nil {
		return err
	}
	if !HasDrawtext() {
		cfg.Logger.Warn("FFmpeg has no drawtext filter (needs libfreetype and libharfbuzz): names are not drawn")
	}
	c := &composition{cfg: cfg, windows: ws, end: m.End(), byKey: map[string]*videoInput{}}
	defer c.close()
	dopts := demux.Options{Logger: cfg.Logger, Threads: decoderThreads(cfg, m)}
	for _, p := range m.Participants {
		v, err := openVideo(p, p.VideoTracks(), dopts)
		if err != nil {
			return err
		}
		if v != nil {
			v.startDecoding()
			c.videos = append(c.videos, v)
			c.byKey[p.Key()] = v
		} else {
			cfg.Logger.Info("participant has no video: placeholder tile", "participant", p.Name)
		}
		// One mix source per microphone file: each is placed at its own
		// start, so a rejoin's audio lands where it was recorded.
		for _, t := range p.AudioTracks() {
			a, err := openAudio(p, t, dopts)
			if err != nil {
				return err
			}
			c.audios = append(c.audios, a)
		}
	}

	dir, base := filepath.Split(out)
	tmpf, err := os.CreateTemp(dir, "."+strings.TrimSuffix(base, filepath.Ext(base))+".*.mp4.part")
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	tmp := tmpf.Name()
	_ = tmpf.Close()
	defer func() {
		if err != nil {
			if c.out != nil { // close the file before removing it
				c.out.free()
				c.out = nil
			}
			_ = os.Remove(tmp)
		}
	}()
	if c.out, err = openOutput(tmp, cfg); err != nil {
		return err
	}
	if err := c.run(ctx); err != nil {
		return err
	}
	if err := c.out.finish(); err != nil {
		return err
	}
	c.out.free()
	c.out = nil
	// CreateTemp made the file 0600; the recording is an ordinary output
	// file, readable like the recorder's files.
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	return nil
}

// decoderThreads is the thread count of each video decoder. Every input
// decodes in its own goroutine already, so with more than two inputs one
// thread each keeps the cores busy without the memory of per-thread frame
// pools (a frame-threaded H.264 decoder holds a picture set per thread); one
// or two inputs get two threads each.
func decoderThreads(cfg Config, m *manifest.Session) int {
	if cfg.Threads > 0 {
		return cfg.Threads
	}
	n := 0
	for _, p := range m.Participants {
		if len(p.VideoTracks()) > 0 {
			n++
		}
	}
	if n <= 2 {
		return 2
	}
	return 1
}

// composition is the state of one Session call.
type composition struct {
	cfg     Config
	windows []timeline.Window
	end     time.Duration
	videos  []*videoInput
	byKey   map[string]*videoInput
	audios  []*audioSource
	out     *output

	runner  *runner
	key     string
	canvas  *astiav.Frame
	pending []*astiav.Frame // frames to push, per plan input
	encq    chan *astiav.Frame
	failed  atomic.Bool
	nextOut int64 // next output frame number to encode (encoder goroutine)

	mixer    *mix.Mixer
	abuf     []float32
	apos     int64 // next audio sample frame to encode
	aframes  int64
	audioEOF bool
}

func (c *composition) close() {
	if c.runner != nil {
		c.runner.free()
	}
	if c.canvas != nil {
		c.canvas.Free()
	}
	for _, v := range c.videos {
		v.close()
	}
	for _, a := range c.audios {
		a.close()
	}
	if c.out != nil {
		c.out.free()
	}
}

func (c *composition) run(ctx context.Context) error {
	cfg := c.cfg
	frames := int64(math.Round(c.end.Seconds() * float64(cfg.FPS)))
	c.aframes = int64(math.Round(c.end.Seconds() * SampleRate))
	srcs := make([]mix.Source, len(c.audios))
	for i, a := range c.audios {
		srcs[i] = a
	}
	c.mixer = mix.NewMixer(srcs, c.aframes, mix.Options{Logger: cfg.Logger})
	c.abuf = make([]float32, 2*c.out.audioFrameSize())
	c.canvas = astiav.AllocFrame()
	c.canvas.SetWidth(cfg.Width)
	c.canvas.SetHeight(cfg.Height)
	c.canvas.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := c.canvas.AllocBuffer(0); err != nil {
		return fmt.Errorf("compose: canvas: %w", err)
	}
	if err := c.canvas.ImageFillBlack(); err != nil {
		return fmt.Errorf("compose: canvas: %w", err)
	}

	// Encoding (video, audio mixing, muxing) runs in its own goroutine, in
	// parallel with decoding and filtering.
	c.encq = make(chan *astiav.Frame, encodeAhead)
	encErr := make(chan error, 1)
	go func() { encErr <- c.encodeLoop() }()
	err := c.produce(ctx, frames)
	close(c.encq)
	if e := <-encErr; e != nil {
		return e
	}
	if err != nil {
		return err
	}
	if c.nextOut != frames {
		return fmt.Errorf("compose: encoded %d video frames, want %d", c.nextOut, frames)
	}
	return nil
}

// encodeAhead is how many composed frames may wait for the encoder.
const encodeAhead = 4

// encodeLoop encodes the composed frames of c.encq, with the audio up to
// each frame's end, then the rest of the audio. After an error it keeps
// draining the queue so that the producer never blocks.
func (c *composition) encodeLoop() error {
	var err error
	for f := range c.encq {
		if err == nil {
			err = c.out.writeVideo(f, c.nextOut)
			c.nextOut++
			if err == nil {
				err = c.audioUntil(c.nextOut * SampleRate / int64(c.cfg.FPS))
			}
			if err != nil {
				c.failed.Store(true)
			}
		}
		f.Free()
	}
	if err != nil {
		return err
	}
	return c.audioUntil(c.aframes)
}

// produce composes every output frame into c.encq.
func (c *composition) produce(ctx context.Context, frames int64) error {
	cfg := c.cfg
	started := time.Now()
	lastReport := -1
	wi := 0
	for n := range frames {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		if c.failed.Load() {
			return nil
		}
		t := time.Duration(n) * time.Second / time.Duration(cfg.FPS)
		for wi+1 < len(c.windows) && t >= c.windows[wi].End {
			wi++
		}
		if err := c.frame(n, t, c.windows[wi]); err != nil {
			return err
		}
		if pct := int(100 * (n + 1) / frames); cfg.Progress != nil && pct != lastReport {
			lastReport = pct
			cfg.Progress(progress(time.Duration(n+1)*time.Second/time.Duration(cfg.FPS), c.end, time.Since(started)))
		}
	}
	if c.runner != nil {
		return c.runner.drain(true, c.encode)
	}
	return nil
}

func progress(done, total, elapsed time.Duration) Progress {
	p := Progress{Done: min(done, total), Total: total, Elapsed: elapsed}
	if total > 0 {
		p.Percent = 100 * float64(p.Done) / float64(total)
	}
	if elapsed > 0 {
		p.Speed = float64(p.Done) / float64(elapsed)
	}
	if p.Speed > 0 {
		p.ETA = time.Duration(float64(total-p.Done) / p.Speed)
	}
	return p
}

// frame draws output frame n at time t in window w.
func (c *composition) frame(n int64, t time.Duration, w timeline.Window) error {
	l := layout(c.cfg, w)
	var inputs []*videoInput
	for i, p := range w.Participants {
		v := c.byKey[p.ID]
		if v != nil {
			if err := v.advance(t); err != nil {
				return err
			}
		}
		l.Tiles[i].Video = v.source(t, c.cfg.HoldLast)
		inputs = append(inputs, v)
	}
	plan := graph.Build(l)
	if key := plan.String(); key != c.key {
		if c.runner != nil {
			if err := c.runner.drain(true, c.encode); err != nil {
				return err
			}
			c.runner.free()
			c.runner = nil
		}
		r, err := newRunner(plan)
		if err != nil {
			return err
		}
		c.runner, c.key = r, key
		c.cfg.Logger.Debug("layout", "t", t, "graph", plan.Filter)
	}
	c.pending = c.pending[:0]
	for _, in := range plan.Inputs {
		f := c.canvas
		if in.Tile >= 0 {
			f = inputs[in.Tile].frame()
		}
		f.SetPts(n)
		c.pending = append(c.pending, f)
	}
	if err := c.runner.push(c.pending); err != nil {
		return err
	}
	return c.runner.drain(false, c.encode)
}

// encode queues a composed frame as the next output frame.
func (c *composition) encode(f *astiav.Frame) error {
	cl := f.Clone()
	if cl == nil {
		return errors.New("compose: cloning a frame failed")
	}
	c.encq <- cl
	return nil
}

// audioUntil encodes mixed audio up to sample frame limit.
func (c *composition) audioUntil(limit int64) error {
	for !c.audioEOF && c.apos < limit {
		n := 0
		for n < len(c.abuf) {
			k, err := c.mixer.Read(c.abuf[n:])
			n += k
			if errors.Is(err, io.EOF) {
				c.audioEOF = true
				break
			}
			if err != nil {
				return fmt.Errorf("compose: mixing audio: %w", err)
			}
		}
		if n == 0 {
			break
		}
		if err := c.out.writeAudio(c.abuf[:n], c.apos); err != nil {
			return err
		}
		c.apos += int64(n / 2)
	}
	return nil
}

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
	"github.com/roomtape/roomtape/internal/testhook"
	"github.com/roomtape/roomtape/mix"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
	"github.com/roomtape/roomtape/timeline/speaker"
)

// Recording is a session being recorded, as [Live] follows it.
// *recorder.Session implements it.
type Recording interface {
	// Manifest returns the session as recorded so far, as session.json
	// says it: present participants' presence runs until now, tracks still
	// recording have no end and are not Complete, and EndTimeS is set once
	// the session has ended and every file is complete.
	Manifest() *manifest.Session
	// Elapsed is the session time now: the live edge.
	Elapsed() time.Duration
}

// Session composes m, a recorded session, into the MP4 file out. It
// returns an error wrapping [ErrConfig], [ErrNoParticipants] or [ErrInput]
// (naming the participant and the file) for bad input, or FFmpeg's error;
// then no file is left at out. A truncated or damaged media file is used as
// far as it decodes, with a warning on Config.Logger.
func Session(ctx context.Context, m *manifest.Session, out string, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if cfg.Streams.enabled() {
		return fmt.Errorf("%w: streams need a live composition (Live)", ErrConfig)
	}
	if m == nil || len(m.Participants) == 0 {
		return ErrNoParticipants
	}
	// Check every file up front: a missing one fails before any work.
	for _, p := range m.Participants {
		for _, t := range append(p.VideoTracks(), p.AudioTracks()...) {
			if err := checkFile(p.Name, t.Kind, t.Path); err != nil {
				return err
			}
		}
	}
	part, err := tempPart(out)
	if err != nil {
		return err
	}
	return compose(ctx, recorded{m}, out, part, cfg)
}

// Live composes rec while it is being recorded, Config.Delay behind the
// live edge, into the MP4 file out, and returns once the session has ended
// and out is complete (or ctx is done, or composing failed). It is
// [Session]'s engine with another clock: the result is the one [Session]
// gives for the finished recording, frame for frame in layout, timing and
// length, except that media reaching the files more than Delay late is
// shown late (video) or left out (audio, counted).
//
// The output is written progressively to [PartialPath](out), a fragmented
// MP4 that plays up to about a second before a crash; [Finalize] turns such
// a file into out. At the end Live does the same (a remux, no re-encoding)
// and removes it. Cancelled through ctx, Live keeps it for Finalize; after
// another error it removes it.
//
// Live never holds up recording: it reads the recorder's files. When the
// CPU cannot keep up it falls behind (Progress.Lag grows, a warning is
// logged when the lag passes Config.Delay plus [LagWarning]) and catches up
// after the call; no recorded media is lost either way. It does not switch
// to a faster preset when it lags: the encoding stays the same over the
// whole output, and a lag costs only post-call time.
func Live(ctx context.Context, rec Recording, out string, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if cfg.MinWindow > cfg.Delay {
		return fmt.Errorf("%w: delay %v is shorter than the minimum window %v: the layout could change after it is drawn", ErrConfig, cfg.Delay, cfg.MinWindow)
	}
	return compose(ctx, &live{rec: rec}, out, PartialPath(out), cfg)
}

// keepPartial says whether a composition that failed with err keeps its
// partial output: a live one aborted through its context does, so that
// [Finalize] can finish what was composed, as after a crash.
func keepPartial(src source, err error) bool {
	_, isLive := src.(*live)
	return isLive && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// LagWarning is how far past Config.Delay a live composition may fall
// behind the live edge before it logs a warning.
const LagWarning = 5 * time.Second

// PartialPath is where [Live] writes the progressive output of out:
// "x.mp4" becomes "x.part.mp4".
func PartialPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".part.mp4"
}

// tempPart names the progressive output of an offline composition: a
// hidden temporary file next to out, so that it never replaces a live
// composition's partial file that may still need finalising.
func tempPart(out string) (string, error) {
	dir, base := filepath.Split(out)
	f, err := os.CreateTemp(dir, "."+strings.TrimSuffix(base, filepath.Ext(base))+".*.part.mp4")
	if err != nil {
		return "", fmt.Errorf("compose: %w", err)
	}
	name := f.Name()
	return name, f.Close()
}

// source is what a composition follows: a finished recording or a live
// one.
type source interface {
	// snapshot is the session so far; final says it has ended (every file
	// complete, nothing will change).
	snapshot() (m *manifest.Session, final bool)
	// edge is the live edge on the session clock (unused when final).
	edge() time.Duration
}

type recorded struct{ m *manifest.Session }

func (r recorded) snapshot() (*manifest.Session, bool) { return r.m, true }
func (recorded) edge() time.Duration                   { return 0 }

type live struct{ rec Recording }

func (l *live) snapshot() (*manifest.Session, bool) {
	m := l.rec.Manifest()
	m.Resolve(m.SessionDir) // the recorder names files relative to it
	return m, m.EndTimeS != nil
}
func (l *live) edge() time.Duration { return l.rec.Elapsed() }

// refreshEvery is how often a live composition rereads the recording's
// manifest for new participants, tracks and completed files.
const refreshEvery = 200 * time.Millisecond

// composition is the state of one composition. The goroutine that called
// compose owns it (the "owner"); it runs the layout, the inputs' fetches
// and the filter graphs. Encoding, audio mixing and muxing run in one
// encoder goroutine that owns out, mixer and the audio fields, fed through
// encq in order. Each input decodes in a goroutine of its own (see
// videoInput and audioSource).
type composition struct {
	cfg Config
	src source

	// Owner goroutine.
	windows  []timeline.Window
	end      time.Duration // output length as known so far
	final    bool
	horizon  time.Duration // output time up to which frames may be drawn
	offset   time.Duration // session time of output time 0
	edge     time.Duration // live edge on the session clock at the last refresh
	refresh  time.Time     // wall time of the last refresh
	videos   map[string]*videoInput
	files    map[string]*trackFile // every track file seen, by path
	audios   []*audioSource
	newAudio []mix.Source // added to the mixer with the next frame
	dopts    demux.Options
	lagWarn  bool
	spk      *speakers          // speaker layouts only
	fade     fade               // Config.CrossFade
	drawn    *timeline.Window   // the window of the last frame drawn
	sizes    map[string]float64 // picture aspects of camera files, Auto only
	lay      layoutCache

	runner  *runner
	key     string
	canvas  *astiav.Frame
	pending []*astiav.Frame // frames to push, per plan input
	encq    chan encItem
	failed  atomic.Bool

	// Encoder goroutine.
	out      *output
	nextOut  int64 // next output frame number to encode
	mixer    *mix.Mixer
	abuf     []float32
	apos     int64 // next audio sample frame to encode
	aframes  int64 // audio length, known at the end
	audioEOF bool
}

// encItem is one step for the encoder goroutine, applied in order: add
// audio sources, encode a composed frame, or fix the audio length.
type encItem struct {
	audio  []mix.Source
	frame  *astiav.Frame
	frames int64 // > 0: the mix ends after this many sample frames
}

// compose runs a composition of src into out, writing progressively to
// part first.
func compose(ctx context.Context, src source, out, part string, cfg Config) (err error) {
	if !HasDrawtext() {
		cfg.Logger.Warn("FFmpeg has no drawtext filter (needs libfreetype and libharfbuzz): names are not drawn")
	}
	c := &composition{
		cfg: cfg, src: src,
		videos: map[string]*videoInput{}, files: map[string]*trackFile{}, sizes: map[string]float64{},
		dopts: demux.Options{Logger: cfg.Logger, Threads: cfg.Threads},
	}
	defer c.close()
	defer func() {
		if err != nil && !keepPartial(src, err) {
			_ = os.Remove(part)
		}
	}()
	if c.dopts.Threads == 0 {
		c.dopts.Threads = decoderThreads(src)
	}
	if usesSpeakers(cfg.Layout) {
		c.fade.frames = int64(math.Round(cfg.CrossFade.Seconds() * float64(cfg.FPS)))
		c.spk = &speakers{cfg: cfg.Speaker}
		c.spk.cfg.Lookahead = speakerLookahead(src, cfg)
	}
	if err := c.update(ctx); err != nil {
		return err
	}
	if err := c.run(ctx, part); err != nil {
		return err
	}
	if err := Finalize(ctx, part, out, cfg.Logger); err != nil || cfg.AudioFile == "" {
		return err
	}
	return ExtractAudio(ctx, out, cfg.AudioFile, cfg.Logger)
}

// decoderThreads is the thread count of each video decoder. Every input
// decodes in its own goroutine already, so with more than two inputs one
// thread each keeps the cores busy without the memory of per-thread frame
// pools (a frame-threaded H.264 decoder holds a picture set per thread); one
// or two inputs of a finished recording get two threads each. A live input
// gets one: a frame-threaded decoder holds frames back until more packets
// come, which a live input may not have yet, and one thread each costs
// least when several rooms share the machine.
func decoderThreads(src source) int {
	m, final := src.snapshot()
	if !final {
		return 1
	}
	inputs := 0
	for _, p := range m.Participants {
		if len(p.VideoTracks()) > 0 {
			inputs++
		}
	}
	if inputs <= 2 {
		return 2
	}
	return 1
}

// update rereads the source: windows, length, horizon, new tracks and
// completed files. Live, it waits for the first participant first.
func (c *composition) update(ctx context.Context) error {
	for {
		raw, final := c.src.snapshot()
		c.refresh = time.Now()
		if len(raw.Participants) > 0 {
			return c.apply(ctx, raw, final)
		}
		if final {
			return ErrNoParticipants
		}
		if err := sleep(ctx, refreshEvery); err != nil {
			return err
		}
	}
}

func (c *composition) apply(ctx context.Context, raw *manifest.Session, final bool) error {
	cfg := c.cfg
	if !final {
		c.edge = c.src.edge()
	}
	m, offset, err := cfg.span(splitScreens(raw))
	if err != nil {
		return err
	}
	if c.spk != nil && !c.spk.hintsRead {
		// Once, at the first look at the session, and only for one that
		// has ended: a live composition decodes.
		c.spk.hintsRead = true
		if final && !cfg.IgnoreHints {
			c.spk.readHints(raw.Hints, m, offset, cfg.Logger)
		}
	}
	c.offset = offset
	c.final = final
	c.end = m.End()
	for _, p := range m.Participants {
		for _, t := range p.VideoTracks() {
			tf, isNew := c.track(t, final)
			if !isNew {
				continue
			}
			v := c.videos[p.Key()]
			if v == nil {
				v = newVideoInput(p.Name, c.dopts)
				c.videos[p.Key()] = v
			}
			v.add(tf)
		}
		for _, t := range p.AudioTracks() {
			// One mix source per microphone file: each is placed at its
			// own start, so a rejoin's audio lands where it was recorded.
			if tf, isNew := c.track(t, final); isNew {
				a := newAudioSource(p.Name, tf, c.dopts)
				c.audios = append(c.audios, a)
				c.newAudio = append(c.newAudio, a)
				if c.spk != nil && !c.spk.hinted[p.Key()] {
					c.spk.add(p.Key(), tf, c.dopts)
				}
			}
		}
	}
	if final {
		for _, v := range c.videos {
			v.finish()
		}
	}
	return c.plan(ctx, m)
}

// plan computes the layout windows and the horizon.
func (c *composition) plan(ctx context.Context, m *manifest.Session) error {
	cfg := c.cfg
	var turns []speaker.Interval
	upTo := time.Duration(math.MaxInt64)
	if c.spk != nil && (c.final || c.end > 0) {
		if c.final {
			if err := c.spk.wait(ctx); err != nil {
				return err
			}
		}
		if err := c.spk.detect(c.end, c.edge-c.offset, c.final); err != nil {
			return err
		}
		turns, upTo = c.spk.turns, c.spk.upTo
	}
	if cfg.Layout == timeline.Auto {
		probeAspects(m, c.final, c.sizes, c.dopts)
	}
	if c.final || c.end > 0 {
		var err error
		if c.windows, err = windows(m, cfg, turns, c.sizes); err != nil {
			return err
		}
	}
	if c.final {
		c.horizon = c.end
	} else {
		minWindow := max(cfg.MinWindow, 0)
		// Up to Delay behind the edge, and never into the last MinWindow
		// before the end: whether someone comes back decides those windows;
		// nor past the speaker turns known for sure.
		c.horizon = max(0, min(c.edge-c.offset-cfg.Delay, c.end-minWindow, upTo))
	}
	return nil
}

// speakerLookahead is how far the speaker detection may look ahead: as
// far as it likes after the call, within the fixed delay live.
func speakerLookahead(src source, cfg Config) time.Duration {
	if _, final := src.snapshot(); final {
		return speaker.Unbounded
	}
	return max(0, cfg.Delay-liveLevelMargin)
}

// track registers t's file, marks it complete when it is, and reports
// whether it is new.
func (c *composition) track(t manifest.Track, final bool) (*trackFile, bool) {
	complete := final || t.Complete
	if tf := c.files[t.Path]; tf != nil {
		if complete {
			tf.complete.Store(true)
		}
		return tf, false
	}
	tf := newTrackFile(t, complete)
	c.files[t.Path] = tf
	return tf, true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("compose: %w", ctx.Err())
	case <-t.C:
		return nil
	}
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
	if c.spk != nil {
		c.spk.close()
	}
	c.fade.free()
	if c.out != nil {
		c.out.free()
	}
}

func (c *composition) run(ctx context.Context, part string) (err error) {
	cfg := c.cfg
	if c.out, err = openOutput(part, cfg); err != nil {
		return err
	}
	c.mixer = mix.NewMixer(nil, math.MaxInt64, mix.Options{Logger: cfg.Logger})
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
	c.encq = make(chan encItem, encodeAhead)
	encErr := make(chan error, 1)
	go func() { encErr <- c.encodeLoop() }()
	frames, err := c.produce(ctx)
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
	if err := c.out.finish(); err != nil {
		return err
	}
	c.out.free()
	c.out = nil
	return nil
}

// encodeAhead is how many composed frames may wait for the encoder.
const encodeAhead = 4

// encodeLoop encodes the composed frames of c.encq, with the audio up to
// each frame's end, then the rest of the audio. After an error it keeps
// draining the queue so that the producer never blocks.
func (c *composition) encodeLoop() error {
	var err error
	for it := range c.encq {
		if err == nil {
			for _, a := range it.audio {
				c.mixer.AddSource(a)
			}
			if it.frames > 0 {
				c.aframes = it.frames
				c.mixer.SetFrames(it.frames)
			}
			if it.frame != nil {
				if d := testhook.EncodeDelay.Load(); d > 0 {
					time.Sleep(time.Duration(d))
				}
				err = c.out.writeVideo(it.frame, c.nextOut)
				c.nextOut++
				if err == nil {
					err = c.audioUntil(c.nextOut * SampleRate / int64(c.cfg.FPS))
				}
			}
			if err != nil {
				c.failed.Store(true)
			}
		}
		if it.frame != nil {
			it.frame.Free()
		}
	}
	if err != nil {
		return err
	}
	return c.audioUntil(c.aframes)
}

// produce composes every output frame into c.encq and returns how many.
func (c *composition) produce(ctx context.Context) (int64, error) {
	cfg := c.cfg
	started := time.Now()
	lastReport, lastLive := -1, time.Time{}
	wi := 0
	var n int64
	for ; ; n++ {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("compose: %w", err)
		}
		if c.failed.Load() {
			return n, nil
		}
		t := time.Duration(n) * time.Second / time.Duration(cfg.FPS)
		end, err := c.wait(ctx, n, t)
		if err != nil {
			return n, err
		}
		if end {
			break
		}
		if len(c.newAudio) > 0 {
			c.encq <- encItem{audio: c.newAudio}
			c.newAudio = nil
		}
		if wi >= len(c.windows) || t < c.windows[wi].Start {
			wi = 0 // windows were recomputed
		}
		for wi+1 < len(c.windows) && t >= c.windows[wi].End {
			wi++
		}
		w := c.windows[wi]
		if c.drawn != nil && c.drawn.Start != w.Start && speakerSwitch(c.drawn, &w) {
			c.fade.begin(n)
		}
		c.drawn = &w
		if err := c.frame(n, t, &c.windows[wi]); err != nil {
			return n, err
		}
		if cfg.Progress == nil {
			continue
		}
		done := time.Duration(n+1) * time.Second / time.Duration(cfg.FPS)
		if c.final {
			total := c.end
			if pct := int(100 * done / max(total, 1)); pct != lastReport {
				lastReport = pct
				cfg.Progress(c.progress(done, total, n+1, started))
			}
		} else if time.Since(lastLive) >= time.Second {
			lastLive = time.Now()
			cfg.Progress(c.progress(done, 0, n+1, started))
		}
	}
	if len(c.newAudio) > 0 {
		c.encq <- encItem{audio: c.newAudio}
		c.newAudio = nil
	}
	c.encq <- encItem{frames: int64(math.Round(c.end.Seconds() * SampleRate))}
	if c.runner != nil {
		return n, c.runner.drain(true, c.encode)
	}
	return n, nil
}

// wait returns once output frame n at t may be drawn, or done when the
// output ends before it. Live, it rereads the recording every
// refreshEvery and whenever t reaches the horizon.
func (c *composition) wait(ctx context.Context, n int64, t time.Duration) (done bool, err error) {
	for {
		if c.final {
			return n >= int64(math.Round(c.end.Seconds()*float64(c.cfg.FPS))), nil
		}
		if t < c.horizon && time.Since(c.refresh) < refreshEvery {
			c.checkLag(t)
			return false, nil
		}
		if t >= c.horizon {
			// The horizon moves with the live edge: sleep until it
			// passes t, rereading the recording at least every
			// refreshEvery (someone may join an empty room).
			if err := sleep(ctx, max(tailPoll, min(t-c.horizon, refreshEvery))); err != nil {
				return false, err
			}
		}
		if err := c.update(ctx); err != nil {
			return false, err
		}
	}
}

// checkLag warns once when a live composition falls far behind, and again
// when it has caught up.
func (c *composition) checkLag(t time.Duration) {
	lag := c.edge - c.offset - t
	switch {
	case !c.lagWarn && lag > c.cfg.Delay+LagWarning:
		c.lagWarn = true
		c.cfg.Logger.Warn("live composition is falling behind (CPU too slow?); it catches up after the call, nothing recorded is lost", "lag", lag.Round(time.Millisecond))
	case c.lagWarn && lag <= c.cfg.Delay+time.Second:
		c.lagWarn = false
		c.cfg.Logger.Info("live composition caught up", "lag", lag.Round(time.Millisecond))
	}
}

func (c *composition) progress(done, total time.Duration, frames int64, started time.Time) Progress {
	elapsed := time.Since(started)
	p := Progress{Done: done, Total: total, Elapsed: elapsed, Frames: frames, Live: !c.final}
	if c.out != nil {
		p.Streams = c.out.fan.status()
	}
	if p.Live {
		p.Lag = max(0, c.edge-c.offset-done)
	} else if total > 0 {
		p.Done = min(done, total)
		p.Percent = 100 * float64(p.Done) / float64(total)
	}
	if elapsed > 0 {
		p.Speed = float64(p.Done) / float64(elapsed)
	}
	if !p.Live && p.Speed > 0 {
		p.ETA = time.Duration(float64(total-p.Done) / p.Speed)
	}
	return p
}

// frame draws output frame n at time t in window w.
func (c *composition) frame(n int64, t time.Duration, w *timeline.Window) error {
	l := c.lay.layout(c.cfg, w)
	var inputs []*videoInput
	for i, p := range w.Participants {
		v := c.videos[p.ID]
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
		r, err := newRunner(plan, c.cfg.Logger)
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
	if err := c.fade.apply(cl); err != nil {
		cl.Free()
		return err
	}
	c.encq <- encItem{frame: cl}
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

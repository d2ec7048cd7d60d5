package mix

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
)

// SampleRate is the rate of the session clock and of every [Chunk], in
// sample frames per second.
const SampleRate = 48000

// Sentinel errors. They are returned wrapped; test with [errors.Is].
var (
	// ErrInvalidChunk is returned when a source yields a chunk whose
	// channel count is not 1 or 2 or whose sample count is not a multiple
	// of its channel count.
	ErrInvalidChunk = errors.New("mix: invalid chunk")
	// ErrSampleRate is returned for an input whose sample rate is not
	// [SampleRate] and cannot be resampled.
	ErrSampleRate = errors.New("mix: unsupported sample rate")
	// ErrChannels is returned for an input with an unsupported channel count.
	ErrChannels = errors.New("mix: unsupported channel count")
	// ErrNotYet is returned by a live [Source] that has no chunk yet: its
	// track is still being recorded and the next chunk has not arrived.
	// The renderer treats the source as silent for the rest of the current
	// read and asks again on the next one; frames that arrive later for a
	// stretch already mixed are dropped and counted in
	// [Stats.DroppedFrames].
	ErrNotYet = errors.New("mix: no chunk yet")
)

// Chunk is a run of contiguous audio samples placed on the session clock.
type Chunk struct {
	// Start is the session-clock index, in 48 kHz sample frames, of the
	// first frame of Samples. It may be negative: frames before 0 are
	// dropped.
	Start int64
	// Samples holds Channels interleaved samples per frame, nominally in
	// [-1, 1].
	Samples []float32
	// Channels is 1 (mono) or 2 (stereo, left first).
	Channels int
}

// Frames returns the number of sample frames in c, or 0 if c.Channels is
// not positive.
func (c Chunk) Frames() int64 {
	if c.Channels <= 0 {
		return 0
	}
	return int64(len(c.Samples) / c.Channels)
}

func (c Chunk) validate() error {
	if c.Channels != 1 && c.Channels != 2 {
		return fmt.Errorf("%w: %d channels, want 1 or 2", ErrInvalidChunk, c.Channels)
	}
	if len(c.Samples)%c.Channels != 0 {
		return fmt.Errorf("%w: %d samples is not a multiple of %d channels",
			ErrInvalidChunk, len(c.Samples), c.Channels)
	}
	if c.Start > math.MaxInt64-c.Frames() {
		return fmt.Errorf("%w: start %d overflows the session clock", ErrInvalidChunk, c.Start)
	}
	return nil
}

// Source yields the audio of one track as chunks placed on the session
// clock.
//
// NextChunk returns chunks in increasing Start order; the frames between the
// end of one chunk and the Start of the next are silence (a gap: the
// participant was away, or the sender used DTX). At the end it returns
// [io.EOF] (a non-empty chunk returned with io.EOF is still mixed); any
// other error aborts the mix, except [ErrNotYet] from a source still being
// recorded. The returned Samples need only
// stay valid until the next call to NextChunk: consumers never retain them
// after that call, so implementations may reuse one buffer.
//
// A chunk that starts before the end of the previous one overlaps it: the
// overlapping frames (all of them for an out-of-order chunk) are dropped and
// counted in [Stats.DroppedFrames]; the earlier chunk's frames win.
type Source interface {
	NextChunk() (Chunk, error)
}

// Options configures a [Mixer]. The zero value is ready to use.
type Options struct {
	// HeadroomDB is the attenuation, in dB, applied to the sum of the
	// sources before the limiter. Negative values are treated as their
	// absolute value (an attenuation, never a boost).
	// (optional) defaults to 0: unity gain, so a single source below the
	// limiter threshold passes through bit-exact.
	HeadroomDB float64
	// LimiterThresholdDB is the level, in dBFS, above which the soft
	// limiter bends the signal. Values that are not below 0 (and NaN)
	// select the default.
	// (optional) defaults to -1 dBFS.
	LimiterThresholdDB float64
	// Logger receives warnings about dropped frames.
	// (optional) defaults to a logger that discards everything.
	Logger *slog.Logger
}

// DefaultLimiterThresholdDB is the soft limiter threshold used when
// [Options.LimiterThresholdDB] is not set.
const DefaultLimiterThresholdDB = -1.0

// Stats counts what a [Mixer] had to fix up so far.
type Stats struct {
	// DroppedFrames counts source frames dropped because they overlapped
	// frames already placed from the same source, came out of order, or
	// started before session frame 0.
	DroppedFrames int64
	// LimitedSamples counts output samples whose magnitude exceeded the
	// limiter threshold and were bent by the soft limiter.
	LimitedSamples int64
}

// Mixer sums [Source]s onto one stereo track covering the session.
//
// Output sample = limit(gain × Σ sources), where a mono source feeds both
// channels unchanged, gain comes from [Options.HeadroomDB] and limit is a
// memoryless soft-knee limiter: samples with |x| ≤ T (the threshold,
// default -1 dBFS ≈ 0.891) are untouched, larger ones map to
// sign(x)·(T + (1−T)·tanh((|x|−T)/(1−T))), which is continuous with slope 1
// at T and never leaves [-1, 1]. NaN samples become 0. Being memoryless it
// is sample-exact and adds no delay, but it distorts while engaged (it is a
// soft clipper, not a gain-riding compressor): sessions where several loud
// talkers often overlap sound cleaner with some headroom, e.g.
// HeadroomDB: 6.
//
// Memory use is bounded by the caller's buffer and the sources' current
// chunks: nothing is buffered per track. A Mixer is not safe for concurrent
// use.
type Mixer struct {
	r         renderer
	gain      float32
	threshold float32
	limited   int64
}

// NewMixer returns a Mixer that reads the sources and produces exactly
// frames stereo frames (frames < 0 is treated as 0). The sources are read
// lazily, as [Mixer.Read] needs them; a nil source is silent.
func NewMixer(sources []Source, frames int64, opts Options) *Mixer {
	m := &Mixer{
		r:         newRenderer(sources, frames, 2, opts.Logger),
		gain:      float32(dbToGain(-math.Abs(opts.HeadroomDB))),
		threshold: float32(thresholdGain(opts.LimiterThresholdDB)),
	}
	if math.IsNaN(opts.HeadroomDB) || math.IsInf(opts.HeadroomDB, 0) {
		m.gain = 1
	}
	return m
}

// Frames returns the total number of frames the mixer produces.
func (m *Mixer) Frames() int64 { return m.r.frames }

// SetFrames changes the number of frames the mixer produces (frames < 0 is
// treated as 0), for a live mix whose length is known only at the end.
// Frames already read stay read: a value below them ends the mix.
func (m *Mixer) SetFrames(frames int64) { m.r.frames = max(frames, 0) }

// AddSource adds a source to the mix, for a track that starts while the mix
// is running; frames of it before the mixer's current position are dropped
// and counted. A nil source is ignored.
func (m *Mixer) AddSource(src Source) {
	if src != nil {
		m.r.tracks = append(m.r.tracks, &track{src: src, index: len(m.r.tracks)})
	}
}

// Stats returns the counters accumulated so far.
func (m *Mixer) Stats() Stats {
	return Stats{DroppedFrames: m.r.dropped, LimitedSamples: m.limited}
}

// Read fills dst with interleaved stereo samples (left, right) of the mix,
// continuing where the previous call stopped. It writes whole frames only,
// so an odd last element of dst is left untouched; n counts samples, not
// frames. After exactly the mixer's frame count has been produced, Read
// returns 0, [io.EOF]. A dst shorter than one frame yields
// [io.ErrShortBuffer]. A source error is returned wrapped (naming the
// source index) and is sticky.
func (m *Mixer) Read(dst []float32) (int, error) {
	out, err := m.r.read(dst)
	if err != nil {
		return 0, err
	}
	if m.gain != 1 {
		for i := range out {
			out[i] *= m.gain
		}
	}
	m.limited += limit(out, m.threshold)
	return len(out), nil
}

// Padded renders a single [Source] onto the session clock with silence
// where it has no chunks, as the prototype's `<name>_audio_padded.wav`:
// no gain and no limiter, so samples pass through unchanged (a stereo
// source rendered to mono is averaged).
type Padded struct {
	r renderer
}

// NewPadded returns a Padded that produces exactly frames frames of
// channels (1 or 2) interleaved channels from src.
func NewPadded(src Source, frames int64, channels int, logger *slog.Logger) (*Padded, error) {
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("%w: padded output with %d channels, want 1 or 2", ErrChannels, channels)
	}
	return &Padded{r: newRenderer([]Source{src}, frames, channels, logger)}, nil
}

// Read fills dst with the next interleaved frames; see [Mixer.Read] for the
// contract (a dst shorter than one frame yields [io.ErrShortBuffer]).
func (p *Padded) Read(dst []float32) (int, error) {
	out, err := p.r.read(dst)
	return len(out), err
}

// Frames returns the total number of frames p produces.
func (p *Padded) Frames() int64 { return p.r.frames }

// Channels returns the number of interleaved output channels.
func (p *Padded) Channels() int { return p.r.channels }

// DroppedFrames returns the number of source frames dropped so far; see
// [Stats.DroppedFrames].
func (p *Padded) DroppedFrames() int64 { return p.r.dropped }

// renderer sums tracks onto the session clock, frame-exact.
type renderer struct {
	tracks   []*track
	frames   int64
	pos      int64
	channels int
	log      *slog.Logger
	dropped  int64
	err      error
}

func newRenderer(sources []Source, frames int64, channels int, l *slog.Logger) renderer {
	r := renderer{frames: max(frames, 0), channels: channels, log: logger(l)}
	for i, s := range sources {
		r.tracks = append(r.tracks, &track{src: s, index: i, eof: s == nil})
	}
	return r
}

// read renders the next frames into a prefix of dst and returns it.
func (r *renderer) read(dst []float32) ([]float32, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.pos >= r.frames {
		return nil, io.EOF
	}
	if len(dst) < r.channels {
		return nil, io.ErrShortBuffer
	}
	nf := min(int64(len(dst)/r.channels), r.frames-r.pos)
	out := dst[:int(nf)*r.channels]
	clear(out)
	for _, t := range r.tracks {
		before := t.dropped
		if err := t.addTo(out, r.pos, r.channels); err != nil {
			r.err = err
			return nil, err
		}
		if d := t.dropped - before; d > 0 {
			r.dropped += d
			logf := r.log.Debug
			if before == 0 {
				logf = r.log.Warn // first time for this source
			}
			logf("mix: dropped overlapping, out-of-order or early frames",
				"source", t.index, "frames", d, "at_frame", r.pos)
		}
	}
	r.pos += nf
	return out, nil
}

// limit applies the soft-knee limiter in place and returns how many samples
// it changed. Comparing the magnitude's bits against the threshold's is one
// branch per sample and also catches NaN (whose bits exceed +Inf's).
func limit(buf []float32, threshold float32) int64 {
	var n int64
	th := math.Float32bits(threshold)
	for i, x := range buf {
		if math.Float32bits(x)&0x7fffffff > th {
			buf[i] = softKnee(x, threshold)
			n++
		}
	}
	return n
}

// softKnee maps |x| > t onto (t, 1] smoothly; NaN becomes 0.
func softKnee(x, t float32) float32 {
	if x != x {
		return 0
	}
	a := math.Abs(float64(x))
	th := float64(t)
	y := th + (1-th)*math.Tanh((a-th)/(1-th))
	y = min(y, 1)
	if x < 0 {
		y = -y
	}
	return float32(y)
}

func dbToGain(db float64) float64 { return math.Pow(10, db/20) }

func thresholdGain(db float64) float64 {
	if !(db < 0) || math.IsInf(db, -1) {
		db = DefaultLimiterThresholdDB
	}
	return dbToGain(db)
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// track renders one source onto the session clock.
type track struct {
	src     Source
	index   int
	chunk   Chunk
	off     int   // frames of chunk already consumed or dropped
	cursor  int64 // session frame after the last frame placed
	eof     bool
	last    bool // the current chunk came with io.EOF
	dropped int64
}

// addTo adds the frames of the track that fall in [pos, pos+len(dst)/ch)
// to dst, which has ch (1 or 2) interleaved channels. It never calls
// NextChunk more than needed to cover the range, and consumes a chunk
// before asking for the next one.
func (t *track) addTo(dst []float32, pos int64, ch int) error {
	end := pos + int64(len(dst)/ch)
	for !t.eof {
		cf := int(t.chunk.Frames())
		if t.off >= cf {
			err := t.next()
			if errors.Is(err, ErrNotYet) {
				return nil // silent for now; asked again on the next read
			}
			if err != nil {
				return err
			}
			continue
		}
		at := t.chunk.Start + int64(t.off)
		if at >= end {
			return nil
		}
		if at < pos { // frames before session frame 0, or that came too late
			skip := int(min(pos-at, int64(cf-t.off)))
			t.off += skip
			t.dropped += int64(skip)
			continue
		}
		k := int(min(int64(cf-t.off), end-at))
		c := t.chunk.Channels
		src := t.chunk.Samples[t.off*c : (t.off+k)*c]
		addFrames(dst[int(at-pos)*ch:(int(at-pos)+k)*ch], src, c, ch)
		t.off += k
		t.cursor = at + int64(k)
	}
	return nil
}

// next fetches the next chunk and drops the frames that overlap what was
// already placed.
func (t *track) next() error {
	if t.last {
		t.eof, t.chunk = true, Chunk{}
		return nil
	}
	c, err := t.src.NextChunk()
	if errors.Is(err, ErrNotYet) {
		return ErrNotYet
	}
	if errors.Is(err, io.EOF) {
		if len(c.Samples) == 0 {
			t.eof, t.chunk = true, Chunk{}
			return nil
		}
		t.last, err = true, nil // a final chunk delivered with io.EOF
	}
	if err != nil {
		return fmt.Errorf("mix: source %d: %w", t.index, err)
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("mix: source %d: chunk at frame %d: %w", t.index, c.Start, err)
	}
	t.chunk, t.off = c, 0
	if c.Start < t.cursor {
		skip := c.Frames()
		if c.Start > t.cursor-skip { // partly overlapping; no overflow here
			skip = t.cursor - c.Start
		}
		t.off = int(skip)
		t.dropped += skip
	}
	return nil
}

// addFrames adds src (sc channels) into dst (dc channels), which hold the
// same number of frames. Mono feeds both output channels unchanged; stereo
// into mono averages the two channels. The main loops are unrolled on
// fixed-size subslices so the compiler drops the bounds checks (≈ 1.6×).
func addFrames(dst, src []float32, sc, dc int) {
	switch sc {
	case dc:
		dst = dst[:len(src)]
		for len(src) >= 8 && len(dst) >= 8 {
			s, d := src[:8:8], dst[:8:8]
			d[0] += s[0]
			d[1] += s[1]
			d[2] += s[2]
			d[3] += s[3]
			d[4] += s[4]
			d[5] += s[5]
			d[6] += s[6]
			d[7] += s[7]
			src, dst = src[8:], dst[8:]
		}
		for i, v := range src {
			dst[i] += v
		}
	case 1: // mono into stereo
		dst = dst[:2*len(src)]
		for len(src) >= 4 && len(dst) >= 8 {
			s, d := src[:4:4], dst[:8:8]
			d[0] += s[0]
			d[1] += s[0]
			d[2] += s[1]
			d[3] += s[1]
			d[4] += s[2]
			d[5] += s[2]
			d[6] += s[3]
			d[7] += s[3]
			src, dst = src[4:], dst[8:]
		}
		for i, v := range src {
			dst[2*i] += v
			dst[2*i+1] += v
		}
	default: // stereo into mono
		dst = dst[:len(src)/2]
		for i := range dst {
			dst[i] += (src[2*i] + src[2*i+1]) * 0.5
		}
	}
}

// Package mediacheck decodes a media file and measures what tests need to
// check a recording or a composition for real content: durations, the mean
// colour of chosen rectangles in every video frame (which participant's tint
// is in which tile), white-flash onsets inside a rectangle, tone (beep)
// onsets per frequency in the audio and the audio/video offset between
// matching flashes and beeps.
//
// It pairs with internal/testmedia, whose synthetic participants flash white
// for 100 ms and beep for 50 ms at the same instants every 2 s, each with its
// own tint and tone frequency:
//
//	rep, err := mediacheck.Analyze("out.mp4", mediacheck.Options{
//		Regions: []timeline.Rect{{X: 0, Y: 0, W: 640, H: 720}},
//		Freqs:   []float64{500},
//	})
//	flashes := rep.FlashOnsets(0)
//	beeps := rep.BeepOnsets(500)
//	offsets := mediacheck.Offsets(flashes, beeps, mediacheck.PairWindow)
//
// Times are on the file's clock: timestamp 0 is time 0.
package mediacheck

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/demux"
	"github.com/roomtape/roomtape/timeline"
)

// Tolerances and detection thresholds, each with its reason.
const (
	// FlashLevel is the mean luma (0-255) above which a region is taken as
	// flashing: the synthetic flash is full white (luma 235 in limited range,
	// 255 in RGB) while a tinted test pattern averages well under 150, and
	// encoding blurs edges by a few levels only.
	FlashLevel = 200.0
	// FreezeLevel is the mean absolute luma difference (0-255) between
	// frames under which a region counts as unchanged: a repeated picture
	// decodes identically (0), while the moving test pattern changes a tile
	// by several levels per frame.
	FreezeLevel = 0.1
	// ToneLevel is the Goertzel amplitude (full scale 1.0) above which a
	// frequency is taken as sounding: synthetic beeps are 0.5 full scale; a
	// mix of up to 8 of them, AAC coding and resampling keep it above 0.2,
	// while leakage from a neighbouring tone (300 Hz apart, same 10 ms
	// window) stays below 0.03.
	ToneLevel = 0.1
	// ToneWindow is the Goertzel window: 10 ms holds a whole number of
	// cycles of every multiple of 100 Hz, so the synthetic tones do not leak
	// into each other when steady.
	ToneWindow = 10 * time.Millisecond
	// ToneHop is the step between analysis windows; an onset is located
	// within half of it.
	ToneHop = 2 * time.Millisecond
	// MinToneRun is how long a frequency must stay above ToneLevel to count
	// as a beep: a synthetic beep is 50 ms (40 ms of whole windows), while
	// the spectral leakage of another tone starting or stopping lasts at
	// most one window (10 ms).
	MinToneRun = 20 * time.Millisecond
	// MinMarkerGap is the shortest time between two flashes or two beeps of
	// the same participant that are told apart: markers come every 2 s and
	// last at most 100 ms, so anything closer is the same marker.
	MinMarkerGap = 500 * time.Millisecond
	// PairWindow is how far apart a flash and a beep may be and still be
	// paired by [Offsets]: far more than any plausible A/V offset, far less
	// than the 2 s between markers.
	PairWindow = 500 * time.Millisecond
	// sampleRate is the rate audio is analysed at.
	sampleRate = 48000
)

// ErrNoRegion is returned by methods given a region index that was not in
// Options.Regions.
var ErrNoRegion = errors.New("mediacheck: no such region")

// RGB is a mean colour, each channel 0-255.
type RGB struct {
	R, G, B float64
}

// Luma is the Rec. 601 luma of c, 0-255.
func (c RGB) Luma() float64 { return 0.299*c.R + 0.587*c.G + 0.114*c.B }

// Options say what [Analyze] measures.
type Options struct {
	// Regions (optional) are rectangles of the decoded picture whose mean
	// colour is measured in every frame; defaults to none.
	Regions []timeline.Rect
	// Freqs (optional) are tone frequencies in Hz tracked in the audio;
	// defaults to none.
	Freqs []float64
	// Logger (optional) defaults to a discard logger.
	Logger *slog.Logger
}

// Frame is one decoded video frame.
type Frame struct {
	// T is the frame's presentation time.
	T time.Duration
	// Means holds the mean colour of each of Options.Regions.
	Means []RGB
	// Motion holds, per region, the mean absolute luma difference (0-255)
	// from the previous frame; 0 in the first frame.
	Motion []float64
}

// Stream describes a decoded stream.
type Stream struct {
	Codec string
	// Start is the first frame's (or sample's) time; End is the end of the
	// last frame (video: last frame time plus the nominal frame duration;
	// audio: last sample).
	Start, End time.Duration
	// Video.
	Width, Height int
	FrameRate     float64 // nominal, from the container
	Frames        int
	// Audio.
	SampleRate, Channels int
	// Skipped counts damaged packets that did not decode.
	Skipped int
}

// Duration is End - Start.
func (s Stream) Duration() time.Duration { return s.End - s.Start }

// Report is what [Analyze] measured.
type Report struct {
	Path string
	// Duration is the container's duration.
	Duration time.Duration
	// Video and Audio are nil when the file has no such stream.
	Video, Audio *Stream
	// Frames are the video frames in presentation order.
	Frames []Frame

	freqs    []float64
	levels   [][]float64 // per freq, per hop: Goertzel amplitude
	hopStart time.Duration
}

// Analyze decodes path and measures it as opts asks. A file with neither a
// video nor an audio stream is an error.
func Analyze(path string, opts Options) (*Report, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep := &Report{Path: path, freqs: opts.Freqs}
	dopts := demux.Options{Logger: log}
	var errV, errA error
	rep.Video, rep.Frames, rep.Duration, errV = analyzeVideo(path, opts.Regions, dopts)
	if errV != nil && !errors.Is(errV, demux.ErrNoStream) {
		return nil, errV
	}
	var dur time.Duration
	rep.Audio, rep.levels, rep.hopStart, dur, errA = analyzeAudio(path, opts.Freqs, dopts)
	if errA != nil && !errors.Is(errA, demux.ErrNoStream) {
		return nil, errA
	}
	if rep.Video == nil && rep.Audio == nil {
		return nil, fmt.Errorf("mediacheck: %s: %w", path, demux.ErrNoStream)
	}
	if rep.Duration == 0 {
		rep.Duration = dur
	}
	return rep, nil
}

func analyzeVideo(path string, regions []timeline.Rect, opts demux.Options) (*Stream, []Frame, time.Duration, error) {
	d, err := demux.Open(path, demux.Video, opts)
	if err != nil {
		return nil, nil, 0, err
	}
	defer d.Close()
	cc := d.CodecContext()
	st := &Stream{Codec: cc.CodecID().Name(), Width: cc.Width(), Height: cc.Height()}
	if r := d.Stream().AvgFrameRate(); r.Den() != 0 {
		st.FrameRate = r.Float64()
	}
	f := astiav.AllocFrame()
	defer f.Free()
	conv := newConverter()
	defer conv.free()
	var frames []Frame
	prev := make([][]byte, len(regions))
	cur := make([][]byte, len(regions))
	for {
		err := d.Next(f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, 0, err
		}
		fr, err := func() (Frame, error) {
			defer f.Unref()
			fr := Frame{T: d.Time(f.Pts())}
			if len(regions) == 0 {
				return fr, nil
			}
			p, err := conv.planes(f)
			if err != nil {
				return fr, fmt.Errorf("mediacheck: %s: %w", path, err)
			}
			for i, r := range regions {
				fr.Means = append(fr.Means, p.mean(r))
				cur[i] = p.luma(r, cur[i])
				fr.Motion = append(fr.Motion, motion(prev[i], cur[i]))
				prev[i], cur[i] = cur[i], prev[i]
			}
			return fr, nil
		}()
		if err != nil {
			return nil, nil, 0, err
		}
		frames = append(frames, fr)
	}
	sort.SliceStable(frames, func(i, j int) bool { return frames[i].T < frames[j].T })
	st.Frames = len(frames)
	st.Skipped = d.Skipped()
	if len(frames) > 0 {
		st.Start = frames[0].T
		step := time.Duration(0)
		if st.FrameRate > 0 {
			step = time.Duration(float64(time.Second) / st.FrameRate)
		}
		st.End = frames[len(frames)-1].T + step
	}
	return st, frames, d.Duration(), nil
}

func analyzeAudio(path string, freqs []float64, opts demux.Options) (*Stream, [][]float64, time.Duration, time.Duration, error) {
	r, err := demux.OpenAudio(path, sampleRate, 1, opts)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	defer r.Close()
	cc := r.Decoder().CodecContext()
	st := &Stream{Codec: cc.CodecID().Name(), SampleRate: cc.SampleRate(), Channels: cc.ChannelLayout().Channels()}
	var pcm []float32
	var first, next int64
	started := false
	for {
		start, s, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, 0, 0, err
		}
		if !started {
			first, next, started = start, start, true
		}
		if start > next { // a gap in the file: silence
			pcm = append(pcm, make([]float32, start-next)...)
			next = start
		}
		if start < next { // overlap: drop what was already covered
			skip := next - start
			if skip >= int64(len(s)) {
				continue
			}
			s = s[skip:]
		}
		pcm = append(pcm, s...)
		next += int64(len(s))
	}
	st.Skipped = r.Decoder().Skipped()
	st.Start = samplesToDuration(first)
	st.End = samplesToDuration(next)
	return st, toneLevels(pcm, freqs), st.Start, r.Decoder().Duration(), nil
}

// toneLevels are the Goertzel amplitudes of each frequency in pcm (mono,
// sampleRate) per ToneHop.
func toneLevels(pcm []float32, freqs []float64) [][]float64 {
	levels := make([][]float64, len(freqs))
	win := int(ToneWindow * sampleRate / time.Second)
	hop := int(ToneHop * sampleRate / time.Second)
	for i, f := range freqs {
		for at := 0; at+win <= len(pcm); at += hop {
			levels[i] = append(levels[i], goertzel(pcm[at:at+win], f))
		}
	}
	return levels
}

func samplesToDuration(n int64) time.Duration {
	return time.Duration(n) * time.Second / sampleRate
}

// goertzel is the amplitude of frequency f in x (a sine of amplitude A that
// fills the window gives A).
func goertzel(x []float32, f float64) float64 {
	w := 2 * math.Pi * f / sampleRate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	return 2 * math.Hypot(re, im) / float64(len(x))
}

// MeanAt is the mean colour of region i in the frame shown at t (the last
// frame at or before t). ok is false before the first frame or for an
// unknown region.
func (r *Report) MeanAt(i int, t time.Duration) (c RGB, ok bool) {
	k := sort.Search(len(r.Frames), func(k int) bool { return r.Frames[k].T > t }) - 1
	if k < 0 || i < 0 || i >= len(r.Frames[k].Means) {
		return RGB{}, false
	}
	return r.Frames[k].Means[i], true
}

// FlashOnsets are the times of the frames in which region i turns white
// (mean luma reaching [FlashLevel]) after not being white.
func (r *Report) FlashOnsets(i int) []time.Duration {
	var out []time.Duration
	on := false
	for _, f := range r.Frames {
		if i < 0 || i >= len(f.Means) {
			return nil
		}
		white := f.Means[i].Luma() >= FlashLevel
		if white && !on && (len(out) == 0 || f.T-out[len(out)-1] >= MinMarkerGap) {
			out = append(out, f.T)
		}
		on = white
	}
	return out
}

// Span is a stretch [Start, End) of a file.
type Span struct {
	Start, End time.Duration
}

// Freezes are the spans of at least minLen in which region i does not
// change: every frame's Motion stays under [FreezeLevel]. A moving test
// pattern has none; a stream that froze (the prototype's VFR problem) does.
func (r *Report) Freezes(i int, minLen time.Duration) []Span {
	var out []Span
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			s := Span{Start: r.Frames[start].T, End: r.Frames[end-1].T}
			if end < len(r.Frames) {
				s.End = r.Frames[end].T
			}
			if s.End-s.Start >= minLen {
				out = append(out, s)
			}
		}
		start = -1
	}
	for k, f := range r.Frames {
		if i < 0 || i >= len(f.Motion) {
			return nil
		}
		if k > 0 && f.Motion[i] < FreezeLevel {
			if start < 0 {
				start = k - 1
			}
			continue
		}
		flush(k)
	}
	flush(len(r.Frames))
	return out
}

// ToneLevels are the Goertzel amplitudes of freq (one of Options.Freqs) per
// [ToneHop], the first window starting at the audio's start; nil for a
// frequency that was not analysed.
func (r *Report) ToneLevels(freq float64) []float64 {
	for i, f := range r.freqs {
		if f == freq {
			return r.levels[i]
		}
	}
	return nil
}

// BeepOnsets are the times at which freq (one of Options.Freqs) starts
// sounding: where its amplitude first reaches half of the beep's peak, which
// for a tone starting abruptly is half a window after the window starts.
func (r *Report) BeepOnsets(freq float64) []time.Duration {
	lv := r.ToneLevels(freq)
	var out []time.Duration
	peakSpan := int(MinMarkerGap / ToneHop / 4)
	for k := 0; k < len(lv); k++ {
		if lv[k] < ToneLevel {
			continue
		}
		run := k
		for run < len(lv) && lv[run] >= ToneLevel {
			run++
		}
		if time.Duration(run-k)*ToneHop < MinToneRun {
			k = run
			continue
		}
		// A beep: find its peak, then the first window reaching half of it.
		begin := max(0, k-int(ToneWindow/ToneHop))
		peak := 0.0
		for j := k; j < min(len(lv), k+peakSpan); j++ {
			peak = max(peak, lv[j])
		}
		j := begin
		for j < k && lv[j] < peak/2 {
			j++
		}
		for lv[j] < peak/2 {
			j++
		}
		t := r.hopStart + time.Duration(j)*ToneHop + ToneWindow/2
		if len(out) == 0 || t-out[len(out)-1] >= MinMarkerGap {
			out = append(out, t)
		}
		// Skip to the end of this beep.
		for k < len(lv) && (lv[k] >= ToneLevel/2 || time.Duration(k-j)*ToneHop < MinMarkerGap/4) {
			k++
		}
	}
	return out
}

// Offset pairs a flash with the beep nearest to it.
type Offset struct {
	Flash, Beep time.Duration
	// AV is Beep - Flash: positive when the sound comes late.
	AV time.Duration
}

// Offsets pairs every flash with the nearest beep within window (use
// [PairWindow]); flashes without a beep that near are left out.
func Offsets(flashes, beeps []time.Duration, window time.Duration) []Offset {
	var out []Offset
	for _, f := range flashes {
		best, found := time.Duration(0), false
		for _, b := range beeps {
			if d := absDur(b - f); d <= window && (!found || d < absDur(best-f)) {
				best, found = b, true
			}
		}
		if found {
			out = append(out, Offset{Flash: f, Beep: best, AV: best - f})
		}
	}
	return out
}

// ErrTooFewPairs is returned by [CheckAV] when fewer flashes than required
// have their beep: a check that finds nothing must fail.
var ErrTooFewPairs = errors.New("mediacheck: too few flash/beep pairs")

// ErrAVOffset is returned by [CheckAV] when a flash and its beep are
// further apart than allowed.
var ErrAVOffset = errors.New("mediacheck: A/V offset out of bounds")

// MinPairs is the number of flash/beep pairs a check must find when sent
// markers were sent in the span it looks at: all of them but one, since
// one marker may fall on an edge of a track or a tile's window (a flash in
// a picture that is not shown yet, a beep cut by the audio's start or a
// resync step); at least one, so that an empty list never passes.
func MinPairs(sent int) int { return max(1, sent-1) }

// CheckAV pairs flashes with beeps as [Offsets] does and checks the pairs:
// at least minPairs of them (a value under 1 counts as 1: finding nothing
// fails), each with |AV| <= maxAV. It returns the pairs either way, and an
// error wrapping [ErrTooFewPairs] or [ErrAVOffset] that lists them.
func CheckAV(flashes, beeps []time.Duration, minPairs int, maxAV time.Duration) ([]Offset, error) {
	offs := Offsets(flashes, beeps, PairWindow)
	minPairs = max(1, minPairs)
	if len(offs) < minPairs {
		return offs, fmt.Errorf("%w: %d of at least %d (flashes %v, beeps %v)", ErrTooFewPairs, len(offs), minPairs, flashes, beeps)
	}
	if m := MaxAbsAV(offs); m > maxAV {
		return offs, fmt.Errorf("%w: up to %v, at most %v allowed: %v", ErrAVOffset, m, maxAV, offs)
	}
	return offs, nil
}

// String shows the pair as "flash→beep (AV)".
func (o Offset) String() string {
	return fmt.Sprintf("%v→%v (%v)", o.Flash.Round(time.Millisecond), o.Beep.Round(time.Millisecond), o.AV.Round(time.Millisecond))
}

// MaxAbsAV is the largest |AV| among offsets, 0 for none: check the number
// of pairs too, or use [CheckAV].
func MaxAbsAV(offsets []Offset) time.Duration {
	var m time.Duration
	for _, o := range offsets {
		m = max(m, absDur(o.AV))
	}
	return m
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Nearest returns the index of the colour in palette whose hue c is closest
// to (cosine similarity of the RGB vectors), and that similarity (1 is a
// perfect match). Use it with tint gains to tell which participant fills a
// tile; a dark or grey region matches poorly, so check the similarity too.
func Nearest(c RGB, palette []RGB) (index int, similarity float64) {
	index = -1
	n := math.Sqrt(c.R*c.R + c.G*c.G + c.B*c.B)
	if n == 0 {
		return -1, 0
	}
	for i, p := range palette {
		m := math.Sqrt(p.R*p.R + p.G*p.G + p.B*p.B)
		if m == 0 {
			continue
		}
		s := (c.R*p.R + c.G*p.G + c.B*p.B) / (n * m)
		if index < 0 || s > similarity {
			index, similarity = i, s
		}
	}
	return index, similarity
}

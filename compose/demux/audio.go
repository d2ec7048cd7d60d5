package demux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/asticode/go-astiav"
)

// gapTolerance is how far, in seconds, a decoded frame's timestamp may be
// ahead of the samples already returned before [AudioReader] treats it as a
// gap (DTX, a paused track) and jumps ahead; smaller drifts are timestamp
// jitter and are ignored so that the audio stays continuous.
const gapTolerance = 0.020

// AudioReader decodes an audio stream and converts it to interleaved
// float32 samples at a fixed rate and channel count.
type AudioReader struct {
	d        *Decoder
	rate     int
	layout   astiav.ChannelLayout
	channels int
	swr      *astiav.SoftwareResampleContext
	in, out  *astiav.Frame
	pos      int64 // next output sample frame index
	started  bool
	flushed  bool
}

// OpenAudio opens the best audio stream of path and converts it to rate Hz
// with channels (1 or 2) channels; channels 0 keeps mono as mono and makes
// anything else stereo.
func OpenAudio(path string, rate, channels int, opts Options) (*AudioReader, error) {
	if channels < 0 || channels > 2 {
		return nil, fmt.Errorf("demux: %d channels: only 1 or 2 are supported", channels)
	}
	d, err := Open(path, Audio, opts)
	if err != nil {
		return nil, err
	}
	if channels == 0 {
		channels = 2
		if d.cc.ChannelLayout().Channels() == 1 {
			channels = 1
		}
	}
	r := &AudioReader{d: d, rate: rate, channels: channels, layout: astiav.ChannelLayoutMono}
	if channels == 2 {
		r.layout = astiav.ChannelLayoutStereo
	}
	r.in = astiav.AllocFrame()
	r.out = astiav.AllocFrame()
	r.swr = astiav.AllocSoftwareResampleContext()
	return r, nil
}

// Channels is the number of interleaved channels in the returned samples.
func (r *AudioReader) Channels() int { return r.channels }

// Decoder is the underlying decoder.
func (r *AudioReader) Decoder() *Decoder { return r.d }

// Next returns the next block of samples: start is the index of its first
// sample frame at the reader's rate on the file's clock (timestamp 0 is index
// 0) and samples are interleaved. Blocks come in increasing start order;
// the space between two blocks is a gap in the file. It returns io.EOF at
// the end.
func (r *AudioReader) Next() (start int64, samples []float32, err error) {
	for {
		if r.flushed {
			return 0, nil, io.EOF
		}
		var src *astiav.Frame
		err := r.d.Next(r.in)
		switch {
		case errors.Is(err, io.EOF):
			r.flushed = true
		case err != nil:
			return 0, nil, err
		default:
			src = r.in
			if ts := r.in.Pts(); ts != astiav.NoPtsValue {
				at := int64(math.Round(float64(ts) * r.d.TimeBase().Float64() * float64(r.rate)))
				switch {
				case !r.started:
					r.pos = at
				case float64(at-r.pos) > gapTolerance*float64(r.rate):
					// Samples still inside the resampler belong before at.
					r.pos = at - r.swr.Delay(int64(r.rate))
				}
			}
			r.started = true
		}
		start, samples, err = r.convert(src)
		if src != nil {
			r.in.Unref()
		}
		if err != nil {
			return 0, nil, err
		}
		if len(samples) > 0 {
			return start, samples, nil
		}
	}
}

// convert resamples src (nil flushes) and returns the samples produced.
func (r *AudioReader) convert(src *astiav.Frame) (int64, []float32, error) {
	defer r.out.Unref()
	r.out.SetChannelLayout(r.layout)
	r.out.SetSampleRate(r.rate)
	r.out.SetSampleFormat(astiav.SampleFormatFlt)
	err := r.swr.ConvertFrame(src, r.out)
	if errors.Is(err, astiav.ErrInputChanged) {
		// The input format changed mid-stream: start a new resampler.
		r.swr.Free()
		r.swr = astiav.AllocSoftwareResampleContext()
		r.out.Unref()
		r.out.SetChannelLayout(r.layout)
		r.out.SetSampleRate(r.rate)
		r.out.SetSampleFormat(astiav.SampleFormatFlt)
		err = r.swr.ConvertFrame(src, r.out)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("demux: resampling %s: %w", r.d.path, err)
	}
	n := r.out.NbSamples()
	if n == 0 {
		return 0, nil, nil
	}
	b, err := r.out.Data().Bytes(1)
	if err != nil {
		return 0, nil, fmt.Errorf("demux: reading samples of %s: %w", r.d.path, err)
	}
	samples := make([]float32, n*r.channels)
	for i := range samples {
		samples[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	start := r.pos
	r.pos += int64(n)
	return start, samples, nil
}

// Close frees the reader. Calling it more than once is a no-op.
func (r *AudioReader) Close() {
	if r.d == nil {
		return
	}
	r.swr.Free()
	r.in.Free()
	r.out.Free()
	r.d.Close()
	r.d = nil
}

package mix

import (
	"errors"
	"io"
	"math"
	"testing"
)

// reuseSource yields copies of fixed chunks through one reused buffer that
// it poisons on every call, so a mixer that kept samples after asking for
// the next chunk would read garbage.
type reuseSource struct {
	chunks []Chunk
	buf    []float32
	err    error // returned instead of io.EOF when set
}

const poison = 1e9

func (s *reuseSource) NextChunk() (Chunk, error) {
	for i := range s.buf {
		s.buf[i] = poison
	}
	if len(s.chunks) == 0 {
		if s.err != nil {
			return Chunk{}, s.err
		}
		return Chunk{}, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	if cap(s.buf) < len(c.Samples) {
		s.buf = make([]float32, len(c.Samples))
	}
	s.buf = s.buf[:len(c.Samples)]
	copy(s.buf, c.Samples)
	c.Samples = s.buf
	return c, nil
}

func sources(tracks [][]Chunk) []Source {
	s := make([]Source, len(tracks))
	for i, t := range tracks {
		s[i] = &reuseSource{chunks: t}
	}
	return s
}

// readAll drains r with reads of the given sizes (cycled) and checks that it
// ends with io.EOF.
func readAll(tb testing.TB, r SampleReader, sizes ...int) []float32 {
	tb.Helper()
	if len(sizes) == 0 {
		sizes = []int{4096}
	}
	out := []float32{}
	for i := 0; ; i++ {
		buf := make([]float32, sizes[i%len(sizes)])
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			if n != 0 {
				tb.Fatalf("EOF with %d samples", n)
			}
			return out
		}
		if err != nil {
			tb.Fatalf("read: %v", err)
		}
	}
}

// render places tracks the slow, obvious way: a whole-session array,
// frame by frame, with the documented overlap rule and channel mapping
// (mono feeds both channels; stereo into mono averages). It returns the
// sum with ch channels and the number of dropped frames.
func render(tracks [][]Chunk, frames int64, ch int) ([]float32, int64) {
	out := make([]float32, int64(ch)*frames)
	var dropped int64
	if frames == 0 {
		return out, 0
	}
	for _, chunks := range tracks {
		cursor := int64(0)
	track:
		for _, c := range chunks {
			for f := range c.Frames() {
				at := c.Start + f
				if at < cursor {
					dropped++
					continue
				}
				if at >= frames {
					break track
				}
				l, r := c.Samples[int(f)*c.Channels], c.Samples[int(f)*c.Channels+c.Channels-1]
				switch {
				case ch == 2:
					out[2*at] += l
					out[2*at+1] += r
				case c.Channels == 1:
					out[at] += l
				default:
					out[at] += (l + r) * 0.5
				}
				cursor = at + 1
			}
		}
	}
	return out, dropped
}

// reference is what a Mixer must output: render, then gain and limiter.
func reference(tracks [][]Chunk, frames int64, opts Options) ([]float32, int64) {
	out, dropped := render(tracks, frames, 2)
	gain := float32(math.Pow(10, -math.Abs(opts.HeadroomDB)/20))
	th := float32(thresholdGain(opts.LimiterThresholdDB))
	for i, x := range out {
		if gain != 1 {
			x *= gain
		}
		if x > th || x < -th || x != x {
			x = softKnee(x, th)
		}
		out[i] = x
	}
	return out, dropped
}

// mono returns a mono chunk.
func mono(start int64, s ...float32) Chunk { return Chunk{Start: start, Samples: s, Channels: 1} }

// stereo returns a stereo chunk from interleaved samples.
func stereo(start int64, s ...float32) Chunk { return Chunk{Start: start, Samples: s, Channels: 2} }

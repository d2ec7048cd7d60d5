package mix

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// Resampler design. Output frame k sits at input time t = k·M/L (L/M is the
// reduced ratio of the output rate to the input rate), so a sample at input
// time τ lands at output time τ·L/M exactly: the filter is symmetric and
// has no delay, which keeps placement sample-exact across rates.
const (
	// maxPhases bounds the polyphase table (L), which covers every common
	// rate (11.025 kHz needs 640).
	maxPhases = 1024
	// zeroCrossings is the number of sinc zero crossings kept on each side:
	// with the Kaiser window below, stop-band rejection is about 80 dB.
	zeroCrossings = 16
	// kaiserBeta shapes the Kaiser window (≈ 80 dB side lobes).
	kaiserBeta = 8.0
	// passband is the cutoff as a fraction of the lower Nyquist rate: a
	// transition band keeps aliasing out.
	passband = 0.92
	// maxTaps bounds the filter length for strong downsampling.
	maxTaps = 512
	// resampleReadFrames is how many input frames are read at a time.
	resampleReadFrames = 1024
)

// resampler converts interleaved float32 frames from one rate to another
// with a windowed-sinc polyphase filter.
type resampler struct {
	read    func([]float32) (int, error)
	ch      int
	l, m    int64
	half    int         // taps on each side (Z); a frame needs inputs i-Z+1..i+Z
	coef    []float32   // l phases × 2·half taps
	in      [][]float32 // buffered input, one plane per channel
	inBase  int64       // input frame index of in[c][0]
	inTotal int64       // input frames read so far
	eof     bool
	k       int64 // next output frame
	scratch []float32
	err     error // sticky read error, reported after the frames before it
}

func newResampler(read func([]float32) (int, error), ch, from, to int) (*resampler, error) {
	g := gcd(from, to)
	l, m := to/g, from/g
	fc := passband * math.Min(1, float64(l)/float64(m))
	half := int(math.Ceil(zeroCrossings / fc))
	if from <= 0 || l > maxPhases || 2*half > maxTaps {
		return nil, fmt.Errorf("%w: cannot convert %d Hz to %d Hz", ErrSampleRate, from, to)
	}
	r := &resampler{
		read:    read,
		ch:      ch,
		l:       int64(l),
		m:       int64(m),
		half:    half,
		coef:    make([]float32, l*2*half),
		in:      make([][]float32, ch),
		inBase:  int64(-(half - 1)),
		scratch: make([]float32, resampleReadFrames*ch),
	}
	for c := range ch {
		r.in[c] = make([]float32, half-1) // zeros before the first frame
	}
	for p := range l {
		frac := float64(p) / float64(l)
		taps := r.coef[p*2*half : (p+1)*2*half]
		var sum float64
		w := make([]float64, len(taps))
		for t := range taps {
			x := float64(t-(half-1)) - frac // input offset j minus the fraction
			w[t] = fc * sinc(fc*x) * kaiser(x/float64(half))
			sum += w[t]
		}
		for t := range taps {
			taps[t] = float32(w[t] / sum) // each phase has exactly unity DC gain
		}
	}
	return r, nil
}

// Read fills dst with whole output frames; it returns [io.EOF] after
// ceil(inputFrames·L/M) frames.
func (r *resampler) Read(dst []float32) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	ch, taps := r.ch, 2*r.half
	n := 0
	for n+ch <= len(dst) {
		i := r.k * r.m / r.l
		if r.eof && r.k >= ceilDiv(r.inTotal*r.l, r.m) {
			break
		}
		if i+int64(r.half) >= r.inBase+int64(len(r.in[0])) {
			if err := r.fill(i); err != nil {
				r.err = err
				if n > 0 {
					return n, nil
				}
				return 0, err
			}
			continue
		}
		p := r.k * r.m % r.l
		coef := r.coef[int(p)*taps : int(p+1)*taps]
		base := int(i - int64(r.half-1) - r.inBase)
		for c, plane := range r.in {
			dst[n+c] = dot(plane[base:base+taps], coef)
		}
		n += ch
		r.k++
	}
	if n == 0 {
		if len(dst) < ch {
			return 0, io.ErrShortBuffer
		}
		return 0, io.EOF
	}
	return n, nil
}

// fill drops input no longer needed by output frames at input index i or
// later and reads more (or pads with zeros at the end of the input).
func (r *resampler) fill(i int64) error {
	if drop := int(i - int64(r.half-1) - r.inBase); drop > 0 {
		for c, plane := range r.in {
			r.in[c] = plane[:copy(plane, plane[drop:])]
		}
		r.inBase += int64(drop)
	}
	if r.eof {
		for c := range r.in {
			r.in[c] = append(r.in[c], make([]float32, r.half)...) // zeros after the last frame
		}
		return nil
	}
	n, err := r.read(r.scratch)
	frames := n / r.ch
	for c := range r.in {
		for f := range frames {
			r.in[c] = append(r.in[c], r.scratch[f*r.ch+c])
		}
	}
	r.inTotal += int64(frames)
	if errors.Is(err, io.EOF) {
		r.eof = true
		return nil
	}
	return err
}

// dot returns Σ x[i]·h[i] (len(x) ≥ len(h)), unrolled with four
// accumulators so the loop has no bounds checks or serial dependency.
func dot(x, h []float32) float32 {
	x = x[:len(h)]
	var a0, a1, a2, a3 float32
	for len(h) >= 4 && len(x) >= 4 {
		a0 += x[0] * h[0]
		a1 += x[1] * h[1]
		a2 += x[2] * h[2]
		a3 += x[3] * h[3]
		x, h = x[4:], h[4:]
	}
	for i, v := range h {
		a0 += x[i] * v
	}
	return (a0 + a1) + (a2 + a3)
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// kaiser is the Kaiser window on [-1, 1].
func kaiser(x float64) float64 {
	if x <= -1 || x >= 1 {
		return 0
	}
	return besselI0(kaiserBeta*math.Sqrt(1-x*x)) / besselI0(kaiserBeta)
}

// besselI0 is the modified Bessel function of the first kind, order 0.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	if a == 0 {
		return 1
	}
	return a
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

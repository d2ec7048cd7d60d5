package mix

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/mix/wav"
)

// tempFile returns a new empty file (an io.WriteSeeker) that the test
// cleans up.
func tempFile(tb testing.TB) *os.File {
	tb.Helper()
	f, err := os.CreateTemp(tb.TempDir(), "*.wav")
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

// encodeWAV returns a WAV file holding samples in format f.
func encodeWAV(tb testing.TB, f wav.Format, samples []float32) []byte {
	tb.Helper()
	file := tempFile(tb)
	w, err := wav.NewWriter(file, f)
	require.NoError(tb, err)
	require.NoError(tb, w.WriteFloat32(samples))
	require.NoError(tb, w.Close())
	b, err := os.ReadFile(file.Name())
	require.NoError(tb, err)
	return b
}

// headerSize is the size of the WAV header wav.Writer writes for f.
func headerSize(tb testing.TB, f wav.Format) int {
	tb.Helper()
	return len(encodeWAV(tb, f, nil))
}

func TestPCMSource(t *testing.T) {
	in := []float32{0.5, -0.25, 0.125, -1, 0.75, 0}
	cases := []struct {
		name   string
		format wav.Format
		want   []float32 // stereo output from frame 0, source placed at 2
	}{
		{
			"s16 mono",
			wav.Format{Encoding: wav.Int16, Channels: 1},
			[]float32{0, 0, 0, 0, 0.5, 0.5, -0.25, -0.25, 0.125, 0.125, -1, -1, 0.75, 0.75, 0, 0},
		},
		{
			"s16 stereo",
			wav.Format{Encoding: wav.Int16, Channels: 2, SampleRate: SampleRate},
			[]float32{0, 0, 0, 0, 0.5, -0.25, 0.125, -1, 0.75, 0, 0, 0},
		},
		{
			"f32 mono",
			wav.Format{Encoding: wav.Float32, Channels: 1},
			[]float32{0, 0, 0, 0, 0.5, 0.5, -0.25, -0.25, 0.125, 0.125, -1, -1, 0.75, 0.75, 0, 0},
		},
		{
			"f32 stereo",
			wav.Format{Encoding: wav.Float32, Channels: 2},
			[]float32{0, 0, 0, 0, 0.5, -0.25, 0.125, -1, 0.75, 0, 0, 0},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.format
			f.SampleRate = SampleRate
			raw := encodeWAV(t, f, in)[headerSize(t, f):]
			src, err := NewPCMSource(bytes.NewReader(raw), 2, tc.format)
			require.NoError(t, err)
			frames := int64(len(tc.want) / 2)
			p, err := NewPadded(src, frames, 2, nil)
			require.NoError(t, err)
			require.Equal(t, tc.want, readAll(t, p, 6))

			r, err := wav.NewReader(bytes.NewReader(encodeWAV(t, f, in)))
			require.NoError(t, err)
			src, err = NewWAVSource(r, 2)
			require.NoError(t, err)
			p, err = NewPadded(src, frames, 2, nil)
			require.NoError(t, err)
			require.Equal(t, tc.want, readAll(t, p, 4))
		})
	}
}

func TestPCMSourceErrors(t *testing.T) {
	_, err := NewPCMSource(bytes.NewReader(nil), 0, wav.Format{Encoding: wav.Int16, Channels: 3})
	require.ErrorIs(t, err, ErrChannels)
	_, err = NewPCMSource(bytes.NewReader(nil), 0, wav.Format{Channels: 1})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)
	_, err = NewPCMSource(bytes.NewReader(nil), 0, wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 47999})
	require.ErrorIs(t, err, ErrSampleRate)
	_, err = NewPCMSource(bytes.NewReader(nil), 0, wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 4000000})
	require.ErrorIs(t, err, ErrSampleRate, "too many taps")

	// A truncated file fails the mix with the reader's error, at 48 kHz and
	// through the resampler.
	for _, rate := range []int{SampleRate, 16000} {
		f := wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: rate}
		b := encodeWAV(t, f, make([]float32, 20000))
		r, err := wav.NewReader(bytes.NewReader(b[:len(b)-1000]))
		require.NoError(t, err)
		src, err := NewWAVSource(r, 0)
		require.NoError(t, err)
		m := NewMixer([]Source{src}, 100000, Options{})
		var rerr error
		for rerr == nil {
			_, rerr = m.Read(make([]float32, 1000))
		}
		require.ErrorIs(t, rerr, wav.ErrMalformed, "rate %d", rate)
		require.ErrorIs(t, rerr, io.ErrUnexpectedEOF, "rate %d", rate)
	}
}

// resampleAll reads a whole mono signal at rate from through a resampler.
func resampleAll(tb testing.TB, in []float32, from int) []float32 {
	tb.Helper()
	raw := encodeWAV(tb, wav.Format{Encoding: wav.Float32, Channels: 1, SampleRate: from}, in)
	r, err := wav.NewReader(bytes.NewReader(raw))
	require.NoError(tb, err)
	rs, err := newResampler(r.ReadFloat32, 1, from, SampleRate)
	require.NoError(tb, err)
	return readAll(tb, rs, 1000, 7, 2048)
}

func TestResamplerPlacement(t *testing.T) {
	// An impulse at input frame n comes out at n·48000/from exactly (the
	// filter has no delay), the output has ceil(N·48000/from) frames, and
	// DC passes at unity.
	cases := []struct {
		name    string
		from    int
		impulse int
	}{
		{"16 kHz", 16000, 1000},
		{"8 kHz", 8000, 3},
		{"44.1 kHz", 44100, 441},
		{"22.05 kHz", 22050, 2205},
		{"96 kHz", 96000, 1000},
		{"11.025 kHz", 11025, 147},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 5000
			in := make([]float32, n)
			in[tc.impulse] = 1
			out := resampleAll(t, in, tc.from)
			require.Len(t, out, int(ceilDiv(n*SampleRate, int64(tc.from))))
			peak := 0
			for i, v := range out {
				if math.Abs(float64(v)) > math.Abs(float64(out[peak])) {
					peak = i
				}
			}
			require.Equal(t, tc.impulse*SampleRate/tc.from, peak)

			for i := range in {
				in[i] = 0.5
			}
			out = resampleAll(t, in, tc.from)
			// dcTolerance: each polyphase branch is normalised to unity DC
			// gain; what is left is float32 rounding in the 32–64 tap sums.
			const dcTolerance = 1e-5
			mid := out[len(out)/2-100 : len(out)/2+100]
			for _, v := range mid {
				require.InDelta(t, 0.5, v, dcTolerance)
			}
		})
	}
}

// toneLevel returns the RMS of x relative to a full-scale sine
// (1/√2), in dB.
func toneLevel(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	return 10 * math.Log10(sum/float64(len(x))/0.5)
}

func TestResamplerFrequencyResponse(t *testing.T) {
	cases := []struct {
		name string
		from int
		hz   float64
		// wantDB is the level a full-scale tone must come out at; the
		// tolerances say why.
		minDB, maxDB float64
	}{
		// Passband: within 0.1 dB below 90% of the input's Nyquist rate.
		{"16 kHz 1 kHz tone", 16000, 1000, -0.1, 0.1},
		{"44.1 kHz 10 kHz tone", 44100, 10000, -0.1, 0.1},
		{"96 kHz 15 kHz tone", 96000, 15000, -0.1, 0.1},
		// Stop band: a 30 kHz tone cannot exist at 48 kHz; it must be
		// removed, not aliased to 18 kHz (Kaiser β=8 gives ≈ 80 dB).
		{"96 kHz 30 kHz tone is rejected", 96000, 30000, -200, -70},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.from / 2
			in := make([]float32, n)
			for i := range in {
				in[i] = float32(math.Sin(2 * math.Pi * tc.hz * float64(i) / float64(tc.from)))
			}
			out := resampleAll(t, in, tc.from)
			db := toneLevel(out[len(out)/4 : 3*len(out)/4])
			t.Logf("%.0f Hz at %d Hz: %.3f dB", tc.hz, tc.from, db)
			require.GreaterOrEqual(t, db, tc.minDB)
			require.LessOrEqual(t, db, tc.maxDB)
		})
	}
}

func TestResamplerStereoAndShortBuffer(t *testing.T) {
	in := make([]float32, 2*1600)
	for i := range 1600 {
		in[2*i], in[2*i+1] = 0.25, -0.5
	}
	raw := encodeWAV(t, wav.Format{Encoding: wav.Float32, Channels: 2, SampleRate: 16000}, in)
	r, err := wav.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	src, err := NewWAVSource(r, 100)
	require.NoError(t, err)
	p, err := NewPadded(src, 100+4800, 2, nil)
	require.NoError(t, err)
	out := readAll(t, p)
	require.Zero(t, out[198], "silence before the start")
	require.InDelta(t, 0.25, out[2*2500], 1e-5)
	require.InDelta(t, -0.5, out[2*2500+1], 1e-5)

	rs, err := newResampler(func([]float32) (int, error) { return 0, io.EOF }, 2, 16000, SampleRate)
	require.NoError(t, err)
	_, err = rs.Read(make([]float32, 1))
	require.ErrorIs(t, err, io.ErrShortBuffer)
	_, err = rs.Read(make([]float32, 2))
	require.ErrorIs(t, err, io.EOF)
}

func TestReaderSourceErrors(t *testing.T) {
	calls := 0
	s := &readerSource{read: func([]float32) (int, error) {
		calls++
		if calls == 1 {
			return 0, nil // a reader may return nothing without an error
		}
		return 0, errNetwork
	}, channels: 1, buf: make([]float32, 4)}
	_, err := s.NextChunk()
	require.ErrorIs(t, err, errNetwork)
	require.False(t, errors.Is(err, io.EOF))
}

// resampleRates are the input rates FuzzResampler picks from.
var resampleRates = []int{8000, 11025, 16000, 22050, 24000, 32000, 44100, 88200, 96000}

// FuzzResampler checks the resampler's invariants for arbitrary input and
// read sizes: exactly ceil(N·48000/rate) frames, the same output whatever
// the read sizes, and no sample beyond the filter's worst-case gain
// (max over phases of Σ|h|) times the input's peak.
func FuzzResampler(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 100, 0, 255}, uint8(0), uint8(5), false)
	f.Add([]byte{127, 129, 127, 129}, uint8(6), uint8(0), true)
	f.Add(make([]byte, 300), uint8(8), uint8(60), false)
	f.Fuzz(func(t *testing.T, data []byte, rateIdx, readSize uint8, stereo bool) {
		from := resampleRates[int(rateIdx)%len(resampleRates)]
		ch := 1
		if stereo {
			ch = 2
		}
		in := make([]float32, len(data)/ch*ch)
		peak := float32(0)
		for i := range in {
			in[i] = float32(int8(data[i])) / 128
			peak = max(peak, in[i], -in[i])
		}
		run := func(sizes ...int) ([]float32, *resampler) {
			pos := 0
			read := func(dst []float32) (int, error) {
				if pos == len(in) {
					return 0, io.EOF
				}
				n := min(len(dst), len(in)-pos, 7*ch) // odd-sized input reads
				copy(dst, in[pos:pos+n])
				pos += n
				return n, nil
			}
			rs, err := newResampler(read, ch, from, SampleRate)
			if err != nil {
				t.Fatal(err)
			}
			return readAll(t, rs, sizes...), rs
		}
		a, rs := run(ch*(int(readSize)+1), ch)
		b, _ := run(4096)
		frames := ceilDiv(int64(len(in)/ch)*SampleRate, int64(from))
		if int64(len(a)) != frames*int64(ch) {
			t.Fatalf("%d samples, want %d", len(a), frames*int64(ch))
		}
		var gain float64
		taps := 2 * rs.half
		for p := 0; p < len(rs.coef); p += taps {
			var s float64
			for _, h := range rs.coef[p : p+taps] {
				s += math.Abs(float64(h))
			}
			gain = max(gain, s)
		}
		// boundSlack covers float32 rounding of the tap sums.
		const boundSlack = 1e-5
		bound := float32(gain)*peak + boundSlack
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("sample %d depends on read sizes: %v vs %v", i, a[i], b[i])
			}
			if a[i] > bound || a[i] < -bound || a[i] != a[i] {
				t.Fatalf("sample %d = %v beyond %v", i, a[i], bound)
			}
		}
	})
}

package mix

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mixCases is shared by the placement test and the fuzz seeds.
var mixCases = []struct {
	name    string
	tracks  [][]Chunk
	frames  int64
	want    map[int64][2]float32 // non-silent output frames
	dropped int64
}{
	{
		name:   "click at t on a source starting at s lands at s+t",
		tracks: [][]Chunk{{mono(1000, append(make([]float32, 250), 0.5)...)}},
		frames: 2000,
		want:   map[int64][2]float32{1250: {0.5, 0.5}},
	},
	{
		name:   "stereo keeps channels apart",
		tracks: [][]Chunk{{stereo(3, 0.25, -0.25, 0.125, 0)}},
		frames: 10,
		want:   map[int64][2]float32{3: {0.25, -0.25}, 4: {0.125, 0}},
	},
	{
		name:   "gaps between chunks are silence",
		tracks: [][]Chunk{{mono(2, 0.1), mono(7, 0.2, 0.3)}},
		frames: 10,
		want:   map[int64][2]float32{2: {0.1, 0.1}, 7: {0.2, 0.2}, 8: {0.3, 0.3}},
	},
	{
		name:   "sources add",
		tracks: [][]Chunk{{mono(1, 0.25, 0.25)}, {stereo(2, 0.125, 0.5)}},
		frames: 4,
		want:   map[int64][2]float32{1: {0.25, 0.25}, 2: {0.375, 0.75}},
	},
	{
		name:    "overlap keeps the earlier chunk",
		tracks:  [][]Chunk{{mono(0, 0.1, 0.1, 0.1), mono(1, 0.7, 0.7, 0.2)}},
		frames:  5,
		want:    map[int64][2]float32{0: {0.1, 0.1}, 1: {0.1, 0.1}, 2: {0.1, 0.1}, 3: {0.2, 0.2}},
		dropped: 2,
	},
	{
		name:    "out-of-order chunk is dropped",
		tracks:  [][]Chunk{{mono(5, 0.1), mono(2, 0.5, 0.5), mono(6, 0.2)}},
		frames:  8,
		want:    map[int64][2]float32{5: {0.1, 0.1}, 6: {0.2, 0.2}},
		dropped: 2,
	},
	{
		name:    "frames before zero are dropped",
		tracks:  [][]Chunk{{mono(-2, 0.1, 0.2, 0.3)}},
		frames:  3,
		want:    map[int64][2]float32{0: {0.3, 0.3}},
		dropped: 2,
	},
	{
		name:   "frames after the end are cut",
		tracks: [][]Chunk{{mono(3, 0.1, 0.2, 0.3)}, {mono(100, 0.5)}},
		frames: 4,
		want:   map[int64][2]float32{3: {0.1, 0.1}},
	},
	{
		name:   "empty chunks are skipped",
		tracks: [][]Chunk{{mono(0), stereo(1), mono(1, 0.5)}},
		frames: 2,
		want:   map[int64][2]float32{1: {0.5, 0.5}},
	},
	{
		name:    "chunk at the far past is dropped without overflow",
		tracks:  [][]Chunk{{mono(1, 0.5), mono(math.MinInt64, 0.1, 0.2, 0.3), mono(2, 0.25)}},
		frames:  3,
		want:    map[int64][2]float32{1: {0.5, 0.5}, 2: {0.25, 0.25}},
		dropped: 3,
	},
	{
		name:   "no sources is silence",
		frames: 3,
	},
	{
		name:   "zero frames",
		tracks: [][]Chunk{{mono(0, 0.5)}},
	},
}

func TestMixerPlacement(t *testing.T) {
	for _, tc := range mixCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{2, 3, 8, 4096} {
				m := NewMixer(sources(tc.tracks), tc.frames, Options{})
				require.Equal(t, tc.frames, m.Frames())
				out := readAll(t, m, size)
				require.Len(t, out, int(2*tc.frames))
				for f := range tc.frames {
					got := [2]float32{out[2*f], out[2*f+1]}
					require.Equal(t, tc.want[f], got, "frame %d, reads of %d", f, size)
				}
				require.Equal(t, tc.dropped, m.Stats().DroppedFrames)
				ref, dropped := reference(tc.tracks, tc.frames, Options{})
				require.Equal(t, ref, out)
				require.Equal(t, tc.dropped, dropped, "reference agrees")
			}
		})
	}
}

func TestMixerNoClipping(t *testing.T) {
	const n, frames = 16, 4800
	tracks := make([][]Chunk, n)
	for i := range tracks {
		s := make([]float32, frames*2)
		for f := range frames {
			// Full-scale square waves and sines, in phase at the start.
			v := float32(math.Sin(2 * math.Pi * float64(f*(i+1)) / 480))
			if i%2 == 0 {
				v = float32(math.Copysign(1, float64(v)))
			}
			s[2*f], s[2*f+1] = v, -v
		}
		tracks[i] = []Chunk{stereo(int64(i), s...)}
	}
	for _, opts := range []Options{{}, {HeadroomDB: 6}, {LimiterThresholdDB: -12}, {LimiterThresholdDB: -0.001}} {
		m := NewMixer(sources(tracks), frames+n, opts)
		out := readAll(t, m, 1000)
		peak := float32(0)
		for _, x := range out {
			peak = max(peak, float32(math.Abs(float64(x))))
		}
		require.LessOrEqual(t, peak, float32(1), "options %+v", opts)
		require.Greater(t, peak, float32(0.99), "a 16× overload drives the limiter near full scale")
		require.Positive(t, m.Stats().LimitedSamples)
	}
}

func TestMixerQuietSourceBitExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	th := float32(math.Pow(10, DefaultLimiterThresholdDB/20))
	s := make([]float32, 10000)
	for i := range s {
		s[i] = (rng.Float32()*2 - 1) * th // anything up to the threshold
	}
	out := readAll(t, NewMixer(sources([][]Chunk{{mono(0, s...)}}), int64(len(s)), Options{}), 333)
	for i, v := range s {
		require.Equal(t, v, out[2*i])
		require.Equal(t, v, out[2*i+1])
	}
}

func TestMixerHeadroom(t *testing.T) {
	// headroomTolerance allows for float32 rounding of the gain.
	const headroomTolerance = 1e-6
	for _, db := range []float64{6, -6} { // negative headroom is an attenuation too
		out := readAll(t, NewMixer(sources([][]Chunk{{mono(0, 0.5)}}), 1, Options{HeadroomDB: db}))
		require.InDelta(t, 0.5*math.Pow(10, -6.0/20), out[0], headroomTolerance)
	}
	for _, db := range []float64{math.NaN(), math.Inf(1)} {
		out := readAll(t, NewMixer(sources([][]Chunk{{mono(0, 0.5)}}), 1, Options{HeadroomDB: db}))
		require.Equal(t, float32(0.5), out[0], "%v dB is ignored", db)
	}
}

func TestSoftKnee(t *testing.T) {
	for _, db := range []float64{-1, -6, -0.01} {
		th := float32(thresholdGain(db))
		prev := float32(0)
		for x := th; x < 64; x += 0.001 {
			y := softKnee(x, th)
			require.LessOrEqual(t, y, float32(1))
			require.GreaterOrEqual(t, y, prev, "monotonic at %v", x)
			require.Equal(t, -y, softKnee(-x, th), "odd symmetry")
			prev = y
		}
		// kneeContinuity bounds the jump across the threshold: the knee
		// has slope 1 there, so a step of 1e-4 moves the output ≈ 1e-4.
		const kneeContinuity = 2e-4
		require.InDelta(t, th, softKnee(th+1e-4, th), kneeContinuity)
	}
	require.Zero(t, softKnee(float32(math.NaN()), 0.9))
	require.Equal(t, float32(1), softKnee(float32(math.Inf(1)), 0.9))
	for _, db := range []float64{0, 3, math.NaN(), math.Inf(-1)} {
		require.InDelta(t, math.Pow(10, DefaultLimiterThresholdDB/20), thresholdGain(db), 1e-12, "%v dB selects the default", db)
	}
}

func TestMixerNaNAndInf(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	out := readAll(t, NewMixer(sources([][]Chunk{{mono(0, nan, inf, -inf)}}), 3, Options{}))
	require.Equal(t, []float32{0, 0, 1, 1, -1, -1}, out)
}

var errNetwork = errors.New("network gone")

func TestMixerErrors(t *testing.T) {
	cases := []struct {
		name   string
		source Source
		err    error
		msg    string
	}{
		{"three channels", &reuseSource{chunks: []Chunk{{Start: 0, Samples: make([]float32, 3), Channels: 3}}}, ErrInvalidChunk, "source 1"},
		{"zero channels", &reuseSource{chunks: []Chunk{{Start: 0, Samples: make([]float32, 3)}}}, ErrInvalidChunk, "0 channels"},
		{"partial frame", &reuseSource{chunks: []Chunk{stereo(0, 1, 2, 3)}}, ErrInvalidChunk, "multiple of 2"},
		{"start overflows", &reuseSource{chunks: []Chunk{mono(math.MaxInt64-1, 1, 2)}}, ErrInvalidChunk, "overflows"},
		{"source error", &reuseSource{chunks: []Chunk{mono(0, 0.5)}, err: errNetwork}, errNetwork, "source 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMixer([]Source{&reuseSource{}, tc.source}, 100, Options{})
			_, err := m.Read(make([]float32, 400))
			require.ErrorIs(t, err, tc.err)
			require.ErrorContains(t, err, tc.msg)
			_, err2 := m.Read(make([]float32, 400))
			require.ErrorIs(t, err2, tc.err, "errors are sticky")
		})
	}
}

// eofWithData returns its only chunk together with io.EOF, as some
// io.Reader-minded sources do.
type eofWithData struct{ done bool }

func (s *eofWithData) NextChunk() (Chunk, error) {
	if s.done {
		return Chunk{}, errors.New("NextChunk called after io.EOF")
	}
	s.done = true
	return mono(1, 0.5), io.EOF
}

func TestMixerChunkWithEOF(t *testing.T) {
	m := NewMixer([]Source{&eofWithData{}}, 3, Options{})
	require.Equal(t, []float32{0, 0, 0.5, 0.5, 0, 0}, readAll(t, m, 2))
}

func TestMixerShortBuffers(t *testing.T) {
	m := NewMixer(sources([][]Chunk{{mono(0, 0.5, 0.25)}}), 2, Options{})
	_, err := m.Read(make([]float32, 1))
	require.ErrorIs(t, err, io.ErrShortBuffer)
	buf := []float32{9, 9, 9}
	n, err := m.Read(buf)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []float32{0.5, 0.5, 9}, buf, "an odd last element is untouched")
	n, err = m.Read(buf)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = m.Read(buf)
	require.ErrorIs(t, err, io.EOF)
	_, err = m.Read(buf)
	require.ErrorIs(t, err, io.EOF)

	m = NewMixer([]Source{nil, Chunks(mono(0, 0.5))}, 1, Options{})
	require.Equal(t, []float32{0.5, 0.5}, readAll(t, m), "a nil source is silent")

	m = NewMixer(nil, -5, Options{})
	require.Zero(t, m.Frames())
	_, err = m.Read(buf)
	require.ErrorIs(t, err, io.EOF)
}

func TestMixerLogsDrops(t *testing.T) {
	var sb strings.Builder
	log := slog.New(slog.NewTextHandler(&sb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tracks := [][]Chunk{{mono(0, 1, 1), mono(1, 1), mono(2, 1, 1), mono(3, 1)}}
	m := NewMixer(sources(tracks), 5, Options{Logger: log})
	readAll(t, m, 2)
	require.Equal(t, int64(2), m.Stats().DroppedFrames)
	require.Equal(t, 1, strings.Count(sb.String(), "level=WARN"), sb.String())
	require.Equal(t, 1, strings.Count(sb.String(), "level=DEBUG"), sb.String())
}

func TestPadded(t *testing.T) {
	tracks := []Chunk{mono(2, 0.5, -0.5), stereo(5, 0.25, 0.75), mono(8, 1.5)}
	p, err := NewPadded(&reuseSource{chunks: tracks}, 7, 1, nil)
	require.NoError(t, err)
	require.Equal(t, int64(7), p.Frames())
	require.Equal(t, 1, p.Channels())
	require.Equal(t, []float32{0, 0, 0.5, -0.5, 0, 0.5, 0}, readAll(t, p, 3))
	require.Zero(t, p.DroppedFrames())

	p, err = NewPadded(&reuseSource{chunks: tracks}, 10, 2, nil)
	require.NoError(t, err)
	require.Equal(t, []float32{0, 0, 0, 0, 0.5, 0.5, -0.5, -0.5, 0, 0, 0.25, 0.75, 0, 0, 0, 0, 1.5, 1.5, 0, 0},
		readAll(t, p, 4), "no limiter: the padded track is the source, unchanged")

	_, err = NewPadded(&reuseSource{}, 1, 3, nil)
	require.ErrorIs(t, err, ErrChannels)
}

func TestChunkFrames(t *testing.T) {
	require.Equal(t, int64(2), stereo(0, 1, 2, 3, 4).Frames())
	require.Zero(t, Chunk{Samples: []float32{1}}.Frames())
}

// FuzzMixer checks the mixer, and Padded for each track, against the
// reference renderer: exact output length, output within [-1, 1],
// bit-exact placement and the same dropped frame count, for arbitrary
// chunk layouts and read sizes.
func FuzzMixer(f *testing.F) {
	f.Add([]byte{40, 3, 0, 1, 4, 10, 20, 30, 40, 1, 250, 2, 3, 1, 2, 3, 4, 5, 6}, uint8(7), false)
	f.Add([]byte{16, 0, 5, 2, 2, 255, 255, 255, 255, 0, 252, 1, 3, 128, 128, 128}, uint8(2), true)
	for _, tc := range mixCases {
		f.Add(encodeFuzzCase(tc.tracks, tc.frames), uint8(3), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, readSize uint8, headroom bool) {
		tracks, frames := decodeFuzzCase(data)
		opts := Options{}
		if headroom {
			opts.HeadroomDB = 3
		}
		m := NewMixer(sources(tracks), frames, opts)
		out := readAll(t, m, int(readSize)+2, 2*int(readSize)+3)
		if len(out) != int(2*frames) {
			t.Fatalf("got %d samples, want %d", len(out), 2*frames)
		}
		for i, x := range out {
			if !(x >= -1 && x <= 1) {
				t.Fatalf("sample %d = %v out of range", i, x)
			}
		}
		ref, dropped := reference(tracks, frames, opts)
		for i := range ref {
			if ref[i] != out[i] {
				t.Fatalf("sample %d = %v, reference %v", i, out[i], ref[i])
			}
		}
		if got := m.Stats().DroppedFrames; got != dropped {
			t.Fatalf("dropped %d, reference %d", got, dropped)
		}

		// Each track alone through Padded, mono and stereo: no limiter,
		// the rendered samples exactly.
		for tr := range tracks {
			for _, ch := range []int{1, 2} {
				p, err := NewPadded(sources(tracks[tr : tr+1])[0], frames, ch, nil)
				if err != nil {
					t.Fatal(err)
				}
				got := readAll(t, p, ch*(int(readSize)+1))
				want, dropped := render(tracks[tr:tr+1], frames, ch)
				if len(got) != len(want) || p.DroppedFrames() != dropped {
					t.Fatalf("padded track %d, %d channels: %d samples, %d dropped; want %d, %d",
						tr, ch, len(got), p.DroppedFrames(), len(want), dropped)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("padded track %d, %d channels, sample %d = %v, want %v", tr, ch, i, got[i], want[i])
					}
				}
			}
		}
	})
}

// decodeFuzzCase turns bytes into up to three tracks: byte 0 is the session
// length; then per chunk: track, start delta (signed, so chunks can
// overlap or go back; -128 jumps to math.MinInt64), channels, frame count,
// and samples.
func decodeFuzzCase(data []byte) ([][]Chunk, int64) {
	if len(data) == 0 {
		return nil, 0
	}
	frames := int64(data[0])
	data = data[1:]
	tracks := make([][]Chunk, 3)
	starts := make([]int64, 3)
	for len(data) >= 4 {
		tr := int(data[0] % 3)
		if data[1] == 0x80 {
			starts[tr] = math.MinInt64 // the far past: overflow territory
		} else if d := int64(int8(data[1])); d >= 0 || starts[tr] >= math.MinInt64-d {
			starts[tr] += d // saturating at the far past
		}
		ch := int(data[2]%2) + 1
		n := int(data[3]%8) * ch
		data = data[4:]
		s := make([]float32, n)
		for i := range s {
			if len(data) > 0 {
				s[i] = float32(int8(data[0])) / 64 // up to ±2, to drive the limiter
				data = data[1:]
			}
		}
		tracks[tr] = append(tracks[tr], Chunk{Start: starts[tr], Samples: s, Channels: ch})
	}
	return tracks, frames
}

// encodeFuzzCase is the inverse of decodeFuzzCase for small cases.
func encodeFuzzCase(tracks [][]Chunk, frames int64) []byte {
	b := []byte{byte(frames)}
	starts := make([]int64, 3)
	for tr, chunks := range tracks {
		for _, c := range chunks {
			b = append(b, byte(tr%3), byte(int8(c.Start-starts[tr%3])), byte(c.Channels-1), byte(c.Frames()))
			starts[tr%3] = c.Start
			for _, s := range c.Samples {
				b = append(b, byte(int8(s*64)))
			}
		}
	}
	return b
}

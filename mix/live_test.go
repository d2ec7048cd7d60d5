package mix

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// liveSource yields its chunks one per call while ready counts them as
// arrived, and ErrNotYet otherwise, as a track still being recorded does.
type liveSource struct {
	chunks []Chunk
	ready  int // chunks available
}

func (s *liveSource) NextChunk() (Chunk, error) {
	if len(s.chunks) == 0 || s.ready == 0 {
		return Chunk{}, ErrNotYet
	}
	c := s.chunks[0]
	s.chunks, s.ready = s.chunks[1:], s.ready-1
	return c, nil
}

func TestMixerLive(t *testing.T) {
	a := &liveSource{chunks: []Chunk{mono(0, 0.5, 0.5), mono(4, 0.25, 0.25), mono(9, 0.125)}, ready: 1}
	m := NewMixer([]Source{a}, 1<<40, Options{})
	buf := make([]float32, 8) // 4 frames a read

	// Frames 0-3: the first chunk, then a ErrNotYet: silence after it.
	n, err := m.Read(buf)
	require.NoError(t, err)
	require.Equal(t, []float32{0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0}, buf[:n])

	// The second chunk (frames 4-5) arrives in time; a late joiner is added
	// whose first chunk starts before the mixer's position.
	a.ready = 1
	b := &liveSource{chunks: []Chunk{mono(2, 0.1, 0.1, 0.1, 0.1, 0.1)}, ready: 1}
	m.AddSource(b)
	n, err = m.Read(buf)
	require.NoError(t, err)
	require.InDeltaSlice(t, []float32{0.35, 0.35, 0.35, 0.35, 0.1, 0.1, 0, 0}, buf[:n], 1e-6)
	require.Equal(t, int64(2), m.Stats().DroppedFrames, "b's frames 2-3 came after they were mixed")

	// The third chunk (frame 9) is late: frames 8-11 are mixed first.
	n, err = m.Read(buf)
	require.NoError(t, err)
	require.Equal(t, make([]float32, 8), buf[:n])
	a.ready = 1
	m.SetFrames(14)
	n, err = m.Read(buf)
	require.NoError(t, err)
	require.Equal(t, make([]float32, 4), buf[:n], "only 2 frames left")
	require.Equal(t, int64(3), m.Stats().DroppedFrames)
	_, err = m.Read(buf)
	require.ErrorIs(t, err, io.EOF)
}

// stutterSource answers ErrNotYet on the calls whose bit is set in mask
// (cycled), as a track still being recorded does when its next chunk has
// not arrived, and passes the other calls to src.
type stutterSource struct {
	src   Source
	mask  uint8
	calls int
}

func (s *stutterSource) NextChunk() (Chunk, error) {
	s.calls++
	if s.mask&(1<<(s.calls%8)) != 0 {
		return Chunk{}, ErrNotYet
	}
	return s.src.NextChunk()
}

// FuzzMixerLive mixes the FuzzMixer cases through sources that are not
// always ready, with the length set only after the first read: the output
// has exactly the frames asked for and stays in range, and a single
// source without stutter gives the complete mix.
func FuzzMixerLive(f *testing.F) {
	for _, tc := range mixCases {
		f.Add(encodeFuzzCase(tc.tracks, tc.frames), uint8(3), uint8(0))
		f.Add(encodeFuzzCase(tc.tracks, tc.frames), uint8(1), uint8(0x55))
	}
	f.Fuzz(func(t *testing.T, data []byte, readSize uint8, mask uint8) {
		tracks, frames := decodeFuzzCase(data)
		var srcs []Source
		for _, s := range sources(tracks) {
			srcs = append(srcs, &stutterSource{src: s, mask: mask})
		}
		m := NewMixer(srcs[:min(1, len(srcs))], 1<<62, Options{})
		var out []float32
		buf := make([]float32, 2*(int(readSize)+1))
		for first := true; ; first = false {
			n, err := m.Read(buf)
			out = append(out, buf[:n]...)
			if first {
				for _, s := range srcs[min(1, len(srcs)):] {
					m.AddSource(s) // tracks that start while mixing
				}
				m.SetFrames(frames)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		// The first read ran before the length was set: it filled buf.
		first := int64(len(buf) / 2)
		if want := max(frames, first); int64(len(out)) != 2*want {
			t.Fatalf("got %d samples, want %d", len(out), 2*want)
		}
		for i, x := range out {
			if !(x >= -1 && x <= 1) {
				t.Fatalf("sample %d = %v out of range", i, x)
			}
		}
		ref, _ := reference(tracks, frames, Options{})
		if mask == 0 && len(tracks) <= 1 && frames >= first {
			for i := range ref {
				if ref[i] != out[i] {
					t.Fatalf("sample %d = %v, complete mix %v", i, out[i], ref[i])
				}
			}
		}
	})
}

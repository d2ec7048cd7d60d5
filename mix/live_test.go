package mix

import (
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

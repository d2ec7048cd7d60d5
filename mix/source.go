package mix

import (
	"errors"
	"fmt"
	"io"

	"github.com/roomtape/roomtape/mix/wav"
)

// chunkFrames is the size of the chunks the PCM sources yield: 100 ms,
// large enough to amortise per-chunk work, small enough to keep memory
// flat.
const chunkFrames = SampleRate / 10

// NewWAVSource returns a Source that yields the samples of a WAV stream,
// its first frame placed at session frame start. The stream must be mono or
// stereo; a rate other than [SampleRate] is resampled (see [NewPCMSource]).
// The caller closes r after the mix.
func NewWAVSource(r *wav.Reader, start int64) (Source, error) {
	return newReaderSource(r, r.Format(), start)
}

// NewPCMSource returns a Source that yields headerless interleaved PCM
// read from r (any [wav.Encoding], mono or stereo), its first frame placed
// at session frame start. A zero f.SampleRate means [SampleRate].
//
// Inputs at other rates are converted with a windowed-sinc polyphase
// resampler (the rates must have a ratio L/M with L ≤ 1024 after
// reduction, which covers 8, 11.025, 16, 22.05, 24, 32, 44.1, 88.2 and
// 96 kHz); other rates fail with [ErrSampleRate].
func NewPCMSource(r io.Reader, start int64, f wav.Format) (Source, error) {
	if f.SampleRate == 0 {
		f.SampleRate = SampleRate
	}
	rr, err := wav.NewRawReader(r, f)
	if err != nil {
		return nil, fmt.Errorf("mix: PCM source: %w", err)
	}
	return newReaderSource(rr, f, start)
}

// readerSource cuts a float32 sample stream into chunks.
type readerSource struct {
	read     func([]float32) (int, error)
	start    int64
	pos      int64
	channels int
	buf      []float32
}

func newReaderSource(r *wav.Reader, f wav.Format, start int64) (*readerSource, error) {
	if f.Channels != 1 && f.Channels != 2 {
		return nil, fmt.Errorf("%w: %d channels, want 1 or 2", ErrChannels, f.Channels)
	}
	read := r.ReadFloat32
	if f.SampleRate != SampleRate {
		rs, err := newResampler(read, f.Channels, f.SampleRate, SampleRate)
		if err != nil {
			return nil, err
		}
		read = rs.Read
	}
	return &readerSource{
		read:     read,
		start:    start,
		channels: f.Channels,
		buf:      make([]float32, chunkFrames*f.Channels),
	}, nil
}

// NextChunk implements [Source]. Read errors other than [io.EOF] are
// returned wrapped.
func (s *readerSource) NextChunk() (Chunk, error) {
	for {
		n, err := s.read(s.buf)
		if n > 0 {
			c := Chunk{Start: s.start + s.pos, Samples: s.buf[:n], Channels: s.channels}
			s.pos += int64(n / s.channels)
			return c, nil
		}
		if errors.Is(err, io.EOF) {
			return Chunk{}, io.EOF
		}
		if err != nil {
			return Chunk{}, fmt.Errorf("mix: reading PCM: %w", err)
		}
	}
}

// Chunks returns a Source that yields the given chunks in order, then
// [io.EOF]; handy for tests and for audio already in memory.
func Chunks(chunks ...Chunk) Source { return &chunkList{chunks: chunks} }

type chunkList struct{ chunks []Chunk }

func (l *chunkList) NextChunk() (Chunk, error) {
	if len(l.chunks) == 0 {
		return Chunk{}, io.EOF
	}
	c := l.chunks[0]
	l.chunks = l.chunks[1:]
	return c, nil
}

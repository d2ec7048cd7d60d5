package mix

import (
	"io"
	"math"
)

// Synthetic participant markers shared by the project: participant i beeps
// at beepFreqs[i%8] Hz for 50 ms every 2 s of its own time.
var beepFreqs = [8]float64{500, 800, 1100, 1400, 1700, 2000, 2300, 2600}

const (
	beepPeriod = 2 * SampleRate  // frames between beeps
	beepLength = SampleRate / 20 // 50 ms
	beepAmp    = 0.5             // per-participant level
	synthChunk = SampleRate / 50 // 20 ms, an Opus frame
)

// beepSource generates a participant's audio on the fly, 20 ms chunks
// through one reused buffer: present from join for length frames, with
// DTX (no chunks) in the silent half of every beep period when dtx is set.
type beepSource struct {
	tone     []float32 // one beep, precomputed
	channels int
	join     int64
	length   int64
	dtx      bool
	pos      int64 // participant-local frame of the next chunk
	buf      []float32
}

func newBeepSource(i int, join, length int64, channels int, dtx bool) *beepSource {
	tone := make([]float32, beepLength)
	for f := range tone {
		tone[f] = float32(beepAmp * math.Sin(2*math.Pi*beepFreqs[i%8]*float64(f)/SampleRate))
	}
	return &beepSource{
		tone: tone, channels: channels, join: join, length: length, dtx: dtx,
		buf: make([]float32, synthChunk*channels),
	}
}

func (s *beepSource) NextChunk() (Chunk, error) {
	for s.dtx && s.pos%beepPeriod >= beepPeriod/2 && s.pos < s.length {
		s.pos += synthChunk // skip: the sender sends nothing in silence
	}
	if s.pos >= s.length {
		return Chunk{}, io.EOF
	}
	n := int(min(synthChunk, s.length-s.pos))
	out := s.buf[:n*s.channels]
	clear(out)
	for f := 0; f < n; {
		local := int((s.pos + int64(f)) % beepPeriod)
		if local >= beepLength { // jump to the next beep
			f += beepPeriod - local
			continue
		}
		k := min(beepLength-local, n-f)
		for j, v := range s.tone[local : local+k] {
			for c := range s.channels {
				out[(f+j)*s.channels+c] = v
			}
		}
		f += k
	}
	c := Chunk{Start: s.join + s.pos, Samples: out, Channels: s.channels}
	s.pos += int64(n)
	return c, nil
}

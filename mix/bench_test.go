package mix

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"testing"
	"time"
)

// loopSource replays one precomputed 20 ms chunk, like a decoder handing
// out frames, without copying: it measures the mixer, not the source.
type loopSource struct {
	chunk  []float32
	ch     int
	next   int64
	length int64
}

func newLoopSource(i, channels int, length int64) *loopSource {
	s := make([]float32, synthChunk*channels)
	for f := range synthChunk {
		v := float32(0.1 * math.Sin(2*math.Pi*beepFreqs[i%8]*float64(f)/SampleRate))
		for c := range channels {
			s[f*channels+c] = v
		}
	}
	return &loopSource{chunk: s, ch: channels, length: length}
}

func (s *loopSource) NextChunk() (Chunk, error) {
	if s.next >= s.length {
		return Chunk{}, io.EOF
	}
	c := Chunk{Start: s.next, Samples: s.chunk, Channels: s.ch}
	s.next += synthChunk
	return c, nil
}

// BenchmarkMix mixes 60 s sessions of mono tracks and reports the speed as
// a multiple of real time (target: ≥ 500× for 4 tracks on one core).
func BenchmarkMix(b *testing.B) {
	const session = 60 * SampleRate
	for _, n := range []int{4, 8, 16} {
		b.Run(fmt.Sprintf("tracks=%d", n), func(b *testing.B) {
			buf := make([]float32, 2*4096)
			b.ReportAllocs()
			for b.Loop() {
				srcs := make([]Source, n)
				for i := range srcs {
					srcs[i] = newLoopSource(i, 1+i%2, session)
				}
				m := NewMixer(srcs, session, Options{})
				for {
					if _, err := m.Read(buf); err != nil {
						break
					}
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)*session/SampleRate/sec, "x-real-time")
		})
	}
}

// TestMixerBoundedMemory mixes a long 8-participant session from sources
// that generate their audio on the fly and checks that the heap does not
// grow with the session: one 2-hour mono float32 track alone is 1.4 GB,
// the whole mix must allocate less than boundedAlloc. The full 2 hours run
// without -race and without -short; otherwise 10 minutes (the check is the
// same: allocation must not depend on length).
func TestMixerBoundedMemory(t *testing.T) {
	// boundedAlloc is far below one track yet leaves room for the runtime
	// and the logger.
	const boundedAlloc = 1 << 20
	length := int64(10 * 60 * SampleRate)
	if !testing.Short() && !raceEnabled {
		length = 2 * 3600 * SampleRate
	}
	srcs := make([]Source, 8)
	for i := range srcs {
		// Staggered joins, rejoin-like DTX gaps, a mix of mono and stereo.
		srcs[i] = newBeepSource(i, int64(i)*SampleRate/3, length, 1+i%2, i%3 == 0)
	}
	m := NewMixer(srcs, length, Options{})
	buf := make([]float32, 2*4800)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	var frames int64
	peak := float32(0)
	for {
		n, err := m.Read(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames += int64(n / 2)
		for _, v := range buf[:n] {
			peak = max(peak, v, -v)
		}
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%v of audio, 8 participants: %v, %d bytes allocated, peak %.3f",
		time.Duration(length)*time.Second/SampleRate, time.Since(start).Round(time.Millisecond), alloc, peak)
	if frames != length {
		t.Fatalf("mixed %d frames, want %d", frames, length)
	}
	if alloc > boundedAlloc {
		t.Fatalf("allocated %d bytes mixing, want < %d", alloc, boundedAlloc)
	}
	if peak <= beepAmp || peak > 1 {
		t.Fatalf("peak %v: beeps missing or clipped", peak)
	}
}

// BenchmarkResample converts 60 s of 44.1 kHz stereo to 48 kHz.
func BenchmarkResample(b *testing.B) {
	const seconds, from = 60, 44100
	in := make([]float32, 2*4410)
	for i := range in {
		in[i] = float32(math.Sin(float64(i) / 7))
	}
	out := make([]float32, 2*4096)
	for b.Loop() {
		left := seconds * from
		rs, err := newResampler(func(dst []float32) (int, error) {
			if left == 0 {
				return 0, io.EOF
			}
			n := min(len(dst)/2, len(in)/2, left)
			copy(dst, in[:2*n])
			left -= n
			return 2 * n, nil
		}, 2, from, SampleRate)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rs.Read(out); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)*seconds/b.Elapsed().Seconds(), "x-real-time")
}

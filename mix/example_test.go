package mix_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/roomtape/roomtape/mix"
	"github.com/roomtape/roomtape/mix/wav"
)

// Two participants: Ana from the start, Ben from frame 4. Each track's
// chunks sit on the session clock; gaps are silence and mono feeds both
// channels.
func ExampleMixer() {
	ana := mix.Chunks(
		mix.Chunk{Start: 0, Samples: []float32{0.5, 0.25}, Channels: 1},
		mix.Chunk{Start: 5, Samples: []float32{0.125}, Channels: 1}, // after a gap
	)
	ben := mix.Chunks(mix.Chunk{Start: 4, Samples: []float32{0.25, -0.25, 0.5, 0.5}, Channels: 2})
	m := mix.NewMixer([]mix.Source{ana, ben}, 7, mix.Options{})
	buf := make([]float32, 4) // two frames per read
	frame := 0
	for {
		n, err := m.Read(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		for i := 0; i < n; i += 2 {
			fmt.Printf("frame %d: L=%v R=%v\n", frame, buf[i], buf[i+1])
			frame++
		}
	}
	// Output:
	// frame 0: L=0.5 R=0.5
	// frame 1: L=0.25 R=0.25
	// frame 2: L=0 R=0
	// frame 3: L=0 R=0
	// frame 4: L=0.25 R=-0.25
	// frame 5: L=0.625 R=0.625
	// frame 6: L=0 R=0
}

// The sum of loud sources never leaves [-1, 1]: the soft limiter bends
// everything above -1 dBFS.
func ExampleOptions() {
	loud := func() mix.Source {
		return mix.Chunks(mix.Chunk{Start: 0, Samples: []float32{0.8, 0.4}, Channels: 1})
	}
	for _, opts := range []mix.Options{{}, {HeadroomDB: 6}} {
		m := mix.NewMixer([]mix.Source{loud(), loud(), loud()}, 2, opts)
		buf := make([]float32, 4)
		if _, err := m.Read(buf); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("headroom %v dB: %.3f %.3f, %d samples limited\n",
			opts.HeadroomDB, buf[0], buf[2], m.Stats().LimitedSamples)
	}
	// Output:
	// headroom 0 dB: 1.000 0.999, 4 samples limited
	// headroom 6 dB: 0.999 0.601, 2 samples limited
}

// Write the prototype's files: a participant's track padded to the session
// timeline, and the stereo mix.
func ExampleWritePaddedFile() {
	dir, err := os.MkdirTemp("", "mix-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()

	// iPhone's 16-bit mono PCM as received, joining 1 s into a 3 s session.
	pcm := new(bytes.Buffer)
	for range mix.SampleRate / 2 {
		_ = binary.Write(pcm, binary.LittleEndian, int16(8192))
	}
	format := wav.Format{Encoding: wav.Int16, Channels: 1}
	iphone, err := mix.NewPCMSource(pcm, 1*mix.SampleRate, format)
	if err != nil {
		fmt.Println(err)
		return
	}
	path := filepath.Join(dir, mix.PaddedName("iPhone"))
	if err := mix.WritePaddedFile(path, iphone, 3*mix.SampleRate, 1); err != nil {
		fmt.Println(err)
		return
	}
	r, err := wav.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = r.Close() }()
	fmt.Println(filepath.Base(path), r.Format().Encoding, r.Format().Channels, r.Frames())
	// Output:
	// iPhone_audio_padded.wav s16 1 144000
}

package wav_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/roomtape/roomtape/mix/wav"
)

// Write a short 16-bit stereo file, then read it back as float32.
func Example() {
	dir, err := os.MkdirTemp("", "wav-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "tone.wav")

	w, err := wav.Create(path, wav.Format{Encoding: wav.Int16, Channels: 2, SampleRate: 48000})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.WriteFloat32([]float32{0.5, -0.5, 0.25, 1.5}); err != nil { // 1.5 saturates
		fmt.Println(errors.Join(err, w.Close()))
		return
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
		return
	}

	r, err := wav.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = r.Close() }()
	fmt.Println(r.Format().Encoding, r.Format().Channels, r.Format().SampleRate, r.Frames())
	buf := make([]float32, 8)
	n, _ := r.ReadFloat32(buf)
	fmt.Println(buf[:n])
	_, err = r.ReadFloat32(buf)
	fmt.Println(errors.Is(err, io.EOF))
	// Output:
	// s16 2 48000 2
	// [0.5 -0.5 0.25 0.9999695]
	// true
}

// Malformed or unsupported input gets a sentinel error to test with
// errors.Is.
func ExampleNewReader() {
	_, err := wav.NewReader(strings.NewReader("ID3\x04 not a wav file"))
	fmt.Println(errors.Is(err, wav.ErrNotWAV))
	// Output:
	// true
}

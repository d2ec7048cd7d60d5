package wav

import (
	"errors"
	"io"
	"testing"
)

// discard is an io.WriteSeeker that keeps nothing.
type discard struct{ seekErr error }

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (d discard) Seek(int64, int) (int64, error) { return 0, d.seekErr }

func TestWriterTooLarge(t *testing.T) {
	w, err := NewWriter(discard{}, Format{Encoding: Int16, Channels: 1, SampleRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	// Pretend 4 GiB were written rather than writing them.
	w.written = w.maxData() - 2
	if _, err := w.Write(make([]byte, 2)); err != nil {
		t.Fatalf("the last frame that fits: %v", err)
	}
	if _, err := w.Write(make([]byte, 2)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	// The RIFF size stays below the 0xFFFFFFFF placeholder.
	if riff := 4 + 8 + int64(w.fmtSize) + 8 + w.written + w.written&1; riff >= unknownSize {
		t.Fatalf("RIFF size %#x", riff)
	}
}

func TestWriterSeekErrors(t *testing.T) {
	errSeek := errors.New("cannot seek")
	if _, err := NewWriter(discard{seekErr: errSeek}, Format{Encoding: Int16, Channels: 1, SampleRate: 8000}); !errors.Is(err, errSeek) {
		t.Fatalf("got %v", err)
	}
	w, err := NewWriter(discard{}, Format{Encoding: Int16, Channels: 1, SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	w.seeker = discard{seekErr: errSeek}
	if err := w.Close(); !errors.Is(err, errSeek) {
		t.Fatalf("got %v", err)
	}
}

func TestDefaultMask(t *testing.T) {
	for n, want := range map[int]uint32{1: 0x4, 2: 0x3, 6: 0x3f, 18: 0x3ffff, 19: 0} {
		if got := defaultMask(n); got != want {
			t.Errorf("defaultMask(%d) = %#x, want %#x", n, got, want)
		}
	}
}

func TestSkipSeekError(t *testing.T) {
	errSeek := errors.New("cannot seek")
	if err := skip(seekReader{err: errSeek}, 10); !errors.Is(err, errSeek) {
		t.Fatalf("got %v", err)
	}
}

type seekReader struct{ err error }

func (seekReader) Read([]byte) (int, error)         { return 0, io.EOF }
func (s seekReader) Seek(int64, int) (int64, error) { return 0, s.err }

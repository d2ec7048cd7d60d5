// Package wav reads and writes RIFF WAVE files holding linear PCM or IEEE
// float samples, including WAVE_FORMAT_EXTENSIBLE headers.
//
// It is our own code rather than a library such as github.com/go-audio/wav:
// the format is small, and we need things those libraries do not all give
// together: streaming in both directions (no whole-file buffering), a writer
// on any [io.WriteSeeker] that patches the sizes on Close and leaves a
// crash-truncated file readable, float32 conversion with exact round trips
// for 16-bit PCM, and strict, typed errors (test them with [errors.Is]) for
// malformed or unsupported headers, which the fuzz test relies on.
//
// Samples convert to float32 in [-1, 1) by dividing by 2^(bits-1) (8-bit
// data is unsigned with an offset of 128); converting back multiplies,
// rounds to nearest and saturates, so 8/16/24-bit data round-trips exactly.
package wav

import (
	"errors"
	"fmt"
)

// Sentinel errors. They are returned wrapped; test with [errors.Is].
var (
	// ErrNotWAV means the stream does not start with a RIFF/WAVE header.
	ErrNotWAV = errors.New("wav: not a RIFF WAVE stream")
	// ErrMalformed means the header or chunk structure is inconsistent or
	// truncated.
	ErrMalformed = errors.New("wav: malformed file")
	// ErrUnsupported means a valid file uses a sample format this package
	// does not handle (compressed codecs, unusual bit depths, too many
	// channels).
	ErrUnsupported = errors.New("wav: unsupported format")
	// ErrInvalidFormat means a [Format] passed to a writer or raw reader is
	// not usable.
	ErrInvalidFormat = errors.New("wav: invalid format")
	// ErrPartialFrame means a write did not hold a whole number of frames.
	ErrPartialFrame = errors.New("wav: partial frame")
	// ErrTooLarge means the data would not fit in a RIFF file (4 GiB).
	ErrTooLarge = errors.New("wav: data too large for RIFF")
	// ErrClosed means the writer was already closed.
	ErrClosed = errors.New("wav: writer closed")
)

// MaxChannels is the largest channel count accepted.
const MaxChannels = 64

// Encoding is how one sample is stored.
type Encoding int

// Encodings.
const (
	// Uint8 is 8-bit unsigned PCM (offset 128).
	Uint8 Encoding = iota + 1
	// Int16 is 16-bit signed little-endian PCM.
	Int16
	// Int24 is 24-bit signed little-endian PCM, packed in 3 bytes.
	Int24
	// Int32 is 32-bit signed little-endian PCM.
	Int32
	// Float32 is 32-bit IEEE float.
	Float32
	// Float64 is 64-bit IEEE float.
	Float64
)

// Size returns the number of bytes of one sample, or 0 for an unknown
// encoding.
func (e Encoding) Size() int {
	switch e {
	case Uint8:
		return 1
	case Int16:
		return 2
	case Int24:
		return 3
	case Int32, Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

func (e Encoding) float() bool { return e == Float32 || e == Float64 }

// String returns a short name such as "s16" or "f32".
func (e Encoding) String() string {
	switch e {
	case Uint8:
		return "u8"
	case Int16:
		return "s16"
	case Int24:
		return "s24"
	case Int32:
		return "s32"
	case Float32:
		return "f32"
	case Float64:
		return "f64"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// Format describes interleaved PCM audio.
type Format struct {
	// Encoding is the sample encoding.
	Encoding Encoding
	// Channels is the number of interleaved channels, 1 to [MaxChannels].
	Channels int
	// SampleRate is the number of frames per second.
	SampleRate int
}

// BlockAlign returns the size of one frame in bytes.
func (f Format) BlockAlign() int { return f.Encoding.Size() * f.Channels }

// Validate reports whether f can be written or read raw; the error wraps
// [ErrInvalidFormat].
func (f Format) Validate() error {
	switch {
	case f.Encoding.Size() == 0:
		return fmt.Errorf("%w: unknown encoding %v", ErrInvalidFormat, f.Encoding)
	case f.Channels < 1 || f.Channels > MaxChannels:
		return fmt.Errorf("%w: %d channels, want 1 to %d", ErrInvalidFormat, f.Channels, MaxChannels)
	case f.SampleRate < 1 || f.SampleRate > maxSampleRate:
		return fmt.Errorf("%w: sample rate %d", ErrInvalidFormat, f.SampleRate)
	}
	return nil
}

// maxSampleRate keeps byte rates within the header's 32 bits.
const maxSampleRate = 1 << 22

// WAVE format tags.
const (
	tagPCM        = 0x0001
	tagFloat      = 0x0003
	tagExtensible = 0xFFFE
)

// guidTail is the common tail of the KSDATAFORMAT_SUBTYPE GUIDs; the first
// two bytes hold the format tag.
var guidTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// encodingFor maps a format tag and container bit depth to an Encoding.
func encodingFor(tag uint16, bits int) (Encoding, bool) {
	switch {
	case tag == tagPCM && bits == 8:
		return Uint8, true
	case tag == tagPCM && bits == 16:
		return Int16, true
	case tag == tagPCM && bits == 24:
		return Int24, true
	case tag == tagPCM && bits == 32:
		return Int32, true
	case tag == tagFloat && bits == 32:
		return Float32, true
	case tag == tagFloat && bits == 64:
		return Float64, true
	}
	return 0, false
}

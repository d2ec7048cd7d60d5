package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// unknownSize is the chunk size a streaming writer leaves when it cannot
// seek back (and the placeholder [Writer] writes until Close): the data
// runs to the end of the stream.
const unknownSize = 0xFFFFFFFF

// maxFmtSize bounds the fmt chunk we are willing to read.
const maxFmtSize = 1 << 10

// Reader streams the samples of a WAV file (or of headerless PCM, see
// [NewRawReader]). It is not safe for concurrent use.
type Reader struct {
	r         io.Reader
	closer    io.Closer
	format    Format
	validBits int
	mask      uint32
	frames    int64 // -1 when unknown
	remaining int64 // data bytes left, -1 when unknown
	buf       []byte
	pending   []byte // a partial sample carried between raw reads
	err       error
}

// Open opens a WAV file; Close closes it.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	r, err := NewReader(f)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("wav: %s: %w", path, err), f.Close())
	}
	r.closer = f
	return r, nil
}

// NewReader parses the RIFF header and the chunks up to the start of the
// sample data (skipping unknown chunks such as LIST or fact) and returns a
// Reader positioned on the first sample. A data chunk whose size is
// 0xFFFFFFFF (a writer that never patched its header) runs to the end of
// the stream.
func NewReader(r io.Reader) (*Reader, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: reading RIFF header: %w", ErrNotWAV, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: header %q", ErrNotWAV, hdr[:])
	}
	if binary.LittleEndian.Uint32(hdr[4:8]) < 4 {
		return nil, fmt.Errorf("%w: RIFF size %d", ErrMalformed, binary.LittleEndian.Uint32(hdr[4:8]))
	}
	wr := &Reader{r: r}
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, fmt.Errorf("%w: no data chunk: %w", ErrMalformed, err)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if haveFmt {
				return nil, fmt.Errorf("%w: second fmt chunk", ErrMalformed)
			}
			if err := wr.readFmt(size); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrMalformed)
			}
			wr.setDataSize(size)
			if wr.remaining >= 0 && wr.remaining%int64(wr.format.BlockAlign()) != 0 {
				return nil, fmt.Errorf("%w: data size %d is not a multiple of the frame size %d",
					ErrMalformed, size, wr.format.BlockAlign())
			}
			return wr, nil
		default:
			if err := skip(r, int64(size)+int64(size&1)); err != nil {
				return nil, fmt.Errorf("%w: chunk %q of %d bytes: %w", ErrMalformed, id, size, err)
			}
		}
	}
}

// NewRawReader returns a Reader over headerless interleaved PCM in format f
// that runs to the end of r. A trailing partial frame is ignored.
func NewRawReader(r io.Reader, f Format) (*Reader, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &Reader{r: r, format: f, validBits: 8 * f.Encoding.Size(), frames: -1, remaining: -1}, nil
}

func (wr *Reader) setDataSize(size uint32) {
	if size == unknownSize {
		wr.frames, wr.remaining = -1, -1
		return
	}
	wr.remaining = int64(size)
	wr.frames = int64(size) / int64(wr.format.BlockAlign())
}

// readFmt parses a fmt chunk of the given size.
func (wr *Reader) readFmt(size uint32) error {
	if size < 16 || size > maxFmtSize {
		return fmt.Errorf("%w: fmt chunk of %d bytes", ErrMalformed, size)
	}
	b := make([]byte, size+size&1)
	if _, err := io.ReadFull(wr.r, b); err != nil {
		return fmt.Errorf("%w: fmt chunk: %w", ErrMalformed, err)
	}
	le := binary.LittleEndian
	tag := le.Uint16(b[0:])
	channels := int(le.Uint16(b[2:]))
	rate := le.Uint32(b[4:])
	byteRate := le.Uint32(b[8:])
	blockAlign := int(le.Uint16(b[12:]))
	bits := int(le.Uint16(b[14:]))
	validBits := bits
	if tag == tagExtensible {
		if size < 40 || le.Uint16(b[16:]) < 22 {
			return fmt.Errorf("%w: extensible fmt chunk of %d bytes", ErrMalformed, size)
		}
		if vb := int(le.Uint16(b[18:])); vb != 0 {
			validBits = vb
		}
		wr.mask = le.Uint32(b[20:])
		if [14]byte(b[26:40]) != guidTail {
			return fmt.Errorf("%w: extensible sub-format %x", ErrUnsupported, b[24:40])
		}
		tag = le.Uint16(b[24:])
	}
	switch {
	case channels == 0:
		return fmt.Errorf("%w: zero channels", ErrMalformed)
	case rate == 0:
		return fmt.Errorf("%w: zero sample rate", ErrMalformed)
	case validBits > bits || validBits == 0:
		return fmt.Errorf("%w: %d valid bits in %d-bit samples", ErrMalformed, validBits, bits)
	}
	enc, ok := encodingFor(tag, bits)
	if !ok {
		return fmt.Errorf("%w: format tag %#04x with %d bits per sample", ErrUnsupported, tag, bits)
	}
	f := Format{Encoding: enc, Channels: channels, SampleRate: int(rate)}
	switch {
	case channels > MaxChannels:
		return fmt.Errorf("%w: %d channels, at most %d", ErrUnsupported, channels, MaxChannels)
	case rate > maxSampleRate:
		return fmt.Errorf("%w: sample rate %d", ErrUnsupported, rate)
	case blockAlign != f.BlockAlign():
		return fmt.Errorf("%w: block align %d, want %d", ErrMalformed, blockAlign, f.BlockAlign())
	case int64(byteRate) != int64(rate)*int64(blockAlign):
		return fmt.Errorf("%w: byte rate %d, want %d", ErrMalformed, byteRate, int64(rate)*int64(blockAlign))
	}
	wr.format, wr.validBits = f, validBits
	return nil
}

// skip discards n bytes of r, seeking when it can.
func skip(r io.Reader, n int64) error {
	if s, ok := r.(io.Seeker); ok {
		cur, err := s.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		end, err := s.Seek(0, io.SeekEnd)
		if err != nil {
			return err
		}
		if cur+n > end {
			return io.ErrUnexpectedEOF
		}
		_, err = s.Seek(cur+n, io.SeekStart)
		return err
	}
	if _, err := io.CopyN(io.Discard, r, n); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// Format returns the format of the samples.
func (wr *Reader) Format() Format { return wr.format }

// ValidBits returns the number of meaningful bits per sample (less than
// the container size in some WAVE_FORMAT_EXTENSIBLE files).
func (wr *Reader) ValidBits() int { return wr.validBits }

// ChannelMask returns the speaker mask of a WAVE_FORMAT_EXTENSIBLE file, or
// 0.
func (wr *Reader) ChannelMask() uint32 { return wr.mask }

// Frames returns the number of frames the header announces, or -1 when the
// data runs to the end of the stream.
func (wr *Reader) Frames() int64 { return wr.frames }

// Read reads raw sample bytes of the data chunk. It returns [io.EOF] at the
// end of the data; a file shorter than its header says yields an error
// wrapping [ErrMalformed] and [io.ErrUnexpectedEOF].
func (wr *Reader) Read(p []byte) (int, error) {
	if wr.err != nil {
		return 0, wr.err
	}
	if wr.remaining == 0 {
		return 0, io.EOF
	}
	if wr.remaining > 0 && int64(len(p)) > wr.remaining {
		p = p[:wr.remaining]
	}
	n, err := wr.r.Read(p)
	if wr.remaining > 0 {
		wr.remaining -= int64(n)
		if errors.Is(err, io.EOF) && wr.remaining > 0 {
			err = fmt.Errorf("%w: data ends %d bytes early: %w", ErrMalformed, wr.remaining, io.ErrUnexpectedEOF)
		}
		if err == nil && wr.remaining == 0 {
			err = io.EOF
		}
	}
	if err != nil {
		wr.err = err
		if n > 0 {
			return n, nil // report the error on the next call
		}
	}
	return n, err
}

// ReadFloat32 reads whole frames into dst as float32 samples (see the
// package documentation for the scaling) and returns the number of samples
// written, a multiple of the channel count. It returns [io.EOF] at the end
// of the data; a trailing partial frame at the end of an unsized stream is
// ignored.
func (wr *Reader) ReadFloat32(dst []float32) (int, error) {
	ch := wr.format.Channels
	frames := len(dst) / ch
	if frames == 0 {
		return 0, io.ErrShortBuffer
	}
	ba := wr.format.BlockAlign()
	want := frames * ba
	if cap(wr.buf) < want {
		wr.buf = make([]byte, want)
	}
	buf := wr.buf[:want]
	have := copy(buf, wr.pending)
	wr.pending = wr.pending[:0]
	var err error
	for have < ba && err == nil { // at least one whole frame
		var n int
		n, err = wr.Read(buf[have:])
		have += n
	}
	whole := have - have%ba
	wr.pending = append(wr.pending, buf[whole:have]...)
	if whole == 0 {
		if err == nil {
			err = io.EOF
		}
		return 0, err
	}
	return decode(dst, buf[:whole], wr.format.Encoding), nil
}

// Close closes the file opened by [Open]; for other readers it does
// nothing. It is idempotent.
func (wr *Reader) Close() error {
	c := wr.closer
	wr.closer = nil
	if c == nil {
		return nil
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("wav: %w", err)
	}
	return nil
}

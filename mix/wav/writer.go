package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Writer writes a WAV file sample by sample. The header is written first
// with placeholder sizes (0xFFFFFFFF, so that a file cut short by a crash
// still reads to its end with [NewReader]); Close patches the real sizes.
// It is not safe for concurrent use.
//
// Mono and stereo 8/16-bit PCM use the plain PCM header, float uses the
// IEEE float tag, and everything else (24/32-bit PCM, more than two
// channels) uses WAVE_FORMAT_EXTENSIBLE, as the format's specification asks.
type Writer struct {
	w          io.Writer
	seeker     io.Seeker // nil for a stream writer
	closer     io.Closer
	format     Format
	fmtSize    int
	dataOffset int64 // offset of the data chunk's size field
	written    int64
	buf        []byte
	closed     bool
	closeErr   error
}

// maxData is the largest data size whose RIFF size still fits in 32 bits
// below the placeholder value.
func (w *Writer) maxData() int64 {
	return unknownSize - 1 - 4 - (8 + int64(w.fmtSize)) - 8 - 1
}

// Create creates (or truncates) the file at path and returns a Writer on
// it; Close patches the header and closes the file.
func Create(path string, f Format) (*Writer, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	file, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	w, err := NewWriter(file, f)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("wav: %s: %w", path, err), file.Close())
	}
	w.closer = file
	return w, nil
}

// NewWriter writes the header for format f at the current position of w
// and returns a Writer for the samples. Close does not close w.
func NewWriter(w io.WriteSeeker, f Format) (*Writer, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	hdr := header(f)
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("wav: writing header: %w", err)
	}
	return &Writer{
		w:          w,
		seeker:     w,
		format:     f,
		fmtSize:    len(hdr) - 12 - 8 - 8,
		dataOffset: start + int64(len(hdr)) - 4,
	}, nil
}

// NewStreamWriter returns a Writer for a destination that cannot seek (a
// pipe, a network stream). The header keeps its 0xFFFFFFFF sizes, which
// [NewReader] and FFmpeg read as "data until the end of the stream"; Close
// writes nothing more and does not close w.
func NewStreamWriter(w io.Writer, f Format) (*Writer, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	hdr := header(f)
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("wav: writing header: %w", err)
	}
	return &Writer{w: w, format: f, fmtSize: len(hdr) - 12 - 8 - 8}, nil
}

// header returns the RIFF, fmt and data chunk headers with placeholder
// sizes.
func header(f Format) []byte {
	le := binary.LittleEndian
	bits := 8 * f.Encoding.Size()
	tag := uint16(tagPCM)
	if f.Encoding.float() {
		tag = tagFloat
	}
	extensible := f.Channels > 2 || bits > 16 && !f.Encoding.float()
	fmtBody := make([]byte, 16, 40)
	outer := tag
	if extensible {
		outer = tagExtensible
	}
	le.PutUint16(fmtBody[0:], outer)
	le.PutUint16(fmtBody[2:], uint16(f.Channels))
	le.PutUint32(fmtBody[4:], uint32(f.SampleRate))
	le.PutUint32(fmtBody[8:], uint32(f.SampleRate*f.BlockAlign()))
	le.PutUint16(fmtBody[12:], uint16(f.BlockAlign()))
	le.PutUint16(fmtBody[14:], uint16(bits))
	switch {
	case extensible:
		fmtBody = le.AppendUint16(fmtBody, 22)
		fmtBody = le.AppendUint16(fmtBody, uint16(bits))
		fmtBody = le.AppendUint32(fmtBody, defaultMask(f.Channels))
		fmtBody = le.AppendUint16(fmtBody, tag)
		fmtBody = append(fmtBody, guidTail[:]...)
	case f.Encoding.float():
		fmtBody = le.AppendUint16(fmtBody, 0)
	}
	b := make([]byte, 0, 12+8+len(fmtBody)+8)
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, unknownSize)
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, uint32(len(fmtBody)))
	b = append(b, fmtBody...)
	b = append(b, "data"...)
	return le.AppendUint32(b, unknownSize)
}

// defaultMask returns the usual speaker mask for n channels (0 when there
// is no usual one).
func defaultMask(n int) uint32 {
	switch n {
	case 1:
		return 0x4 // front centre
	case 2:
		return 0x3 // front left, front right
	}
	if n <= 18 {
		return 1<<n - 1
	}
	return 0
}

// Format returns the format being written.
func (w *Writer) Format() Format { return w.format }

// Frames returns the number of frames written so far.
func (w *Writer) Frames() int64 { return w.written / int64(w.format.BlockAlign()) }

// Write writes raw sample bytes, which must hold whole frames.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, ErrClosed
	}
	if len(p)%w.format.BlockAlign() != 0 {
		return 0, fmt.Errorf("%w: %d bytes with %d-byte frames", ErrPartialFrame, len(p), w.format.BlockAlign())
	}
	if w.written+int64(len(p)) > w.maxData() {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, w.written+int64(len(p)))
	}
	n, err := w.w.Write(p)
	w.written += int64(n)
	if err != nil {
		return n, fmt.Errorf("wav: %w", err)
	}
	return n, nil
}

// WriteFloat32 encodes interleaved samples (a whole number of frames) and
// writes them; integer encodings round to nearest and saturate.
func (w *Writer) WriteFloat32(samples []float32) error {
	if w.closed {
		return ErrClosed
	}
	if len(samples)%w.format.Channels != 0 {
		return fmt.Errorf("%w: %d samples with %d channels", ErrPartialFrame, len(samples), w.format.Channels)
	}
	n := len(samples) * w.format.Encoding.Size()
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	encode(w.buf[:n], samples, w.format.Encoding)
	_, err := w.Write(w.buf[:n])
	return err
}

// Close pads the data to an even size, patches the RIFF and data sizes and
// leaves w positioned at the end of the file (a stream writer does none of
// this); a Writer from [Create] also closes its file. Close is idempotent: later calls return the first
// call's result.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	w.closeErr = w.finish()
	if w.closer != nil {
		if err := w.closer.Close(); err != nil {
			w.closeErr = errors.Join(w.closeErr, fmt.Errorf("wav: %w", err))
		}
	}
	return w.closeErr
}

func (w *Writer) finish() error {
	if w.seeker == nil {
		return nil // a stream: no pad byte, it would read as data
	}
	pad := w.written & 1
	if pad == 1 {
		if _, err := w.w.Write([]byte{0}); err != nil {
			return fmt.Errorf("wav: padding data: %w", err)
		}
	}
	riffStart := w.dataOffset + 4 - int64(12+8+w.fmtSize+8)
	riffSize := uint32(4 + 8 + int64(w.fmtSize) + 8 + w.written + pad)
	if err := w.patch(riffStart+4, riffSize); err != nil {
		return err
	}
	if err := w.patch(w.dataOffset, uint32(w.written)); err != nil {
		return err
	}
	if _, err := w.seeker.Seek(w.dataOffset+4+w.written+pad, io.SeekStart); err != nil {
		return fmt.Errorf("wav: %w", err)
	}
	return nil
}

func (w *Writer) patch(off int64, v uint32) error {
	if _, err := w.seeker.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("wav: patching header: %w", err)
	}
	if _, err := w.w.Write(binary.LittleEndian.AppendUint32(nil, v)); err != nil {
		return fmt.Errorf("wav: patching header: %w", err)
	}
	return nil
}

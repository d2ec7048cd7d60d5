package wav_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/mix/wav"
)

// formatCases is shared by the writer and reader tests.
var formatCases = []struct {
	name       string
	format     wav.Format
	extensible bool
	// exact says float32 → encoding → float32 is lossless for samples that
	// are multiples of 2^-(bits-1).
	exact bool
}{
	{"u8 mono", wav.Format{Encoding: wav.Uint8, Channels: 1, SampleRate: 8000}, false, true},
	{"s16 mono", wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 48000}, false, true},
	{"s16 stereo", wav.Format{Encoding: wav.Int16, Channels: 2, SampleRate: 48000}, false, true},
	{"s16 5.1", wav.Format{Encoding: wav.Int16, Channels: 6, SampleRate: 48000}, true, true},
	{"s24 stereo", wav.Format{Encoding: wav.Int24, Channels: 2, SampleRate: 44100}, true, true},
	{"s32 mono", wav.Format{Encoding: wav.Int32, Channels: 1, SampleRate: 16000}, true, true},
	{"f32 stereo", wav.Format{Encoding: wav.Float32, Channels: 2, SampleRate: 48000}, false, true},
	{"f64 mono", wav.Format{Encoding: wav.Float64, Channels: 1, SampleRate: 96000}, false, true},
	{"f32 three channels", wav.Format{Encoding: wav.Float32, Channels: 3, SampleRate: 48000}, true, true},
}

// testSamples returns frames×channels samples on the 8-bit grid (exactly
// representable by every encoding), including both extremes.
func testSamples(frames, channels int) []float32 {
	s := make([]float32, frames*channels)
	for i := range s {
		s[i] = float32((i*37)%256-128) / 128
	}
	return s
}

// memFile is an in-memory io.WriteSeeker and io.Reader.
type memFile struct {
	buf []byte
	off int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := m.off + int64(len(p)); end > int64(len(m.buf)) {
		m.buf = append(m.buf, make([]byte, end-int64(len(m.buf)))...)
	}
	n := copy(m.buf[m.off:], p)
	m.off += int64(n)
	return n, nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += m.off
	case io.SeekEnd:
		off += int64(len(m.buf))
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	m.off = off
	return off, nil
}

func writeAll(tb testing.TB, f wav.Format, samples []float32) []byte {
	tb.Helper()
	var m memFile
	w, err := wav.NewWriter(&m, f)
	require.NoError(tb, err)
	require.NoError(tb, w.WriteFloat32(samples))
	require.NoError(tb, w.Close())
	require.NoError(tb, w.Close(), "Close is idempotent")
	return m.buf
}

func readAll(t *testing.T, r *wav.Reader, bufSamples int) []float32 {
	t.Helper()
	buf := make([]float32, bufSamples)
	var out []float32
	for {
		n, err := r.ReadFloat32(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range formatCases {
		t.Run(tc.name, func(t *testing.T) {
			const frames = 1001 // odd, to exercise the pad byte for u8 mono
			in := testSamples(frames, tc.format.Channels)
			b := writeAll(t, tc.format, in)

			tag := binary.LittleEndian.Uint16(b[20:])
			require.Equal(t, tc.extensible, tag == 0xFFFE, "format tag %#x", tag)
			require.Equal(t, uint32(len(b)-8), binary.LittleEndian.Uint32(b[4:]), "RIFF size")
			require.Zero(t, len(b)%2, "chunks are word aligned")

			r, err := wav.NewReader(bytes.NewReader(b))
			require.NoError(t, err)
			require.Equal(t, tc.format, r.Format())
			require.Equal(t, int64(frames), r.Frames())
			require.Equal(t, 8*tc.format.Encoding.Size(), r.ValidBits())
			out := readAll(t, r, 7*tc.format.Channels)
			require.Equal(t, in, out)
		})
	}
}

func TestCanonicalHeader(t *testing.T) {
	// The classic 44-byte header of a 48 kHz mono s16 file with 2 frames.
	b := writeAll(t, wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 48000}, []float32{0, -1})
	want := []byte("RIFF" + "\x28\x00\x00\x00" + "WAVE" + "fmt " + "\x10\x00\x00\x00" +
		"\x01\x00" + "\x01\x00" + "\x80\xbb\x00\x00" + "\x00\x77\x01\x00" + "\x02\x00" + "\x10\x00" +
		"data" + "\x04\x00\x00\x00" + "\x00\x00" + "\x00\x80")
	require.Equal(t, want, b)
}

func TestQuantize(t *testing.T) {
	f := wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 48000}
	in := []float32{2, -2, float32(math.NaN()), 1.0 / 65536 * 3, float32(math.Inf(1)), 0.5}
	b := writeAll(t, f, in)
	got := make([]int16, len(in))
	require.NoError(t, binary.Read(bytes.NewReader(b[44:]), binary.LittleEndian, got))
	require.Equal(t, []int16{32767, -32768, 0, 2, 32767, 16384}, got)
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.wav")
	f := wav.Format{Encoding: wav.Int24, Channels: 2, SampleRate: 48000}
	w, err := wav.Create(path, f)
	require.NoError(t, err)
	in := testSamples(100, 2)
	require.NoError(t, w.WriteFloat32(in[:50]))
	require.NoError(t, w.WriteFloat32(in[50:]))
	require.Equal(t, int64(100), w.Frames())
	require.Equal(t, f, w.Format())
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	require.ErrorIs(t, w.WriteFloat32(in), wav.ErrClosed)
	_, err = w.Write([]byte{0, 0, 0, 0, 0, 0})
	require.ErrorIs(t, err, wav.ErrClosed)

	r, err := wav.Open(path)
	require.NoError(t, err)
	require.Equal(t, in, readAll(t, r, 64))
	require.Equal(t, uint32(0x3), r.ChannelMask())
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())

	_, err = wav.Open(filepath.Join(t.TempDir(), "missing.wav"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = wav.Create(filepath.Join(t.TempDir(), "no", "dir.wav"), f)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = wav.Create(path, wav.Format{})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)

	bad := filepath.Join(t.TempDir(), "bad.wav")
	require.NoError(t, os.WriteFile(bad, []byte("RIFX...."), 0o600))
	_, err = wav.Open(bad)
	require.ErrorIs(t, err, wav.ErrNotWAV)
}

func TestWriterErrors(t *testing.T) {
	var m memFile
	_, err := wav.NewWriter(&m, wav.Format{Encoding: wav.Int16, Channels: 0, SampleRate: 48000})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)
	_, err = wav.NewWriter(&m, wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 0})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)
	_, err = wav.NewWriter(&m, wav.Format{Encoding: 99, Channels: 1, SampleRate: 48000})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)

	w, err := wav.NewWriter(&m, wav.Format{Encoding: wav.Int16, Channels: 2, SampleRate: 48000})
	require.NoError(t, err)
	require.ErrorIs(t, w.WriteFloat32([]float32{1, 2, 3}), wav.ErrPartialFrame)
	_, err = w.Write([]byte{1, 2})
	require.ErrorIs(t, err, wav.ErrPartialFrame)

	fw := &failWriter{failAfter: 0}
	_, err = wav.NewWriter(fw, wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 48000})
	require.ErrorIs(t, err, errDisk)

	fw = &failWriter{failAfter: 1}
	w, err = wav.NewWriter(fw, wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 48000})
	require.NoError(t, err)
	require.ErrorIs(t, w.WriteFloat32([]float32{0}), errDisk)
	require.ErrorIs(t, w.Close(), errDisk)
	require.ErrorIs(t, w.Close(), errDisk, "later Close calls return the first result")
}

var errDisk = errors.New("disk on fire")

// failWriter accepts failAfter writes, then fails every write.
type failWriter struct {
	memFile
	failAfter int
}

func (f *failWriter) Write(p []byte) (int, error) {
	if f.failAfter == 0 {
		return 0, errDisk
	}
	f.failAfter--
	return f.memFile.Write(p)
}

func TestUnpatchedHeaderReadsToEnd(t *testing.T) {
	// A writer that never reached Close (crash) leaves 0xFFFFFFFF sizes:
	// the samples written so far must still be readable.
	var m memFile
	f := wav.Format{Encoding: wav.Int16, Channels: 2, SampleRate: 48000}
	w, err := wav.NewWriter(&m, f)
	require.NoError(t, err)
	in := testSamples(10, 2)
	require.NoError(t, w.WriteFloat32(in))
	// Cut in the middle of a frame, as a crash could.
	b := append(m.buf[:len(m.buf):len(m.buf)], 0x01)
	r, err := wav.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, int64(-1), r.Frames())
	require.Equal(t, in, readAll(t, r, 6))
}

func TestRawReader(t *testing.T) {
	f := wav.Format{Encoding: wav.Float32, Channels: 2, SampleRate: 48000}
	b := writeAll(t, f, []float32{0.25, -0.5, 1, 0})
	r, err := wav.NewRawReader(bytes.NewReader(b[len(b)-16:]), f)
	require.NoError(t, err)
	require.Equal(t, []float32{0.25, -0.5, 1, 0}, readAll(t, r, 2))
	_, err = r.ReadFloat32(make([]float32, 1))
	require.ErrorIs(t, err, io.ErrShortBuffer)
	_, err = wav.NewRawReader(bytes.NewReader(nil), wav.Format{Encoding: wav.Int16})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)
}

// nonSeeker hides io.Seeker so chunks are skipped by reading.
type nonSeeker struct{ r io.Reader }

func (n nonSeeker) Read(p []byte) (int, error) { return n.r.Read(p) }

func TestSkipsUnknownChunks(t *testing.T) {
	f := wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 48000}
	in := testSamples(5, 1)
	b := writeAll(t, f, in)
	// Insert an odd-sized LIST chunk (with its pad byte) before fmt.
	list := []byte("LIST\x03\x00\x00\x00abc\x00")
	b = append(append(append([]byte{}, b[:12]...), list...), b[12:]...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	for name, r := range map[string]io.Reader{
		"seeker":     bytes.NewReader(b),
		"non-seeker": nonSeeker{bytes.NewReader(b)},
	} {
		t.Run(name, func(t *testing.T) {
			wr, err := wav.NewReader(r)
			require.NoError(t, err)
			require.Equal(t, in, readAll(t, wr, 3))
			n, err := wr.Read(make([]byte, 4))
			require.Zero(t, n)
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

func TestEncodingString(t *testing.T) {
	for e, want := range map[wav.Encoding]string{
		wav.Uint8: "u8", wav.Int16: "s16", wav.Int24: "s24", wav.Int32: "s32",
		wav.Float32: "f32", wav.Float64: "f64", 0: "Encoding(0)",
	} {
		require.Equal(t, want, e.String())
	}
	require.Zero(t, wav.Encoding(0).Size())
}

func TestStreamWriter(t *testing.T) {
	for _, tc := range formatCases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := wav.NewStreamWriter(&buf, tc.format)
			require.NoError(t, err)
			in := testSamples(11, tc.format.Channels)
			require.NoError(t, w.WriteFloat32(in))
			require.NoError(t, w.Close())
			require.NoError(t, w.Close())
			r, err := wav.NewReader(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			require.Equal(t, int64(-1), r.Frames(), "sizes left open")
			require.Equal(t, in, readAll(t, r, 5*tc.format.Channels))
		})
	}
	_, err := wav.NewStreamWriter(&bytes.Buffer{}, wav.Format{})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)
	_, err = wav.NewStreamWriter(&failWriter{}, wav.Format{Encoding: wav.Int16, Channels: 1, SampleRate: 8000})
	require.ErrorIs(t, err, errDisk)
}

// FuzzRoundTrip writes arbitrary float32 samples in every encoding and
// reads them back: floats exactly, integers within half a quantisation step
// (after saturation to [-1, 1)), always as many frames as written.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 128, 191, 0, 0, 0, 0, 0, 0, 0, 64}, uint8(1))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, uint8(4))
	f.Add([]byte{88, 255, 127, 63, 88, 255, 127, 191}, uint8(1)) // ±0.99999: rounds to the saturated top code
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		tc := formatCases[int(pick)%len(formatCases)]
		ch := tc.format.Channels
		in := make([]float32, len(data)/4/ch*ch)
		for i := range in {
			in[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		out := readAll(t, mustReader(t, writeAll(t, tc.format, in)), 64*ch)
		if len(out) != len(in) {
			t.Fatalf("%d samples back, wrote %d", len(out), len(in))
		}
		bits := 8 * tc.format.Encoding.Size()
		for i, x := range in {
			got := out[i]
			if tc.format.Encoding == wav.Float32 || tc.format.Encoding == wav.Float64 {
				if math.Float32bits(got) != math.Float32bits(x) && !(x != x && got != got) {
					t.Fatalf("sample %d: %v back as %v", i, x, got)
				}
				continue
			}
			want := float64(x)
			switch {
			case x != x:
				want = 0
			case want > 1:
				want = 1
			case want < -1:
				want = -1
			}
			// Rounding costs half a quantisation step, except at the top
			// where +1 saturates to the largest code, one step below; the
			// 1e-7 is float32 rounding of 32-bit integers.
			step := math.Ldexp(1, 1-bits)
			tol := step / 2
			if want > 1-step {
				tol = step
			}
			if d := math.Abs(float64(got) - want); d > tol+1e-7 {
				t.Fatalf("sample %d: %v back as %v (step %v)", i, x, got, step)
			}
		}
	})
}

func mustReader(tb testing.TB, b []byte) *wav.Reader {
	tb.Helper()
	r, err := wav.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

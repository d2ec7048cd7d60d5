package wav_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/mix/wav"
)

// fmtChunk returns a fmt chunk body.
func fmtChunk(tag, channels uint16, rate, byteRate uint32, blockAlign, bits uint16) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16(nil, tag)
	b = le.AppendUint16(b, channels)
	b = le.AppendUint32(b, rate)
	b = le.AppendUint32(b, byteRate)
	b = le.AppendUint16(b, blockAlign)
	return le.AppendUint16(b, bits)
}

// extensible returns a WAVE_FORMAT_EXTENSIBLE fmt body.
func extensible(sub uint16, channels uint16, bits, validBits uint16, guidTail string) []byte {
	le := binary.LittleEndian
	ba := channels * bits / 8
	b := fmtChunk(0xFFFE, channels, 48000, 48000*uint32(ba), ba, bits)
	b = le.AppendUint16(b, 22)
	b = le.AppendUint16(b, validBits)
	b = le.AppendUint32(b, 0x3)
	b = le.AppendUint16(b, sub)
	return append(b, guidTail...)
}

const ksGUIDTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

// chunk returns id, size and body (padded to even size).
func chunk(id string, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(id), uint32(len(body)))
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// riff wraps chunks in a RIFF/WAVE header.
func riff(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

var s16mono = fmtChunk(1, 1, 48000, 96000, 2, 16)

// readerCases are headers with the error (nil: valid) NewReader must give.
var readerCases = []struct {
	name string
	data []byte
	err  error
}{
	{"valid s16 mono", riff(chunk("fmt ", s16mono), chunk("data", []byte{1, 0, 2, 0})), nil},
	{
		"valid extensible s24 with 20 valid bits",
		riff(chunk("fmt ", extensible(1, 2, 24, 20, ksGUIDTail)), chunk("data", make([]byte, 12))), nil,
	},
	{"valid extensible float", riff(chunk("fmt ", extensible(3, 1, 32, 0, ksGUIDTail)), chunk("data", nil)), nil},
	{
		"valid with fact and odd LIST",
		riff(chunk("fact", []byte{1, 0, 0, 0}), chunk("fmt ", s16mono), chunk("LIST", []byte("abc")), chunk("data", nil)), nil,
	},
	{"empty", nil, wav.ErrNotWAV},
	{"short", []byte("RIFF\x04"), wav.ErrNotWAV},
	{"RIFX", append([]byte("RIFX"), riff()[4:]...), wav.ErrNotWAV},
	{"AVI", append(riff()[:8:8], []byte("AVI ")...), wav.ErrNotWAV},
	{"RIFF size too small", []byte("RIFF\x00\x00\x00\x00WAVE"), wav.ErrMalformed},
	{"no chunks", riff(), wav.ErrMalformed},
	{"no data chunk", riff(chunk("fmt ", s16mono)), wav.ErrMalformed},
	{"data before fmt", riff(chunk("data", nil), chunk("fmt ", s16mono)), wav.ErrMalformed},
	{"two fmt chunks", riff(chunk("fmt ", s16mono), chunk("fmt ", s16mono), chunk("data", nil)), wav.ErrMalformed},
	{"short fmt", riff(chunk("fmt ", s16mono[:14]), chunk("data", nil)), wav.ErrMalformed},
	{"huge fmt", riff(chunk("fmt ", make([]byte, 2000)), chunk("data", nil)), wav.ErrMalformed},
	{"fmt cut short", append(riff(), "fmt \x10\x00\x00\x00\x01\x00"...), wav.ErrMalformed},
	{"truncated unknown chunk", append(riff(chunk("fmt ", s16mono)), "JUNK\xff\x00\x00\x00"...), wav.ErrMalformed},
	{"zero channels", riff(chunk("fmt ", fmtChunk(1, 0, 48000, 0, 0, 16)), chunk("data", nil)), wav.ErrMalformed},
	{"zero rate", riff(chunk("fmt ", fmtChunk(1, 1, 0, 0, 2, 16)), chunk("data", nil)), wav.ErrMalformed},
	{"bad block align", riff(chunk("fmt ", fmtChunk(1, 2, 48000, 192000, 2, 16)), chunk("data", nil)), wav.ErrMalformed},
	{"bad byte rate", riff(chunk("fmt ", fmtChunk(1, 1, 48000, 1, 2, 16)), chunk("data", nil)), wav.ErrMalformed},
	{"data not whole frames", riff(chunk("fmt ", s16mono), chunk("data", []byte{1, 2, 3})), wav.ErrMalformed},
	{"ADPCM", riff(chunk("fmt ", fmtChunk(2, 1, 48000, 96000, 2, 16)), chunk("data", nil)), wav.ErrUnsupported},
	{"mu-law", riff(chunk("fmt ", fmtChunk(7, 1, 8000, 8000, 1, 8)), chunk("data", nil)), wav.ErrUnsupported},
	{"12-bit PCM", riff(chunk("fmt ", fmtChunk(1, 1, 48000, 96000, 2, 12)), chunk("data", nil)), wav.ErrUnsupported},
	{"16-bit float", riff(chunk("fmt ", fmtChunk(3, 1, 48000, 96000, 2, 16)), chunk("data", nil)), wav.ErrUnsupported},
	{"too many channels", riff(chunk("fmt ", fmtChunk(1, 100, 48000, 48000*200, 200, 16)), chunk("data", nil)), wav.ErrUnsupported},
	{"absurd rate", riff(chunk("fmt ", fmtChunk(1, 1, 1<<30, 1<<31, 2, 16)), chunk("data", nil)), wav.ErrUnsupported},
	{"extensible too short", riff(chunk("fmt ", extensible(1, 1, 16, 16, ksGUIDTail)[:30]), chunk("data", nil)), wav.ErrMalformed},
	{"extensible unknown GUID", riff(chunk("fmt ", extensible(1, 1, 16, 16, "0123456789abcd")), chunk("data", nil)), wav.ErrUnsupported},
	{
		"extensible valid bits above container",
		riff(chunk("fmt ", extensible(1, 1, 16, 24, ksGUIDTail)), chunk("data", nil)), wav.ErrMalformed,
	},
	{"extensible ADPCM", riff(chunk("fmt ", extensible(2, 1, 16, 16, ksGUIDTail)), chunk("data", nil)), wav.ErrUnsupported},
}

func TestReaderHeaders(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := wav.NewReader(bytes.NewReader(tc.data))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.Nil(t, r)
				return
			}
			require.NoError(t, err)
			_, err = io.ReadAll(r)
			require.NoError(t, err)
		})
	}
}

func TestReaderValidBits(t *testing.T) {
	r, err := wav.NewReader(bytes.NewReader(readerCases[1].data))
	require.NoError(t, err)
	require.Equal(t, 20, r.ValidBits())
	require.Equal(t, wav.Format{Encoding: wav.Int24, Channels: 2, SampleRate: 48000}, r.Format())
}

func TestReaderTruncatedData(t *testing.T) {
	b := riff(chunk("fmt ", s16mono), chunk("data", []byte{0, 0x40, 0, 0xC0, 0, 0x20}))
	b = b[:len(b)-3] // the header promises 3 frames; 1.5 are there
	r, err := wav.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	buf := make([]float32, 8)
	n, err := r.ReadFloat32(buf)
	require.NoError(t, err)
	require.Equal(t, []float32{0.5}, buf[:n])
	_, err = r.ReadFloat32(buf)
	require.ErrorIs(t, err, wav.ErrMalformed)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = r.ReadFloat32(buf)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "errors are sticky")
}

// FuzzReader checks that arbitrary input never panics, that every header
// error is one of the sentinels, and that a stream that parses yields whole
// frames only and no more than its header announces.
func FuzzReader(f *testing.F) {
	for _, tc := range readerCases {
		f.Add(tc.data)
	}
	for _, tc := range formatCases {
		f.Add(writeAll(f, tc.format, testSamples(3, tc.format.Channels)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := wav.NewReader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, wav.ErrNotWAV) && !errors.Is(err, wav.ErrMalformed) && !errors.Is(err, wav.ErrUnsupported) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		fm := r.Format()
		if err := fm.Validate(); err != nil {
			t.Fatalf("parsed invalid format %+v: %v", fm, err)
		}
		buf := make([]float32, 3*fm.Channels)
		var samples int64
		for {
			n, err := r.ReadFloat32(buf)
			if n%fm.Channels != 0 {
				t.Fatalf("partial frame: %d samples, %d channels", n, fm.Channels)
			}
			samples += int64(n)
			if err != nil {
				break
			}
		}
		if fr := r.Frames(); fr >= 0 && samples/int64(fm.Channels) > fr {
			t.Fatalf("read %d frames, header says %d", samples/int64(fm.Channels), fr)
		}
	})
}

package mix

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/mix/wav"
)

// goertzel returns the magnitude of frequency hz in x, normalised so a
// sine of amplitude a gives ≈ a.
func goertzel(x []float32, hz float64) float64 {
	w := 2 * math.Pi * hz / SampleRate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	return 2 * math.Sqrt(s1*s1+s2*s2-c*s1*s2) / float64(len(x))
}

// The prototype's example, shortened: Aditya joins at 0, iPhone at 4 s and
// leaves at 9 s, the session ends at 11 s.
const (
	protoEnd    = 11 * SampleRate
	iPhoneJoin  = 4 * SampleRate
	iPhoneLeave = 9 * SampleRate
)

func TestPrototypeFiles(t *testing.T) {
	dir := t.TempDir()
	padded := filepath.Join(dir, PaddedName("iPhone"))
	require.Equal(t, "iPhone_audio_padded.wav", filepath.Base(padded))
	require.NoError(t, WritePaddedFile(padded, newBeepSource(1, iPhoneJoin, iPhoneLeave-iPhoneJoin, 1, false), protoEnd, 1))

	mixed := filepath.Join(dir, MixedName)
	m := NewMixer([]Source{
		newBeepSource(0, 0, protoEnd, 1, true),
		newBeepSource(1, iPhoneJoin, iPhoneLeave-iPhoneJoin, 1, false),
	}, protoEnd, Options{})
	require.NoError(t, WriteMixFile(mixed, m))

	// beepTolerance: a 50 ms beep of amplitude 0.5 measured over its own
	// 50 ms window gives ≈ 0.5; s16 quantisation and the window edges
	// cost far less than 0.05. Silence must be below -60 dBFS.
	const beepTolerance, silence = 0.05, 1e-3
	check := func(path string, channels int, beeps map[float64][]int64) {
		r, err := wav.Open(path)
		require.NoError(t, err)
		defer func() { require.NoError(t, r.Close()) }()
		require.Equal(t, PrototypeFormat(channels), r.Format())
		require.Equal(t, int64(protoEnd), r.Frames())
		all := readAll(t, (*floatReader)(r), 4096)
		left := make([]float32, len(all)/channels)
		for i := range left {
			left[i] = all[i*channels]
		}
		for hz, starts := range beeps {
			for _, s := range starts {
				require.InDelta(t, beepAmp, goertzel(left[s:s+beepLength], hz), beepTolerance, "%v Hz at %d", hz, s)
				// Sample-exact: the 50 ms before the beep is silent.
				require.Less(t, goertzel(left[s-beepLength:s], hz), silence, "%v Hz before %d", hz, s)
			}
		}
	}
	var iPhone, aditya []int64
	for s := int64(iPhoneJoin); s < iPhoneLeave; s += beepPeriod {
		iPhone = append(iPhone, s)
	}
	for s := int64(beepPeriod); s < protoEnd; s += beepPeriod {
		aditya = append(aditya, s)
	}
	check(padded, 1, map[float64][]int64{beepFreqs[1]: iPhone})
	check(mixed, 2, map[float64][]int64{beepFreqs[0]: aditya, beepFreqs[1]: iPhone})

	if ffprobe, err := exec.LookPath("ffprobe"); err == nil {
		for _, p := range []string{padded, mixed} {
			out, err := exec.Command(ffprobe, "-v", "error", "-show_streams", "-of", "json", p).Output()
			require.NoError(t, err, "ffprobe %s", p)
			var probe struct {
				Streams []struct {
					CodecName  string `json:"codec_name"`
					SampleRate string `json:"sample_rate"`
					Duration   string `json:"duration"`
				} `json:"streams"`
			}
			require.NoError(t, json.Unmarshal(out, &probe))
			require.Len(t, probe.Streams, 1)
			require.Equal(t, "pcm_s16le", probe.Streams[0].CodecName)
			require.Equal(t, "48000", probe.Streams[0].SampleRate)
			d, err := strconv.ParseFloat(probe.Streams[0].Duration, 64)
			require.NoError(t, err)
			require.InDelta(t, 11.0, d, 1e-6)
		}
	} else {
		t.Log("ffprobe not on PATH: skipping the FFmpeg cross-check")
	}
}

// floatReader adapts a wav.Reader to SampleReader.
type floatReader wav.Reader

func (f *floatReader) Read(dst []float32) (int, error) { return (*wav.Reader)(f).ReadFloat32(dst) }

func TestWriteWAVErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := WriteWAVFile(filepath.Join(dir, "x.wav"), NewMixer(nil, 1, Options{}), wav.Format{})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)
	_, err = WriteWAV(tempFile(t), NewMixer(nil, 1, Options{}), wav.Format{})
	require.ErrorIs(t, err, wav.ErrInvalidFormat)
	require.ErrorIs(t, WritePaddedFile(filepath.Join(dir, "p.wav"), &reuseSource{}, 10, 5), ErrChannels)

	// A source error aborts the file and is reported.
	bad := []Source{&reuseSource{chunks: []Chunk{mono(0, 1)}, err: errNetwork}}
	path := filepath.Join(dir, "m.wav")
	require.ErrorIs(t, WriteMixFile(path, NewMixer(bad, 10, Options{})), errNetwork)
	_, err = WriteWAV(tempFile(t), NewMixer(bad, 10, Options{}), PrototypeFormat(2))
	require.ErrorIs(t, err, errNetwork)

	// Channel count mismatch between reader and format.
	_, err = WriteWAV(tempFile(t), NewMixer(nil, 3, Options{}), wav.Format{Encoding: wav.Int16, Channels: 4, SampleRate: SampleRate})
	require.ErrorIs(t, err, wav.ErrPartialFrame)

	require.ErrorIs(t, WritePadded(tempFile(t), Chunks(), 1, 0), ErrChannels)

	n, err := WriteWAV(tempFile(t), NewMixer(nil, 3, Options{}), PrototypeFormat(2))
	require.NoError(t, err)
	require.Equal(t, int64(3), n)

	require.True(t, errors.Is(WriteMixFile(filepath.Join(dir, "missing", "m.wav"), NewMixer(nil, 1, Options{})), os.ErrNotExist))
}

func TestWriteWAVToPipe(t *testing.T) {
	pr, pw, err := os.Pipe() // an *os.File that cannot seek
	require.NoError(t, err)
	defer func() { require.NoError(t, pr.Close()) }()
	done := make(chan error, 1)
	go func() {
		done <- errors.Join(WriteMix(pw, NewMixer([]Source{Chunks(mono(1, 0.5))}, 3, Options{})), pw.Close())
	}()
	r, err := wav.NewReader(pr)
	require.NoError(t, err)
	require.Equal(t, int64(-1), r.Frames())
	require.Equal(t, []float32{0, 0, 0.5, 0.5, 0, 0}, readAll(t, (*floatReader)(r)))
	require.NoError(t, <-done)
}

func TestWritePadded(t *testing.T) {
	var buf bytes.Buffer // not seekable: a stream WAV
	require.NoError(t, WritePadded(&buf, Chunks(stereo(2, 0.5, 0.25)), 4, 1))
	r, err := wav.NewReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Equal(t, PrototypeFormat(1), r.Format())
	require.Equal(t, []float32{0, 0, 0.375, 0}, readAll(t, (*floatReader)(r)))
}

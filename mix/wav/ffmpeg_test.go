package wav_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/mix/wav"
)

// TestReadsFFmpegFiles cross-checks the reader against files written by the
// FFmpeg CLI (skipped when ffmpeg is not on PATH): each is compared with
// FFmpeg's own raw float decode of the same signal.
func TestReadsFFmpegFiles(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	const src = "sine=frequency=1000:sample_rate=44100:duration=0.2,volume=0.9"
	cases := []struct {
		name   string
		args   []string
		format wav.Format
		// tolerance is half a quantisation step of the file's encoding
		// (plus float32 rounding): FFmpeg and we both scale by 2^(bits-1).
		tolerance float64
	}{
		{"u8 mono", []string{"-c:a", "pcm_u8", "-ac", "1"}, wav.Format{Encoding: wav.Uint8, Channels: 1, SampleRate: 44100}, 1.0 / 256},
		{"s16 stereo", []string{"-c:a", "pcm_s16le", "-ac", "2"}, wav.Format{Encoding: wav.Int16, Channels: 2, SampleRate: 44100}, 1.0 / 65536},
		{"s24 stereo", []string{"-c:a", "pcm_s24le", "-ac", "2"}, wav.Format{Encoding: wav.Int24, Channels: 2, SampleRate: 44100}, 1e-6},
		{"s32 mono", []string{"-c:a", "pcm_s32le", "-ac", "1"}, wav.Format{Encoding: wav.Int32, Channels: 1, SampleRate: 44100}, 1e-6},
		{"f32 5.1 extensible", []string{"-c:a", "pcm_f32le", "-ac", "6"}, wav.Format{Encoding: wav.Float32, Channels: 6, SampleRate: 44100}, 0},
		{"f64 mono", []string{"-c:a", "pcm_f64le", "-ac", "1"}, wav.Format{Encoding: wav.Float64, Channels: 1, SampleRate: 44100}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.wav")
			args := append([]string{"-v", "error", "-y", "-f", "lavfi", "-i", src}, tc.args...)
			out, err := exec.Command(ffmpeg, append(args, path)...).CombinedOutput()
			require.NoError(t, err, "%s", out)
			raw, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-f", "f32le", "-c:a", "pcm_f32le", "-").Output()
			require.NoError(t, err)
			want := make([]float32, len(raw)/4)
			require.NoError(t, binary.Read(bytes.NewReader(raw), binary.LittleEndian, want))

			r, err := wav.Open(path)
			require.NoError(t, err)
			defer func() { require.NoError(t, r.Close()) }()
			require.Equal(t, tc.format, r.Format())
			got := readAll(t, r, 999*tc.format.Channels)
			require.Len(t, got, len(want))
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > tc.tolerance {
					t.Fatalf("sample %d: got %v, FFmpeg %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestFFmpegReadsOurFiles decodes every format the writer produces with the
// FFmpeg CLI (skipped when ffmpeg is not on PATH) and expects the samples
// back exactly: they lie on the 8-bit grid every encoding represents.
func TestFFmpegReadsOurFiles(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH")
	}
	for _, tc := range formatCases {
		t.Run(tc.name, func(t *testing.T) {
			in := testSamples(301, tc.format.Channels)
			path := filepath.Join(t.TempDir(), "out.wav")
			w, err := wav.Create(path, tc.format)
			require.NoError(t, err)
			require.NoError(t, w.WriteFloat32(in))
			require.NoError(t, w.Close())
			var stream bytes.Buffer // the same through a stream writer, piped
			sw, err := wav.NewStreamWriter(&stream, tc.format)
			require.NoError(t, err)
			require.NoError(t, sw.WriteFloat32(in))
			require.NoError(t, sw.Close())
			for _, input := range []string{path, "pipe:0"} {
				cmd := exec.Command(ffmpeg, "-v", "error", "-i", input, "-f", "f32le", "-c:a", "pcm_f32le", "-")
				cmd.Stdin = bytes.NewReader(stream.Bytes())
				raw, err := cmd.Output()
				require.NoError(t, err, input)
				got := make([]float32, len(raw)/4)
				require.NoError(t, binary.Read(bytes.NewReader(raw), binary.LittleEndian, got))
				require.Equal(t, in, got, input)
			}
		})
	}
}

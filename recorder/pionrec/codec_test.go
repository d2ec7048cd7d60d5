package pionrec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder"
)

func TestOpusDuration(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
		want time.Duration
	}{
		{"empty", nil, 0},
		{"silk 10 ms", []byte{0 << 3}, 10 * time.Millisecond},
		{"silk 20 ms", []byte{1 << 3}, 20 * time.Millisecond},
		{"silk 60 ms x2", []byte{3<<3 | 1}, 120 * time.Millisecond},
		{"hybrid 20 ms", []byte{13 << 3}, 20 * time.Millisecond},
		{"celt 2.5 ms", []byte{16 << 3}, 2500 * time.Microsecond},
		{"celt 20 ms x2 vbr", []byte{31<<3 | 2}, 40 * time.Millisecond},
		{"code 3, 48 x 2.5 ms", []byte{16<<3 | 3, 48}, 120 * time.Millisecond},
		{"code 3, too long", []byte{16<<3 | 3, 49}, 0},
		{"code 3, no count", []byte{16<<3 | 3}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, opusDuration(tc.pkt))
		})
	}
}

func TestCodecFor(t *testing.T) {
	for mime, want := range map[string]recorder.Codec{
		"video/VP8": recorder.VP8, "video/vp9": recorder.VP9, "video/H264": recorder.H264, "audio/opus": recorder.Opus,
		"video/AV1": recorder.AV1,
	} {
		got, depack, err := codecFor(mime)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.NotNil(t, depack)
	}
	_, _, err := codecFor("audio/PCMU")
	require.ErrorIs(t, err, ErrUnsupportedCodec)
}

package mkv_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/recorder/internal/mkv"
)

// TestAV1 checks that AV1 temporal units are stored with an av1C built
// from the sequence header; this FFmpeg build has no AV1 encoder or
// software decoder, so the check stops at demuxing.
func TestAV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "av1.mkv")
	seq := avtest.AV1SequenceHeader(640, 360)
	w, err := mkv.Create(path, mkv.Params{Codec: mkv.AV1, Width: 640, Height: 360, Extradata: seq})
	require.NoError(t, err)
	td := []byte{0x12, 0x00}
	frame := []byte{0x32, 0x03, 0x10, 0x00, 0x00} // OBU_FRAME with a dummy payload
	for i := range 5 {
		tu := append(append([]byte{}, td...), frame...)
		if i == 0 {
			tu = append(append(append([]byte{}, td...), seq...), frame...)
		}
		require.NoError(t, w.WritePacket(tu, time.Duration(i)*33*time.Millisecond, 0, i == 0))
	}
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close is idempotent")
	pts, codec, err := avtest.Demux(path)
	require.NoError(t, err)
	assert.Equal(t, "av1", codec)
	assert.Equal(t, []time.Duration{0, 33 * time.Millisecond, 66 * time.Millisecond, 99 * time.Millisecond, 132 * time.Millisecond}, pts)
}

func TestErrors(t *testing.T) {
	_, err := mkv.Create(filepath.Join(t.TempDir(), "x.mkv"), mkv.Params{})
	assert.ErrorIs(t, err, mkv.ErrCodec)
	_, err = mkv.Create(filepath.Join(t.TempDir(), "missing", "x.mkv"), mkv.Params{Codec: mkv.VP8, Width: 64, Height: 48})
	assert.Error(t, err)
	w, err := mkv.Create(filepath.Join(t.TempDir(), "x.mkv"), mkv.Params{Codec: mkv.VP8, Width: 64, Height: 48})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	assert.ErrorIs(t, w.WritePacket([]byte{1}, 0, 0, true), mkv.ErrClosed)
	assert.ErrorIs(t, w.Flush(), mkv.ErrClosed)
}

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

// headerSize returns the picture size the file's Matroska header gives.
func headerSize(t *testing.T, path string) avtest.Size {
	t.Helper()
	sz, err := avtest.HeaderSize(path)
	require.NoError(t, err)
	return sz
}

// TestResizeHeader records real libvpx VP9 (and VP8) whose pictures grow
// from 320x180 to 640x360 and back to 320x180, as a VP9 sender with
// spatial layers or a resizing camera sends: the header, written with the
// first size, gives the largest after Close, and every packet still
// decodes at its own size.
func TestResizeHeader(t *testing.T) {
	avtest.Quiet()
	for _, tc := range []struct {
		name    string
		encoder string
		codec   mkv.Codec
	}{
		{"vp9", avtest.LibVPXVP9, mkv.VP9},
		{"vp8", avtest.LibVPX, mkv.VP8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.name+".mkv")
			w, err := mkv.Create(path, mkv.Params{Codec: tc.codec, Width: 320, Height: 180})
			require.NoError(t, err)
			sizes := []avtest.Size{{W: 320, H: 180}, {W: 640, H: 360}, {W: 320, H: 180}}
			var pts time.Duration
			for _, sz := range sizes {
				enc, err := avtest.NewVideo(tc.encoder, sz.W, sz.H, 30, 300, 0)
				require.NoError(t, err)
				w.Resize(sz.W, sz.H)
				for range 10 {
					pkts, err := enc.Next()
					require.NoError(t, err)
					for _, p := range pkts {
						require.NoError(t, w.WritePacket(p.Data, pts, 33*time.Millisecond, p.Key))
						pts += 33 * time.Millisecond
					}
				}
				enc.Close()
			}
			require.Equal(t, avtest.Size{W: 320, H: 180}, headerSize(t, path), "before Close the header has the first size")
			require.NoError(t, w.Close())
			require.Equal(t, avtest.Size{W: 640, H: 360}, headerSize(t, path), "header after Close")
			rep, err := avtest.Probe(path)
			require.NoError(t, err)
			require.Zero(t, rep.DecodeErrors)
			require.Equal(t, 30, rep.Frames)
			require.Equal(t, sizes, rep.Sizes)
			require.Len(t, rep.PacketPTS, 30)
		})
	}
}

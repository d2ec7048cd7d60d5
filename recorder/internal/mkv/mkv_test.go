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

// bitWriter builds bitstreams MSB first.
type bitWriter struct {
	b []byte
	n int
}

func (w *bitWriter) put(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>i&1 == 1 {
			w.b[len(w.b)-1] |= 1 << (7 - w.n%8)
		}
		w.n++
	}
}

// av1SequenceHeader builds a sequence header OBU (AV1 spec 5.5) for a
// 8-bit 4:2:0 main profile stream of at most width x height.
func av1SequenceHeader(width, height int) []byte {
	w := &bitWriter{}
	w.put(0, 3)  // seq_profile
	w.put(0, 1)  // still_picture
	w.put(0, 1)  // reduced_still_picture_header
	w.put(0, 1)  // timing_info_present_flag
	w.put(0, 1)  // initial_display_delay_present_flag
	w.put(0, 5)  // operating_points_cnt_minus_1
	w.put(0, 12) // operating_point_idc[0]
	w.put(8, 5)  // seq_level_idx[0] (4.0)
	w.put(0, 1)  // seq_tier[0]
	w.put(15, 4) // frame_width_bits_minus_1
	w.put(15, 4) // frame_height_bits_minus_1
	w.put(uint32(width-1), 16)
	w.put(uint32(height-1), 16)
	w.put(0, 1) // frame_id_numbers_present_flag
	w.put(0, 7) // use_128x128_superblock .. enable_dual_filter
	w.put(0, 1) // enable_order_hint
	w.put(1, 1) // seq_choose_screen_content_tools
	w.put(1, 1) // seq_choose_integer_mv
	w.put(0, 3) // enable_superres, enable_cdef, enable_restoration
	w.put(0, 1) // high_bitdepth
	w.put(0, 1) // mono_chrome
	w.put(0, 1) // color_description_present_flag
	w.put(0, 1) // color_range
	w.put(0, 2) // chroma_sample_position
	w.put(0, 1) // separate_uv_delta_q
	w.put(0, 1) // film_grain_params_present
	w.put(1, 1) // trailing_one_bit
	for w.n%8 != 0 {
		w.put(0, 1)
	}
	return append([]byte{0x0a, byte(len(w.b))}, w.b...)
}

// TestAV1 checks that AV1 temporal units are stored with an av1C built
// from the sequence header; this FFmpeg build has no AV1 encoder or
// software decoder, so the check stops at demuxing.
func TestAV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "av1.mkv")
	seq := av1SequenceHeader(640, 360)
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

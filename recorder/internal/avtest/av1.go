package avtest

// BitWriter builds bitstreams MSB first, for codec headers in tests.
type BitWriter struct {
	b []byte
	n int
}

// Put appends the low bits bits of v.
func (w *BitWriter) Put(v uint32, bits int) *BitWriter {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>i&1 == 1 {
			w.b[len(w.b)-1] |= 1 << (7 - w.n%8)
		}
		w.n++
	}
	return w
}

// Bytes returns what was written, the last byte padded with zeros.
func (w *BitWriter) Bytes() []byte { return w.b }

// AV1SequenceHeader builds a sequence header OBU (AV1 spec 5.5) for a
// 8-bit 4:2:0 main profile stream of at most width x height.
func AV1SequenceHeader(width, height int) []byte {
	w := &BitWriter{}
	w.Put(0, 3)  // seq_profile
	w.Put(0, 1)  // still_picture
	w.Put(0, 1)  // reduced_still_picture_header
	w.Put(0, 1)  // timing_info_present_flag
	w.Put(0, 1)  // initial_display_delay_present_flag
	w.Put(0, 5)  // operating_points_cnt_minus_1
	w.Put(0, 12) // operating_point_idc[0]
	w.Put(8, 5)  // seq_level_idx[0] (4.0)
	w.Put(0, 1)  // seq_tier[0]
	w.Put(15, 4) // frame_width_bits_minus_1
	w.Put(15, 4) // frame_height_bits_minus_1
	w.Put(uint32(width-1), 16)
	w.Put(uint32(height-1), 16)
	w.Put(0, 1) // frame_id_numbers_present_flag
	w.Put(0, 7) // use_128x128_superblock .. enable_dual_filter
	w.Put(0, 1) // enable_order_hint
	w.Put(1, 1) // seq_choose_screen_content_tools
	w.Put(1, 1) // seq_choose_integer_mv
	w.Put(0, 3) // enable_superres, enable_cdef, enable_restoration
	w.Put(0, 1) // high_bitdepth
	w.Put(0, 1) // mono_chrome
	w.Put(0, 1) // color_description_present_flag
	w.Put(0, 1) // color_range
	w.Put(0, 2) // chroma_sample_position
	w.Put(0, 1) // separate_uv_delta_q
	w.Put(0, 1) // film_grain_params_present
	w.Put(1, 1) // trailing_one_bit
	for w.n%8 != 0 {
		w.Put(0, 1)
	}
	return append([]byte{0x0a, byte(len(w.b))}, w.b...)
}

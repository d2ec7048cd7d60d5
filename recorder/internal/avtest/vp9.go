package avtest

// VP9KeyHeader builds the start of a profile 0 VP9 keyframe of width x
// height (VP9 spec 6.2), enough for the recorder's header parsers; it does
// not decode.
func VP9KeyHeader(width, height int) []byte {
	w := &BitWriter{}
	w.Put(2, 2) // frame_marker
	w.Put(0, 2) // profile 0
	w.Put(0, 1) // show_existing_frame
	w.Put(0, 1) // KEY_FRAME
	w.Put(1, 1) // show_frame
	w.Put(0, 1) // error_resilient_mode
	w.Put(0x498342, 24)
	w.Put(0, 3) // color_space
	w.Put(0, 1) // color_range
	w.Put(uint32(width-1), 16)
	w.Put(uint32(height-1), 16)
	w.Put(0, 8)
	return w.Bytes()
}

// VP9InterHeader builds the start of a shown profile 0 VP9 inter frame that
// refreshes slot 0 and codes its size, width x height (0: it takes the size
// of its first reference, slot 0).
func VP9InterHeader(width, height int) []byte {
	w := &BitWriter{}
	w.Put(2, 2)
	w.Put(0, 2)
	w.Put(0, 1)
	w.Put(1, 1) // NON_KEY_FRAME
	w.Put(1, 1) // show_frame
	w.Put(0, 1) // error_resilient_mode
	w.Put(0, 2) // reset_frame_context
	w.Put(1, 8) // refresh_frame_flags: slot 0
	for range 3 {
		w.Put(0, 3) // ref_frame_idx: slot 0
		w.Put(0, 1) // ref_frame_sign_bias
	}
	if width == 0 {
		w.Put(1, 1) // found_ref
	} else {
		w.Put(0, 3) // no found_ref
		w.Put(uint32(width-1), 16)
		w.Put(uint32(height-1), 16)
	}
	w.Put(0, 8)
	return w.Bytes()
}

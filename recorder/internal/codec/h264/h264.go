// Package h264 reads the few things the recorder needs from an H.264
// access unit in Annex-B format (ITU-T H.264 annex B): whether it holds an
// IDR picture, its parameter sets, and the picture size and frame
// reordering (B-frames) its SPS announces.
package h264

import "github.com/roomtape/roomtape/recorder/internal/codec/bits"

// NAL unit types (H.264 table 7-1).
const (
	naluIDR = 5
	naluSPS = 7
	naluPPS = 8
)

// startCode prefixes every NAL unit written by ParamSets.
var startCode = []byte{0, 0, 0, 1}

// NALUs splits an Annex-B byte stream into NAL units without start codes.
// Bytes before the first start code are ignored; empty units are skipped.
func NALUs(au []byte) [][]byte {
	var out [][]byte
	start := -1
	i := 0
	for i+2 < len(au) {
		if au[i] == 0 && au[i+1] == 0 && au[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && au[end-1] == 0 { // trailing zeros of a 4-byte start code
					end--
				}
				if end > start {
					out = append(out, au[start:end])
				}
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(au) {
		out = append(out, au[start:])
	}
	return out
}

// IsKeyframe reports whether au holds an IDR slice.
func IsKeyframe(au []byte) bool {
	for _, n := range NALUs(au) {
		if n[0]&0x1f == naluIDR {
			return true
		}
	}
	return false
}

// ParamSets returns the SPS and PPS NAL units of au in Annex-B format
// (start-code prefixed, SPS first), or nil unless au holds both.
func ParamSets(au []byte) []byte {
	var sps, pps [][]byte
	for _, n := range NALUs(au) {
		switch n[0] & 0x1f {
		case naluSPS:
			sps = append(sps, n)
		case naluPPS:
			pps = append(pps, n)
		}
	}
	if len(sps) == 0 || len(pps) == 0 {
		return nil
	}
	var out []byte
	for _, n := range append(sps, pps...) {
		out = append(out, startCode...)
		out = append(out, n...)
	}
	return out
}

// Size returns the cropped picture size given by the first SPS of au; ok
// is false if au has no SPS or it cannot be parsed.
func Size(au []byte) (width, height int, ok bool) {
	for _, n := range NALUs(au) {
		if n[0]&0x1f == naluSPS {
			return spsSize(unescape(n[1:]))
		}
	}
	return 0, 0, false
}

// unescape removes emulation prevention bytes (00 00 03 -> 00 00).
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// bitReader reads an RBSP; after a read past the end err is set and reads
// return 0.
type bitReader struct{ bits.Reader }

func (r *bitReader) u(n int) uint32 { return r.U(n) }

// maxLeadingZeros bounds Exp-Golomb codes to 32-bit values.
const maxLeadingZeros = 31

func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.u(1) == 0 {
		if r.Err || zeros == maxLeadingZeros {
			r.Err = true
			return 0
		}
		zeros++
	}
	return 1<<zeros - 1 + r.u(zeros)
}

func (r *bitReader) se() int32 {
	v := r.ue()
	if v&1 == 1 {
		return int32(v/2 + 1)
	}
	return -int32(v / 2)
}

// highProfile reports whether profile_idc carries chroma_format_idc and
// scaling lists in its SPS (H.264 7.3.2.1.1).
func highProfile(p uint32) bool {
	switch p {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// maxMBs bounds the picture size in macroblocks to reject garbage.
const maxMBs = 1024

// sps is what the recorder reads of a sequence parameter set.
type sps struct {
	width, height int
	// reorder is the most frames that precede a frame in decode order and
	// follow it in output order (max_num_reorder_frames), and reorderKnown
	// whether the SPS says (bitstream_restriction) or the profile implies
	// it (0 for Baseline and intra profiles).
	reorder      int
	reorderKnown bool
}

// spsSize parses seq_parameter_set_data (H.264 7.3.2.1.1) up to the frame
// cropping fields.
func spsSize(rbsp []byte) (width, height int, ok bool) {
	s, ok := parseSPS(rbsp)
	return s.width, s.height, ok
}

// parseSPS parses seq_parameter_set_data (H.264 7.3.2.1.1) and its VUI
// (annex E.1.1) up to max_num_reorder_frames; ok is false if the size
// cannot be read. A VUI cut short leaves reorderKnown false.
func parseSPS(rbsp []byte) (s sps, ok bool) {
	r := &bitReader{bits.Reader{B: rbsp}}
	profile := r.u(8)
	constraints := r.u(8)
	r.u(8) // level_idc
	r.ue() // seq_parameter_set_id
	chroma := uint32(1)
	if highProfile(profile) {
		chroma = r.ue()
		if chroma == 3 {
			r.u(1) // separate_colour_plane_flag
		}
		r.ue()                     // bit_depth_luma_minus8
		r.ue()                     // bit_depth_chroma_minus8
		r.u(1)                     // qpprime_y_zero_transform_bypass_flag
		if r.u(1) == 1 && !r.Err { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := 0; i < lists && !r.Err; i++ {
				if r.u(1) == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(r, size)
				}
			}
		}
	}
	r.ue() // log2_max_frame_num_minus4
	switch r.ue() {
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.u(1) // delta_pic_order_always_zero_flag
		r.se() // offset_for_non_ref_pic
		r.se() // offset_for_top_to_bottom_field
		n := r.ue()
		for i := uint32(0); i < n && !r.Err; i++ {
			r.se()
		}
	}
	r.ue() // max_num_ref_frames
	r.u(1) // gaps_in_frame_num_value_allowed_flag
	wMBs := r.ue() + 1
	hMaps := r.ue() + 1
	frameMBsOnly := r.u(1)
	if frameMBsOnly == 0 {
		r.u(1) // mb_adaptive_frame_field_flag
	}
	r.u(1) // direct_8x8_inference_flag
	var cl, cr, ct, cb uint32
	if r.u(1) == 1 {
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.Err || wMBs > maxMBs || hMaps > maxMBs || chroma > 3 {
		return s, false
	}
	subW, subH := uint32(2), uint32(2)
	switch chroma {
	case 0, 3:
		subW, subH = 1, 1
	case 2:
		subH = 1
	}
	unitX, unitY := subW, subH*(2-frameMBsOnly)
	w := int64(wMBs)*16 - (int64(cl)+int64(cr))*int64(unitX)
	h := int64(2-frameMBsOnly)*int64(hMaps)*16 - (int64(ct)+int64(cb))*int64(unitY)
	if w <= 0 || h <= 0 {
		return s, false
	}
	s.width, s.height = int(w), int(h)
	// Baseline (and Constrained Baseline) has no B slices; the intra
	// profiles (constraint_set3 with High 10/4:2:2/4:4:4, CAVLC 4:4:4)
	// reorder nothing.
	if profile == 66 || profile == 44 || (constraints&0x10 != 0 && (profile == 110 || profile == 122 || profile == 244)) {
		s.reorderKnown = true
	}
	if r.u(1) == 1 { // vui_parameters_present_flag
		if n, ok := vuiReorder(r); ok {
			s.reorder, s.reorderKnown = n, true
		}
	}
	return s, true
}

// maxReorder bounds max_num_reorder_frames (max_dec_frame_buffering is at
// most 16).
const maxReorder = 16

// vuiReorder reads vui_parameters (H.264 E.1.1) up to
// max_num_reorder_frames; ok is false without bitstream_restriction or if
// the VUI is cut short.
func vuiReorder(r *bitReader) (int, bool) {
	if r.u(1) == 1 { // aspect_ratio_info_present_flag
		if r.u(8) == 255 { // Extended_SAR
			r.u(32) // sar_width, sar_height
		}
	}
	if r.u(1) == 1 { // overscan_info_present_flag
		r.u(1) // overscan_appropriate_flag
	}
	if r.u(1) == 1 { // video_signal_type_present_flag
		r.u(4)           // video_format, video_full_range_flag
		if r.u(1) == 1 { // colour_description_present_flag
			r.u(24)
		}
	}
	if r.u(1) == 1 { // chroma_loc_info_present_flag
		r.ue()
		r.ue()
	}
	if r.u(1) == 1 { // timing_info_present_flag
		r.u(32) // num_units_in_tick
		r.u(32) // time_scale
		r.u(1)  // fixed_frame_rate_flag
	}
	nalHRD := r.u(1) == 1
	if nalHRD {
		skipHRD(r)
	}
	vclHRD := r.u(1) == 1
	if vclHRD {
		skipHRD(r)
	}
	if nalHRD || vclHRD {
		r.u(1) // low_delay_hrd_flag
	}
	r.u(1)           // pic_struct_present_flag
	if r.u(1) == 0 { // bitstream_restriction_flag
		return 0, false
	}
	r.u(1) // motion_vectors_over_pic_boundaries_flag
	r.ue() // max_bytes_per_pic_denom
	r.ue() // max_bits_per_mb_denom
	r.ue() // log2_max_mv_length_horizontal
	r.ue() // log2_max_mv_length_vertical
	n := r.ue()
	if r.Err || n > maxReorder {
		return 0, false
	}
	return int(n), true
}

// skipHRD reads past hrd_parameters (H.264 E.1.2).
func skipHRD(r *bitReader) {
	cpbCnt := r.ue() + 1
	r.u(8) // bit_rate_scale, cpb_size_scale
	for i := uint32(0); i < cpbCnt && i < 32 && !r.Err; i++ {
		r.ue() // bit_rate_value_minus1
		r.ue() // cpb_size_value_minus1
		r.u(1) // cbr_flag
	}
	r.u(20) // initial_cpb_removal_delay_length_minus1 .. time_offset_length
}

// Reorder returns how many frames a frame of the stream may be output
// after (max_num_reorder_frames, 0 for a stream without B-frames), from
// the first SPS of au. ok is false if au has no SPS or the SPS does not
// say; a stream of a profile with B-frames whose SPS does not say may
// reorder up to 16 frames.
func Reorder(au []byte) (n int, ok bool) {
	for _, nal := range NALUs(au) {
		if nal[0]&0x1f == naluSPS {
			s, valid := parseSPS(unescape(nal[1:]))
			if !valid || !s.reorderKnown {
				return 0, false
			}
			return s.reorder, true
		}
	}
	return 0, false
}

// skipScalingList reads past scaling_list() (H.264 7.3.2.1.1.1).
func skipScalingList(r *bitReader, size int) {
	last, next := int32(8), int32(8)
	for j := 0; j < size && !r.Err; j++ {
		if next != 0 {
			next = (last + r.se() + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}

// Package av1 reads AV1 temporal units in low-overhead format (AV1
// bitstream specification, section 5.3): the sequence header OBU, which
// Matroska needs in its CodecPrivate (av1C), the picture size it
// announces, and whether a temporal unit starts with a key frame.
package av1

import "github.com/roomtape/roomtape/recorder/internal/codec/bits"

// obuSequenceHeader is obu_type for a sequence header.
const obuSequenceHeader = 1

// maxLEB128Bytes is the longest leb128 the specification allows.
const maxLEB128Bytes = 8

// leb128 decodes an unsigned LEB128 value; n is 0 if b is truncated.
func leb128(b []byte) (v uint64, n int) {
	for i := 0; i < maxLEB128Bytes && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// SequenceHeader returns the first sequence header OBU of tu (in
// low-overhead format, with or without obu_size fields), or nil.
func SequenceHeader(tu []byte) []byte {
	for len(tu) > 0 {
		hdr := tu[0]
		if hdr&0x80 != 0 { // forbidden bit
			return nil
		}
		typ := hdr >> 3 & 0x0f
		hlen := 1
		if hdr&0x04 != 0 { // extension flag
			hlen++
		}
		if len(tu) < hlen {
			return nil
		}
		end := len(tu)
		if hdr&0x02 != 0 { // has size field
			size, n := leb128(tu[hlen:])
			if n == 0 || size > uint64(len(tu)-hlen-n) {
				return nil
			}
			end = hlen + n + int(size)
		}
		if typ == obuSequenceHeader {
			return tu[:end]
		}
		tu = tu[end:]
	}
	return nil
}

// OBU types (section 6.2.2).
const (
	obuFrameHeader = 3
	obuFrame       = 6
)

// bitReader reads a bitstream MSB first.
type bitReader struct{ bits.Reader }

// read returns the next n (at most 32) bits.
func (r *bitReader) read(n int) uint32 { return r.U(n) }

// uvlc reads a variable length unsigned number (section 4.10.3).
func (r *bitReader) uvlc() {
	zeros := 0
	for !r.Err && r.read(1) == 0 {
		zeros++
		if zeros >= 32 {
			r.Err = true
			return
		}
	}
	r.read(zeros)
}

// obus calls f with the type and payload of each OBU of tu (low-overhead
// format) until f returns false; it stops at a malformed OBU.
func obus(tu []byte, f func(typ byte, payload []byte) bool) {
	for len(tu) > 0 {
		hdr := tu[0]
		if hdr&0x80 != 0 {
			return
		}
		hlen := 1
		if hdr&0x04 != 0 {
			hlen++
		}
		if len(tu) < hlen {
			return
		}
		start, end := hlen, len(tu)
		if hdr&0x02 != 0 {
			size, n := leb128(tu[hlen:])
			if n == 0 || size > uint64(len(tu)-hlen-n) {
				return
			}
			start, end = hlen+n, hlen+n+int(size)
		}
		if !f(hdr>>3&0x0f, tu[start:end]) {
			return
		}
		tu = tu[end:]
	}
}

// seqHeader is what the decoder-facing checks need of a sequence header.
type seqHeader struct {
	reducedStill  bool
	width, height int
}

// parseSequenceHeader reads a sequence header OBU's payload up to
// max_frame_height_minus_1 (section 5.5.1).
func parseSequenceHeader(b []byte) (seqHeader, bool) {
	r := &bitReader{bits.Reader{B: b}}
	var sh seqHeader
	r.read(3) // seq_profile
	r.read(1) // still_picture
	sh.reducedStill = r.read(1) == 1
	if sh.reducedStill {
		r.read(5) // seq_level_idx[0]
	} else {
		decoderModel := false
		bufferDelayLen := 0
		if r.read(1) == 1 { // timing_info_present_flag
			r.read(32)          // num_units_in_display_tick
			r.read(32)          // time_scale
			if r.read(1) == 1 { // equal_picture_interval
				r.uvlc()
			}
			if r.read(1) == 1 { // decoder_model_info_present_flag
				decoderModel = true
				bufferDelayLen = int(r.read(5)) + 1
				r.read(32) // num_units_in_decoding_tick
				r.read(5)  // buffer_removal_time_length_minus_1
				r.read(5)  // frame_presentation_time_length_minus_1
			}
		}
		initialDisplayDelay := r.read(1) == 1
		ops := int(r.read(5)) + 1
		for range ops {
			r.read(12) // operating_point_idc
			if r.read(5) > 7 {
				r.read(1) // seq_tier
			}
			if decoderModel && r.read(1) == 1 {
				r.read(bufferDelayLen) // decoder_buffer_delay
				r.read(bufferDelayLen) // encoder_buffer_delay
				r.read(1)              // low_delay_mode_flag
			}
			if initialDisplayDelay && r.read(1) == 1 {
				r.read(4)
			}
			if r.Err {
				return sh, false
			}
		}
	}
	wbits := int(r.read(4)) + 1
	hbits := int(r.read(4)) + 1
	sh.width = int(r.read(wbits)) + 1
	sh.height = int(r.read(hbits)) + 1
	return sh, !r.Err
}

// Size returns the maximum picture size that the first sequence header of
// tu announces (max_frame_width_minus_1 + 1 and the height likewise),
// which real-time encoders code every frame at; ok is false if tu holds
// no valid sequence header.
func Size(tu []byte) (width, height int, ok bool) {
	obus(tu, func(typ byte, payload []byte) bool {
		if typ != obuSequenceHeader {
			return true
		}
		var sh seqHeader
		sh, ok = parseSequenceHeader(payload)
		width, height = sh.width, sh.height
		return false
	})
	if !ok {
		return 0, 0, false
	}
	return width, height, true
}

// IsKeyframe reports whether tu starts a decodable sequence: it holds a
// sequence header followed by a frame (header) OBU of a shown key frame
// (show_existing_frame 0, frame_type KEY_FRAME, section 5.9.2), or of any
// frame of a reduced still picture header.
func IsKeyframe(tu []byte) bool {
	var sh seqHeader
	haveSeq, key := false, false
	obus(tu, func(typ byte, payload []byte) bool {
		switch typ {
		case obuSequenceHeader:
			var ok bool
			sh, ok = parseSequenceHeader(payload)
			haveSeq = ok
		case obuFrame, obuFrameHeader:
			if !haveSeq {
				return false
			}
			if sh.reducedStill {
				key = true
				return false
			}
			r := &bitReader{bits.Reader{B: payload}}
			showExisting := r.read(1)
			frameType := r.read(2)
			key = !r.Err && showExisting == 0 && frameType == 0
			return false
		}
		return true
	})
	return key
}

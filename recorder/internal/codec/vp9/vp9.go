// Package vp9 reads the start of a VP9 uncompressed frame header (VP9
// bitstream specification, section 6.2): whether a frame is a keyframe and
// its picture size.
package vp9

// keyframeSyncCode is frame_sync_code (section 7.2).
const keyframeSyncCode = 0x498342

// csRGB is the color_space value for RGB (section 7.2.2).
const csRGB = 7

type bitReader struct {
	b   []byte
	pos int // in bits
}

func (r *bitReader) read(n int) (uint32, bool) {
	var v uint32
	for range n {
		if r.pos >= len(r.b)*8 {
			return 0, false
		}
		v = v<<1 | uint32(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v, true
}

// parse returns the keyframe flag and, for keyframes, the size; ok is
// false if the header is not a valid VP9 frame start.
func parse(frame []byte) (key bool, width, height int, ok bool) {
	r := &bitReader{b: frame}
	marker, ok1 := r.read(2)
	lo, ok2 := r.read(1)
	hi, ok3 := r.read(1)
	if !ok1 || !ok2 || !ok3 || marker != 2 {
		return false, 0, 0, false
	}
	profile := hi<<1 | lo
	if profile == 3 {
		if _, ok := r.read(1); !ok {
			return false, 0, 0, false
		}
	}
	showExisting, ok4 := r.read(1)
	if !ok4 || showExisting == 1 {
		return false, 0, 0, ok4
	}
	frameType, ok5 := r.read(1)
	if !ok5 || frameType != 0 {
		return false, 0, 0, ok5
	}
	if _, ok := r.read(2); !ok { // show_frame, error_resilient_mode
		return false, 0, 0, false
	}
	if sync, ok := r.read(24); !ok || sync != keyframeSyncCode {
		return false, 0, 0, false
	}
	if profile >= 2 {
		if _, ok := r.read(1); !ok { // ten_or_twelve_bit
			return false, 0, 0, false
		}
	}
	cs, ok6 := r.read(3)
	if !ok6 {
		return false, 0, 0, false
	}
	skip := 0
	if cs != csRGB {
		skip = 1 // color_range
		if profile == 1 || profile == 3 {
			skip += 3 // subsampling_x, subsampling_y, reserved_zero
		}
	} else if profile == 1 || profile == 3 {
		skip = 1 // reserved_zero
	}
	if skip > 0 {
		if _, ok := r.read(skip); !ok {
			return false, 0, 0, false
		}
	}
	w, ok7 := r.read(16)
	h, ok8 := r.read(16)
	if !ok7 || !ok8 {
		return true, 0, 0, false
	}
	return true, int(w) + 1, int(h) + 1, true
}

// IsKeyframe reports whether frame (or the first frame of a superframe) is
// a VP9 keyframe.
func IsKeyframe(frame []byte) bool {
	key, _, _, ok := parse(frame)
	return key && ok
}

// Size returns the picture size of a keyframe; ok is false for other
// frames.
func Size(frame []byte) (width, height int, ok bool) {
	key, w, h, ok := parse(frame)
	return w, h, key && ok
}

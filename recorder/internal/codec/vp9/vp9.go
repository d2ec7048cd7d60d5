// Package vp9 reads the start of VP9 uncompressed frame headers (VP9
// bitstream specification, section 6.2): whether a frame is a keyframe and
// its picture size. A keyframe carries its size; an inter frame carries
// one too, or takes that of a reference frame, which [Sizer] follows.
package vp9

import "github.com/roomtape/roomtape/recorder/internal/codec/bits"

// keyframeSyncCode is frame_sync_code (section 7.2).
const keyframeSyncCode = 0x498342

// csRGB is the color_space value for RGB (section 7.2.2).
const csRGB = 7

// numRefFrames is NUM_REF_FRAMES, the reference slots.
const numRefFrames = 8

// refsPerFrame is REFS_PER_FRAME, the references an inter frame uses.
const refsPerFrame = 3

// header is what this package reads of an uncompressed header.
type header struct {
	key bool
	// showExisting: the frame only shows reference slot showIdx.
	showExisting bool
	showIdx      int
	// refresh is refresh_frame_flags: the slots this frame's size goes to.
	refresh uint32
	// sizeFromRef is the reference slot whose size the frame takes, or -1
	// when width and height are coded.
	sizeFromRef   int
	width, height int
}

// colorConfig skips color_config (section 6.2.2).
func colorConfig(r *bits.Reader, profile uint32) {
	if profile >= 2 {
		r.U(1) // ten_or_twelve_bit
	}
	cs := r.U(3)
	switch {
	case cs != csRGB:
		r.U(1) // color_range
		if profile == 1 || profile == 3 {
			r.U(3) // subsampling_x, subsampling_y, reserved_zero
		}
	case profile == 1 || profile == 3:
		r.U(1) // reserved_zero
	}
}

// frameSize reads frame_size (section 6.2.5).
func frameSize(r *bits.Reader, h *header) {
	h.width = int(r.U(16)) + 1
	h.height = int(r.U(16)) + 1
}

// parse reads frame's uncompressed header up to its size; ok is false if
// frame does not start with a valid one.
func parse(frame []byte) (h header, ok bool) {
	r := &bits.Reader{B: frame}
	h.sizeFromRef = -1
	if r.U(2) != 2 { // frame_marker
		return h, false
	}
	lo := r.U(1)
	profile := r.U(1)<<1 | lo
	if profile == 3 {
		r.U(1) // reserved_zero
	}
	if r.Flag() { // show_existing_frame
		h.showExisting = true
		h.showIdx = int(r.U(3))
		return h, !r.Err
	}
	frameType := r.U(1)
	showFrame := r.Flag()
	errorResilient := r.Flag()
	if frameType == 0 { // KEY_FRAME
		if r.U(24) != keyframeSyncCode {
			return h, false
		}
		colorConfig(r, profile)
		frameSize(r, &h)
		h.key, h.refresh = true, 1<<numRefFrames-1
		return h, !r.Err
	}
	intraOnly := !showFrame && r.Flag()
	if !errorResilient {
		r.U(2) // reset_frame_context
	}
	if intraOnly {
		if r.U(24) != keyframeSyncCode {
			return h, false
		}
		if profile > 0 {
			colorConfig(r, profile)
		}
		h.refresh = r.U(numRefFrames)
		frameSize(r, &h)
		return h, !r.Err
	}
	h.refresh = r.U(numRefFrames)
	var refIdx [refsPerFrame]int
	for i := range refIdx {
		refIdx[i] = int(r.U(3))
		r.U(1) // ref_frame_sign_bias
	}
	for i := range refIdx { // frame_size_with_refs (section 6.2.6)
		if r.Flag() {
			h.sizeFromRef = refIdx[i]
			break
		}
	}
	if h.sizeFromRef < 0 {
		frameSize(r, &h)
	}
	return h, !r.Err
}

// IsKeyframe reports whether frame (or the first frame of a superframe) is
// a VP9 keyframe.
func IsKeyframe(frame []byte) bool {
	h, ok := parse(frame)
	return ok && h.key
}

// Size returns the picture size of a keyframe; ok is false for other
// frames.
func Size(frame []byte) (width, height int, ok bool) {
	h, ok := parse(frame)
	if !ok || !h.key {
		return 0, 0, false
	}
	return h.width, h.height, true
}

// Frames splits a superframe (Annex B) into its frames; any other data is
// one frame.
func Frames(data []byte) [][]byte {
	if len(data) == 0 {
		return nil
	}
	marker := data[len(data)-1]
	if marker&0xe0 != 0xc0 {
		return [][]byte{data}
	}
	n := int(marker&0x07) + 1
	mag := int(marker>>3&0x03) + 1
	idx := 2 + mag*n
	if len(data) < idx || data[len(data)-idx] != marker {
		return [][]byte{data}
	}
	sizes := data[len(data)-idx+1:]
	body := data[:len(data)-idx]
	out := make([][]byte, 0, n)
	for i := range n {
		size := 0
		for b := range mag {
			size |= int(sizes[i*mag+b]) << (8 * b)
		}
		if size > len(body) {
			return [][]byte{data}
		}
		out = append(out, body[:size])
		body = body[size:]
	}
	return out
}

// Sizer follows the picture size of a VP9 stream frame by frame: the size
// of each reference slot, set by keyframes and refreshed by every frame,
// so that an inter frame that changes the size (as spatial layers and
// dynamic resizing do) or takes a reference's is known. The zero value is
// ready; it is not safe for concurrent use.
type Sizer struct {
	refs  [numRefFrames][2]int
	known bool // a keyframe was seen: refs hold sizes
}

// Next takes the next frame (or superframe) of the stream and returns the
// size of the last frame in it that is shown or coded; ok is false when
// the size is not known (no keyframe yet, or no valid header).
func (s *Sizer) Next(data []byte) (width, height int, ok bool) {
	for _, f := range Frames(data) {
		h, valid := parse(f)
		if !valid {
			continue
		}
		if h.key {
			s.known = true
		}
		if !s.known {
			continue
		}
		w, ht := h.width, h.height
		switch {
		case h.showExisting:
			w, ht = s.refs[h.showIdx][0], s.refs[h.showIdx][1]
		case h.sizeFromRef >= 0:
			w, ht = s.refs[h.sizeFromRef][0], s.refs[h.sizeFromRef][1]
		}
		if w <= 0 || ht <= 0 {
			continue
		}
		for i := range numRefFrames {
			if h.refresh>>i&1 == 1 { // bit i refreshes slot i (section 8.10)
				s.refs[i] = [2]int{w, ht}
			}
		}
		width, height, ok = w, ht, true
	}
	return width, height, ok
}

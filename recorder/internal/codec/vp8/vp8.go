// Package vp8 reads the few fields of a VP8 frame (RFC 6386) the recorder
// needs: whether it is a keyframe and its picture size.
package vp8

import "encoding/binary"

// IsKeyframe reports whether frame is a VP8 keyframe (RFC 6386 section
// 9.1: bit 0 of the frame tag is 0 and the start code follows).
func IsKeyframe(frame []byte) bool {
	return len(frame) >= 10 && frame[0]&1 == 0 &&
		frame[3] == 0x9d && frame[4] == 0x01 && frame[5] == 0x2a
}

// Size returns the picture size of a keyframe; ok is false for other
// frames or a zero size.
func Size(frame []byte) (width, height int, ok bool) {
	if !IsKeyframe(frame) {
		return 0, 0, false
	}
	width = int(binary.LittleEndian.Uint16(frame[6:8]) & 0x3fff)
	height = int(binary.LittleEndian.Uint16(frame[8:10]) & 0x3fff)
	return width, height, width > 0 && height > 0
}

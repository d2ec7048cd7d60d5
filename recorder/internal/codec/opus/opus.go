// Package opus builds the OpusHead identification header (RFC 7845
// section 5.1) that Matroska stores as an Opus track's CodecPrivate.
package opus

import "encoding/binary"

// SampleRate is Opus's RTP clock and decoding rate in WebRTC.
const SampleRate = 48000

// Head returns an OpusHead for channels (1 or 2) with channel mapping
// family 0 and a pre-skip of zero: the recorder stores packets taken from
// the middle of a stream, whose first samples must not be discarded.
func Head(channels int) []byte {
	h := make([]byte, 19)
	copy(h, "OpusHead")
	h[8] = 1 // version
	h[9] = byte(channels)
	binary.LittleEndian.PutUint16(h[10:], 0) // pre-skip
	binary.LittleEndian.PutUint32(h[12:], SampleRate)
	binary.LittleEndian.PutUint16(h[16:], 0) // output gain
	h[18] = 0                                // mapping family
	return h
}

// Package red reads RTP payloads of the redundant audio format (RED, RFC
// 2198), which WebRTC uses to carry Opus with redundancy: it returns the
// primary encoding, the packet a receiver without RED would have got.
package red

import "errors"

// ErrMalformed is returned for a payload whose block headers do not fit.
var ErrMalformed = errors.New("red: malformed payload")

// Primary returns the primary block of a RED payload (a sub-slice of p)
// and its payload type. A RED payload is a list of block headers, 4 bytes
// each with the F bit set (F, 7-bit payload type, 14-bit timestamp
// offset, 10-bit length) and a final 1-byte header (F clear, payload
// type), then the redundant blocks in header order, then the primary
// block, which runs to the end.
func Primary(p []byte) (payload []byte, pt uint8, err error) {
	i, skip := 0, 0
	for {
		if i >= len(p) {
			return nil, 0, ErrMalformed
		}
		if p[i]&0x80 == 0 {
			pt = p[i] & 0x7f
			i++
			break
		}
		if i+4 > len(p) {
			return nil, 0, ErrMalformed
		}
		skip += int(p[i+2]&0x03)<<8 | int(p[i+3])
		i += 4
	}
	if i+skip > len(p) {
		return nil, 0, ErrMalformed
	}
	return p[i+skip:], pt, nil
}

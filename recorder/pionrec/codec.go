package pionrec

import (
	"fmt"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/roomtape/roomtape/recorder"
)

// codecFor maps a negotiated MIME type to the recorder's codec and a
// factory of depacketizers (one per frame, so that no state survives a
// frame given up).
func codecFor(mime string) (recorder.Codec, func() rtp.Depacketizer, error) {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		return recorder.VP8, func() rtp.Depacketizer { return &codecs.VP8Packet{} }, nil
	case strings.ToLower(webrtc.MimeTypeVP9):
		return recorder.VP9, func() rtp.Depacketizer { return &codecs.VP9Packet{} }, nil
	case strings.ToLower(webrtc.MimeTypeH264):
		return recorder.H264, func() rtp.Depacketizer { return &codecs.H264Packet{} }, nil
	case strings.ToLower(webrtc.MimeTypeAV1):
		// RTP payload format for AV1 (AOMedia): aggregated and
		// fragmented OBUs back to a low-overhead temporal unit.
		return recorder.AV1, func() rtp.Depacketizer { return &codecs.AV1Depacketizer{} }, nil
	case strings.ToLower(webrtc.MimeTypeOpus):
		return recorder.Opus, func() rtp.Depacketizer { return &codecs.OpusPacket{} }, nil
	default:
		return "", nil, fmt.Errorf("%w: %q", ErrUnsupportedCodec, mime)
	}
}

// opusDuration returns the duration of an Opus packet from its TOC byte
// (RFC 6716 3.1), 0 for a malformed packet.
func opusDuration(b []byte) time.Duration {
	if len(b) == 0 {
		return 0
	}
	toc := b[0]
	cfg := toc >> 3
	var frame time.Duration
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = [...]time.Duration{10, 20, 40, 60}[cfg%4] * time.Millisecond
	case cfg < 16: // Hybrid: 10, 20 ms
		frame = [...]time.Duration{10, 20}[cfg%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = [...]time.Duration{2500, 5000, 10000, 20000}[cfg%4] * time.Microsecond
	}
	n := 1
	switch toc & 0x03 {
	case 1, 2:
		n = 2
	case 3:
		if len(b) < 2 {
			return 0
		}
		n = int(b[1] & 0x3f)
	}
	d := frame * time.Duration(n)
	if d > 120*time.Millisecond {
		return 0
	}
	return d
}

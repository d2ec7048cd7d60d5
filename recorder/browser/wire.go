package browser

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/roomtape/roomtape/recorder"
)

// frameHeaderSize is the size of the header tap-worker.js puts before each
// frame's bytes.
const frameHeaderSize = 40

// frameVersion is the version byte of the frame header.
const frameVersion = 1

// errBadFrame is returned by parseFrame for a message that is not a frame.
var errBadFrame = errors.New("browser: malformed frame message")

// codecRED is the wire's codec id for RED (RFC 2198) audio, which the
// bridge unwraps to its primary Opus packet.
const codecRED = 6

// wireCodecs maps the wire's codec ids (tap-worker.js CODECS) to codecs.
var wireCodecs = map[uint8]recorder.Codec{1: recorder.VP8, 2: recorder.VP9, 3: recorder.H264, 4: recorder.AV1, 5: recorder.Opus, codecRED: recorder.Opus}

// frameMsg is one encoded frame shipped by the page.
type frameMsg struct {
	key      uint32
	keyframe bool
	codec    uint8 // wire codec id; 0 unknown
	rtp      uint32
	ssrc     uint32
	// received and captured are wall-clock instants (ms since the Unix
	// epoch on the wire); captured is zero without abs-capture-time.
	received, captured time.Time
	width, height      int
	payload            []byte // aliases the message
}

// maxWallMillis bounds the wire's wall-clock values (year ~2286).
const maxWallMillis = 1e13

// parseFrame decodes a binary message of tap-worker.js.
func parseFrame(b []byte) (frameMsg, error) {
	if len(b) < frameHeaderSize {
		return frameMsg{}, fmt.Errorf("%w: %d bytes", errBadFrame, len(b))
	}
	if b[0] != frameVersion {
		return frameMsg{}, fmt.Errorf("%w: version %d", errBadFrame, b[0])
	}
	le := binary.LittleEndian
	f := frameMsg{
		key:      le.Uint32(b[4:]),
		keyframe: b[1]&1 != 0,
		codec:    b[2],
		rtp:      le.Uint32(b[8:]),
		ssrc:     le.Uint32(b[12:]),
		width:    int(le.Uint16(b[32:])),
		height:   int(le.Uint16(b[34:])),
		payload:  b[frameHeaderSize:],
	}
	recv := math.Float64frombits(le.Uint64(b[16:]))
	if math.IsNaN(recv) || recv < 1 || recv > maxWallMillis {
		return frameMsg{}, fmt.Errorf("%w: receive time %v", errBadFrame, recv)
	}
	f.received = wallMillis(recv)
	if c := math.Float64frombits(le.Uint64(b[24:])); !math.IsNaN(c) && c >= 1 && c < maxWallMillis {
		f.captured = wallMillis(c)
	}
	return f, nil
}

// wallMillis converts milliseconds since the Unix epoch to a time.
func wallMillis(ms float64) time.Time {
	return time.UnixMicro(int64(math.Round(ms * 1000)))
}

// appendFrame encodes f as tap-worker.js does (for tests).
func appendFrame(b []byte, f frameMsg) []byte {
	h := make([]byte, frameHeaderSize)
	le := binary.LittleEndian
	h[0] = frameVersion
	if f.keyframe {
		h[1] = 1
	}
	h[2] = f.codec
	le.PutUint32(h[4:], f.key)
	le.PutUint32(h[8:], f.rtp)
	le.PutUint32(h[12:], f.ssrc)
	le.PutUint64(h[16:], math.Float64bits(float64(f.received.UnixMicro())/1000))
	c := math.NaN()
	if !f.captured.IsZero() {
		c = float64(f.captured.UnixMicro()) / 1000
	}
	le.PutUint64(h[24:], math.Float64bits(c))
	le.PutUint16(h[32:], uint16(f.width))
	le.PutUint16(h[34:], uint16(f.height))
	return append(append(b, h...), f.payload...)
}

// control is a JSON message of the page (bridge.js and the adapters): t
// says which; the other fields are set as each kind needs.
type control struct {
	T string `json:"t"`

	// participant, track, untappable, mute, published
	ID          string `json:"id"`
	Name        string `json:"name"`
	Present     bool   `json:"present"`
	Participant string `json:"participant"`
	Kind        string `json:"kind"`
	Source      string `json:"source"`
	Key         uint32 `json:"key"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Muted       bool   `json:"muted"`
	Layer       int    `json:"layer"`

	// roster
	IDs []string `json:"ids"`

	// hello
	SDK       string `json:"sdk"`
	Transform bool   `json:"transform"`

	// joined
	Room string `json:"room"`
	Self string `json:"self"`

	// ended, untappable, log, fatal
	Reason string `json:"reason"`
	Clean  bool   `json:"clean"`
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Error  string `json:"error"`
	What   string `json:"what"`

	// ping
	Taps int `json:"taps"`
	// worker's drop report
	Dropped int `json:"dropped"`
}

// command is a JSON message to the page.
type command struct {
	T           string `json:"t"`
	ID          string `json:"id,omitempty"`
	Participant string `json:"participant,omitempty"`
	Source      string `json:"source,omitempty"`
	Key         uint32 `json:"key,omitempty"`
	W           int    `json:"w,omitempty"`
	H           int    `json:"h,omitempty"`
}

package browser

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

var frameCases = []struct {
	name string
	f    frameMsg
}{
	{"video keyframe", frameMsg{
		key: 7, keyframe: true, codec: 1, rtp: 90000, ssrc: 0xdeadbeef,
		received: time.UnixMicro(1_700_000_000_123_456), width: 1280, height: 720, payload: []byte{1, 2, 3},
	}},
	{"audio with capture time", frameMsg{
		key: 1, keyframe: true, codec: 5, rtp: 0xffffffff, ssrc: 1,
		received: time.UnixMicro(1_700_000_000_000_000), captured: time.UnixMicro(1_699_999_999_950_000), payload: []byte{0xfc},
	}},
	{"empty payload", frameMsg{key: 2, codec: 3, received: time.UnixMicro(1_000)}},
}

func TestParseFrame(t *testing.T) {
	for _, c := range frameCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseFrame(appendFrame(nil, c.f))
			if err != nil {
				t.Fatal(err)
			}
			if got.key != c.f.key || got.keyframe != c.f.keyframe || got.codec != c.f.codec || got.rtp != c.f.rtp ||
				got.ssrc != c.f.ssrc || !got.received.Equal(c.f.received) || !got.captured.Equal(c.f.captured) ||
				got.width != c.f.width || got.height != c.f.height || !bytes.Equal(got.payload, c.f.payload) {
				t.Fatalf("parseFrame = %+v, want %+v", got, c.f)
			}
		})
	}
}

func TestParseFrameErrors(t *testing.T) {
	good := appendFrame(nil, frameCases[0].f)
	badVersion := append([]byte(nil), good...)
	badVersion[0] = 9
	noTime := appendFrame(nil, frameMsg{payload: []byte{1}})
	nanTime := append([]byte(nil), good...)
	copy(nanTime[16:24], appendFloat(math.NaN()))
	for name, b := range map[string][]byte{"short": good[:39], "version": badVersion, "zero time": noTime, "NaN time": nanTime} {
		if _, err := parseFrame(b); !errors.Is(err, errBadFrame) {
			t.Errorf("%s: error %v, want errBadFrame", name, err)
		}
	}
}

func appendFloat(f float64) []byte {
	b := make([]byte, 8)
	u := math.Float64bits(f)
	for i := range 8 {
		b[i] = byte(u >> (8 * i))
	}
	return b
}

// FuzzParseFrame: never panics; a parsed frame re-encodes to the same
// message, up to the header bytes the parser ignores.
func FuzzParseFrame(f *testing.F) {
	for _, c := range frameCases {
		f.Add(appendFrame(nil, c.f))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseFrame(b)
		if err != nil {
			return
		}
		if len(m.payload) != len(b)-frameHeaderSize {
			t.Fatalf("payload %d bytes of a %d-byte message", len(m.payload), len(b))
		}
		again, err := parseFrame(appendFrame(nil, m))
		if err != nil {
			t.Fatalf("re-encoded frame does not parse: %v", err)
		}
		if again.key != m.key || again.rtp != m.rtp || !bytes.Equal(again.payload, m.payload) {
			t.Fatalf("round trip %+v != %+v", again, m)
		}
	})
}

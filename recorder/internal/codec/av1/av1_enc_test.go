package av1_test

import (
	"testing"

	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/recorder/internal/codec/av1"
)

// TestEncoded checks keyframe detection and size on SVT-AV1's output: the
// first temporal unit and each forced keyframe are keyframes of the
// encoded size, the others are not keyframes.
func TestEncoded(t *testing.T) {
	avtest.Quiet()
	const w, h, frames, gop = 320, 240, 12, 6
	enc, err := avtest.NewVideo(avtest.LibSVTAV1, w, h, 30, gop, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var keys, n int
	for i := range frames {
		if i == gop {
			enc.ForceKeyframe()
		}
		pkts, err := enc.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			key := av1.IsKeyframe(p.Data)
			if key != p.Key {
				t.Errorf("packet %d: IsKeyframe = %v, encoder says %v", n, key, p.Key)
			}
			if key {
				keys++
				gw, gh, ok := av1.Size(p.Data)
				if !ok || gw != w || gh != h {
					t.Errorf("packet %d: Size = %dx%d %v, want %dx%d", n, gw, gh, ok, w, h)
				}
				if av1.SequenceHeader(p.Data) == nil {
					t.Errorf("packet %d: keyframe without sequence header", n)
				}
			}
			n++
		}
	}
	if n < frames/2 || keys < 2 {
		t.Fatalf("%d packets, %d keyframes: want at least %d and 2", n, keys, frames/2)
	}
}

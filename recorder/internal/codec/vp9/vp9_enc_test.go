package vp9_test

import (
	"testing"

	"github.com/roomtape/roomtape/recorder/internal/avtest"
	"github.com/roomtape/roomtape/recorder/internal/codec/vp9"
)

// TestSizerEncoded runs libvpx-vp9's output through a Sizer: every frame,
// key or inter, has a known size, the encoded one.
func TestSizerEncoded(t *testing.T) {
	avtest.Quiet()
	const w, h, frames = 320, 240, 30
	enc, err := avtest.NewVideo(avtest.LibVPXVP9, w, h, 30, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var s vp9.Sizer
	n, inter := 0, 0
	for range frames {
		pkts, err := enc.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			gw, gh, ok := s.Next(p.Data)
			if !ok || gw != w || gh != h {
				t.Errorf("frame %d (key %v): Next = %dx%d %v", n, p.Key, gw, gh, ok)
			}
			if !p.Key {
				inter++
			}
			n++
		}
	}
	if n != frames || inter < frames/2 {
		t.Fatalf("%d frames, %d inter frames", n, inter)
	}
}

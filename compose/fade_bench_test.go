package compose

import (
	"testing"

	"github.com/asticode/go-astiav"
)

// BenchmarkCrossFade is what Config.CrossFade costs per 1280x720 output
// frame: inside a fade (the frame copied, blended and written back) and
// outside one (a reference kept).
//
//	go test -run XXX -bench BenchmarkCrossFade ./compose
func BenchmarkCrossFade(b *testing.B) {
	frame := astiav.AllocFrame()
	defer frame.Free()
	frame.SetWidth(1280)
	frame.SetHeight(720)
	frame.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := frame.AllocBuffer(0); err != nil {
		b.Fatal(err)
	}
	if err := frame.ImageFillBlack(); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		frames int64
	}{{"fading", 1 << 40}, {"not-fading", 15}} {
		b.Run(c.name, func(b *testing.B) {
			f := fade{frames: c.frames}
			defer f.free()
			n := int64(0)
			frame.SetPts(n)
			if err := f.apply(frame); err != nil {
				b.Fatal(err)
			}
			if c.name == "fading" {
				f.begin(1)
			}
			for b.Loop() {
				n++
				cl := frame.Clone()
				cl.SetPts(n)
				if err := f.apply(cl); err != nil {
					b.Fatal(err)
				}
				cl.Free()
			}
		})
	}
}

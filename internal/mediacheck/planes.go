package mediacheck

import (
	"fmt"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/timeline"
)

// sampleStep is the pixel stride used when averaging a region: every other
// pixel of every other row. The regions checked are tiles of tens of
// thousands of pixels filled with a smooth pattern, so a quarter of them
// gives the same mean within a fraction of a level at a quarter of the cost
// (this runs under -race).
const sampleStep = 2

// converter turns decoded frames into 4:2:0 planes, converting other pixel
// formats with swscale.
type converter struct {
	sws *astiav.SoftwareScaleContext
	dst *astiav.Frame
}

func newConverter() *converter { return &converter{} }

func (c *converter) free() {
	if c.sws != nil {
		c.sws.Free()
	}
	if c.dst != nil {
		c.dst.Free()
	}
}

// yuvPlanes is a 4:2:0 picture copied out of a frame.
type yuvPlanes struct {
	w, h      int
	y, u, v   []byte
	fullRange bool
}

func (c *converter) planes(f *astiav.Frame) (*yuvPlanes, error) {
	src := f
	pf := f.PixelFormat()
	if pf != astiav.PixelFormatYuv420P && pf != astiav.PixelFormatYuvj420P {
		if c.sws == nil || c.sws.SourceWidth() != f.Width() || c.sws.SourceHeight() != f.Height() || c.sws.SourcePixelFormat() != pf {
			c.free()
			var err error
			c.sws, err = astiav.CreateSoftwareScaleContext(f.Width(), f.Height(), pf, f.Width(), f.Height(), astiav.PixelFormatYuv420P, astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBilinear))
			if err != nil {
				return nil, fmt.Errorf("converting %s to yuv420p: %w", pf, err)
			}
			c.dst = astiav.AllocFrame()
		}
		c.dst.Unref()
		if err := c.sws.ScaleFrame(f, c.dst); err != nil {
			return nil, fmt.Errorf("converting %s to yuv420p: %w", pf, err)
		}
		src = c.dst
	}
	b, err := src.Data().Bytes(1)
	if err != nil {
		return nil, fmt.Errorf("reading picture: %w", err)
	}
	w, h := src.Width(), src.Height()
	cw, ch := (w+1)/2, (h+1)/2
	if len(b) < w*h+2*cw*ch {
		return nil, fmt.Errorf("picture of %d bytes is too short for %dx%d", len(b), w, h)
	}
	return &yuvPlanes{
		w: w, h: h,
		y:         b[:w*h],
		u:         b[w*h : w*h+cw*ch],
		v:         b[w*h+cw*ch : w*h+2*cw*ch],
		fullRange: pf == astiav.PixelFormatYuvj420P || f.ColorRange() == astiav.ColorRangeJpeg,
	}, nil
}

// mean is the mean colour of r (clipped to the picture), converted from the
// mean Y, Cb and Cr with Rec. 601 coefficients. The conversion is affine, so
// the mean of converted pixels equals the converted mean except where
// pixels clip.
func (p *yuvPlanes) mean(r timeline.Rect) RGB {
	x0, y0 := max(r.X, 0), max(r.Y, 0)
	x1, y1 := min(r.X+r.W, p.w), min(r.Y+r.H, p.h)
	if x1 <= x0 || y1 <= y0 {
		return RGB{}
	}
	cw := (p.w + 1) / 2
	var sy, su, sv, n float64
	for y := y0; y < y1; y += sampleStep {
		row := p.y[y*p.w:]
		crow := (y / 2) * cw
		for x := x0; x < x1; x += sampleStep {
			sy += float64(row[x])
			su += float64(p.u[crow+x/2])
			sv += float64(p.v[crow+x/2])
			n++
		}
	}
	yy, cb, cr := sy/n, su/n-128, sv/n-128
	var c RGB
	if p.fullRange {
		c = RGB{R: yy + 1.402*cr, G: yy - 0.344136*cb - 0.714136*cr, B: yy + 1.772*cb}
	} else {
		yy = (yy - 16) * 255 / 219
		cb, cr = cb*255/224, cr*255/224
		c = RGB{R: yy + 1.402*cr, G: yy - 0.344136*cb - 0.714136*cr, B: yy + 1.772*cb}
	}
	return RGB{R: clamp255(c.R), G: clamp255(c.G), B: clamp255(c.B)}
}

func clamp255(v float64) float64 {
	return min(max(v, 0), 255)
}

// luma returns the sampled luma of r (clipped to the picture), the pixels
// mean averages, reusing buf.
func (p *yuvPlanes) luma(r timeline.Rect, buf []byte) []byte {
	buf = buf[:0]
	x0, y0 := max(r.X, 0), max(r.Y, 0)
	x1, y1 := min(r.X+r.W, p.w), min(r.Y+r.H, p.h)
	for y := y0; y < y1; y += sampleStep {
		row := p.y[y*p.w:]
		for x := x0; x < x1; x += sampleStep {
			buf = append(buf, row[x])
		}
	}
	return buf
}

// motion is the mean absolute difference between two luma samples of the
// same region, 0 when they do not match in size.
func motion(a, b []byte) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var s int
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		s += d
	}
	return float64(s) / float64(len(a))
}

package synth

import (
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/asticode/go-astiav"
)

// av1Encoder is the FFmpeg encoder the AV1 source uses.
const av1Encoder = "libsvtav1"

// av1Options make SVT-AV1 encode as a real-time sender does: its fastest
// preset, the low-delay prediction structure (no frame reordering, so each
// picture comes out as one temporal unit), no look-ahead, one thread.
var av1Options = map[string]string{
	"preset":        "12",
	"svtav1-params": "pred-struct=1:lookahead=0:lp=1",
}

// av1PacketTimeout bounds the wait for SVT-AV1's packet of a picture: the
// encoder works asynchronously and hands a packet out a few milliseconds
// after its picture even without reordering.
const av1PacketTimeout = 2 * time.Second

// av1PollInterval is how often the encoder is asked for that packet.
const av1PollInterval = time.Millisecond

// av1Video draws and encodes the participant's picture with SVT-AV1
// through FFmpeg, one temporal unit per picture. It is used from one
// goroutine (the publisher's video loop or EncodeClip).
type av1Video struct {
	p        Participant
	img      *image.YCbCr
	cc       *astiav.CodecContext
	pic      *astiav.Frame
	pkt      *astiav.Packet
	buf      []byte
	w, h     int
	keyEvery int
	sinceKey int
	forceKey bool
	// fed counts the pictures sent to the encoder, out the packets
	// taken from it (packet k is picture k: no reordering).
	fed, out int
}

// newAV1Video prepares the encoder for p's first picture size.
func newAV1Video(p Participant) (*av1Video, error) {
	v := &av1Video{p: p, keyEvery: p.KeyframeInterval}
	if err := v.open(p.Width, p.Height); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

// open creates the encoder for a w×h picture; its first picture is a
// keyframe.
func (v *av1Video) open(w, h int) error {
	c := astiav.FindEncoderByName(av1Encoder)
	if c == nil {
		return fmt.Errorf("synth: no %s encoder in this FFmpeg", av1Encoder)
	}
	v.cc = astiav.AllocCodecContext(c)
	v.cc.SetWidth(w)
	v.cc.SetHeight(h)
	v.cc.SetPixelFormat(astiav.PixelFormatYuv420P)
	v.cc.SetTimeBase(astiav.NewRational(1, v.p.FPS))
	v.cc.SetFramerate(astiav.NewRational(v.p.FPS, 1))
	v.cc.SetGopSize(v.keyEvery)
	v.cc.SetBitRate(int64(v.p.BitRate))
	opts := astiav.NewDictionary()
	defer opts.Free()
	for k, val := range av1Options {
		if err := opts.Set(k, val, 0); err != nil {
			return fmt.Errorf("synth: %s option %s: %w", av1Encoder, k, err)
		}
	}
	if err := v.cc.Open(c, opts); err != nil {
		return fmt.Errorf("synth: open %s %dx%d: %w", av1Encoder, w, h, err)
	}
	v.pic = astiav.AllocFrame()
	v.pic.SetWidth(w)
	v.pic.SetHeight(h)
	v.pic.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := v.pic.AllocBuffer(0); err != nil {
		return fmt.Errorf("synth: frame buffer: %w", err)
	}
	v.pkt = astiav.AllocPacket()
	v.w, v.h, v.sinceKey = w, h, 0
	return nil
}

// av1MaxAhead bounds how many pictures are encoded ahead of the one asked
// for: SVT-AV1 hands a picture's packet out once two more pictures went
// in, even in its low-delay structure.
const av1MaxAhead = 4

// frame returns the temporal unit of picture i. Pictures are encoded
// ahead, at their own content times, until picture i's packet comes out,
// so that each unit carries the picture of its instant; frames are asked
// for in order (the source is not skippable). forceKey makes the next
// picture encoded a keyframe.
func (v *av1Video) frame(i int, _ time.Duration, forceKey bool) ([]byte, bool, error) {
	if i != v.out {
		return nil, false, fmt.Errorf("synth: %s frame %d asked, %d next", av1Encoder, i, v.out)
	}
	v.forceKey = v.forceKey || forceKey
	deadline := time.Now().Add(av1PacketTimeout)
	for {
		err := v.cc.ReceivePacket(v.pkt)
		if err == nil {
			break
		}
		if !errors.Is(err, astiav.ErrEagain) {
			return nil, false, fmt.Errorf("synth: %s packet: %w", av1Encoder, err)
		}
		if v.fed-v.out < av1MaxAhead {
			if err := v.feed(); err != nil {
				return nil, false, err
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, false, fmt.Errorf("synth: %s: no packet for picture %d after %v", av1Encoder, i, av1PacketTimeout)
		}
		time.Sleep(av1PollInterval)
	}
	out := append([]byte(nil), v.pkt.Data()...)
	key := v.pkt.Flags().Has(astiav.PacketFlagKey)
	v.pkt.Unref()
	v.out++
	return out, key, nil
}

// feed encodes the next picture (v.fed) at its content time.
func (v *av1Video) feed() error {
	t := frameTime(v.fed, v.p.FPS)
	w, h := v.w, v.h
	v.img = Picture(v.img, v.p.Index, w, h, t)
	if v.p.Detail {
		AddDetail(v.img, t)
	}
	v.buf = v.buf[:0]
	for row := range h {
		v.buf = append(v.buf, v.img.Y[row*v.img.YStride:][:w]...)
	}
	cw, ch := (w+1)/2, (h+1)/2
	for _, plane := range [][]byte{v.img.Cb, v.img.Cr} {
		for row := range ch {
			v.buf = append(v.buf, plane[row*v.img.CStride:][:cw]...)
		}
	}
	if err := v.pic.MakeWritable(); err != nil {
		return fmt.Errorf("synth: frame: %w", err)
	}
	if err := v.pic.Data().SetBytes(v.buf, 1); err != nil {
		return fmt.Errorf("synth: frame data: %w", err)
	}
	key := v.sinceKey == 0 || v.sinceKey >= v.keyEvery || v.forceKey
	v.pic.SetPictureType(astiav.PictureTypeNone)
	if key {
		v.pic.SetPictureType(astiav.PictureTypeI)
		v.sinceKey, v.forceKey = 0, false
	}
	v.sinceKey++
	v.pic.SetPts(int64(v.fed))
	v.fed++
	if err := v.cc.SendFrame(v.pic); err != nil {
		return fmt.Errorf("synth: encode: %w", err)
	}
	return nil
}

// skippable: pictures are encoded ahead in order, so none may be skipped.
func (v *av1Video) skippable() bool { return false }

// close drains and releases the encoder.
func (v *av1Video) close() {
	if v.cc != nil && v.cc.SendFrame(nil) == nil {
		for v.cc.ReceivePacket(v.pkt) == nil {
			v.pkt.Unref()
		}
	}
	v.free()
}

// free releases the encoder's C objects.
func (v *av1Video) free() {
	if v.pkt != nil {
		v.pkt.Free()
		v.pkt = nil
	}
	if v.pic != nil {
		v.pic.Free()
		v.pic = nil
	}
	if v.cc != nil {
		v.cc.Free()
		v.cc = nil
	}
}

package synth

import (
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/asticode/go-astiav"
)

// ffEncoder is an FFmpeg encoder set up as a sender would use it.
type ffEncoder struct {
	name string
	opts map[string]string
	// profile (optional) is the codec profile to ask for.
	profile astiav.Profile
	// reorder is how many pictures a packet's picture may precede the
	// packet in decode order (B-frames), 0 without reordering.
	reorder int
	// maxAhead bounds how many pictures are encoded ahead of the packet
	// asked for.
	maxAhead int
}

// av1Encoder is SVT-AV1 as a real-time sender encodes: its fastest
// preset, the low-delay prediction structure (no frame reordering, so each
// picture comes out as one temporal unit), no look-ahead, one thread. It
// hands a picture's packet out once two more pictures went in.
var av1Encoder = ffEncoder{
	name:     "libsvtav1",
	opts:     map[string]string{"preset": "12", "svtav1-params": "pred-struct=1:lookahead=0:lp=1"},
	maxAhead: 4,
}

// h264BFramesEncoder is x264 in Main profile with two B-frames between
// reference frames and no pyramid, as OBS-style encoders send: packets
// come out in decode order (I0 P3 B1 B2 P6 ...).
var h264BFramesEncoder = ffEncoder{
	name:     "libx264",
	opts:     map[string]string{"preset": "ultrafast", "x264-params": "bframes=2:b-adapt=0:b-pyramid=none:scenecut=0:rc-lookahead=0:sync-lookahead=0:threads=1"},
	profile:  astiav.ProfileH264Main,
	reorder:  2,
	maxAhead: 8,
}

// ffPacketTimeout bounds the wait for an asynchronous encoder's packet.
const ffPacketTimeout = 2 * time.Second

// ffPollInterval is how often the encoder is asked for that packet.
const ffPollInterval = time.Millisecond

// ffVideo draws and encodes the participant's picture with an FFmpeg
// encoder (SVT-AV1, x264 with B-frames), one packet per picture in decode
// order. It is used from one goroutine (the publisher's video loop or
// EncodeClip).
type ffVideo struct {
	enc      ffEncoder
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
	// taken from it (in decode order); shown is the picture index of the
	// last packet taken.
	fed, out int
	shown    int
}

// newFFVideo prepares enc for p's first picture size.
func newFFVideo(p Participant, enc ffEncoder) (*ffVideo, error) {
	v := &ffVideo{enc: enc, p: p, keyEvery: p.KeyframeInterval}
	if err := v.open(p.Width, p.Height); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

// open creates the encoder for a w×h picture; its first picture is a
// keyframe.
func (v *ffVideo) open(w, h int) error {
	c := astiav.FindEncoderByName(v.enc.name)
	if c == nil {
		return fmt.Errorf("synth: no %s encoder in this FFmpeg", v.enc.name)
	}
	v.cc = astiav.AllocCodecContext(c)
	v.cc.SetWidth(w)
	v.cc.SetHeight(h)
	v.cc.SetPixelFormat(astiav.PixelFormatYuv420P)
	v.cc.SetTimeBase(astiav.NewRational(1, v.p.FPS))
	v.cc.SetFramerate(astiav.NewRational(v.p.FPS, 1))
	v.cc.SetGopSize(v.keyEvery)
	v.cc.SetBitRate(int64(v.p.BitRate))
	if v.enc.profile != 0 {
		v.cc.SetProfile(v.enc.profile)
	}
	opts := astiav.NewDictionary()
	defer opts.Free()
	for k, val := range v.enc.opts {
		if err := opts.Set(k, val, 0); err != nil {
			return fmt.Errorf("synth: %s option %s: %w", v.enc.name, k, err)
		}
	}
	if err := v.cc.Open(c, opts); err != nil {
		return fmt.Errorf("synth: open %s %dx%d: %w", v.enc.name, w, h, err)
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

// frame returns packet i in decode order (without reordering, the packet
// of picture i). Pictures are encoded ahead, at their own content times,
// until that packet comes out, so that each packet carries the picture of
// its instant (see presented); packets are asked for in order (the source
// is not skippable). forceKey makes the next picture encoded a keyframe.
func (v *ffVideo) frame(i int, _ time.Duration, forceKey bool) ([]byte, bool, error) {
	if i != v.out {
		return nil, false, fmt.Errorf("synth: %s frame %d asked, %d next", v.enc.name, i, v.out)
	}
	v.forceKey = v.forceKey || forceKey
	deadline := time.Now().Add(ffPacketTimeout)
	for {
		err := v.cc.ReceivePacket(v.pkt)
		if err == nil {
			break
		}
		if !errors.Is(err, astiav.ErrEagain) {
			return nil, false, fmt.Errorf("synth: %s packet: %w", v.enc.name, err)
		}
		if v.fed-v.out < v.enc.maxAhead {
			if err := v.feed(); err != nil {
				return nil, false, err
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, false, fmt.Errorf("synth: %s: no packet %d after %v", v.enc.name, i, ffPacketTimeout)
		}
		time.Sleep(ffPollInterval)
	}
	out := append([]byte(nil), v.pkt.Data()...)
	key := v.pkt.Flags().Has(astiav.PacketFlagKey)
	v.shown = int(v.pkt.Pts())
	v.pkt.Unref()
	v.out++
	return out, key, nil
}

// presented returns the picture index of the last packet frame returned:
// its content time is frameTime(presented(), fps).
func (v *ffVideo) presented() int { return v.shown }

// latency is how many frame periods after its decode slot a packet is
// sent, so that none leaves before its picture was captured (a B-frame
// encoder holds pictures back by its reorder depth).
func (v *ffVideo) latency() int { return v.enc.reorder }

// feed encodes the next picture (v.fed) at its content time.
func (v *ffVideo) feed() error {
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
func (v *ffVideo) skippable() bool { return false }

// close drains and releases the encoder.
func (v *ffVideo) close() {
	if v.cc != nil && v.cc.SendFrame(nil) == nil {
		for v.cc.ReceivePacket(v.pkt) == nil {
			v.pkt.Unref()
		}
	}
	v.free()
}

// free releases the encoder's C objects.
func (v *ffVideo) free() {
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

// Package avtest encodes real VP8, VP9, H.264 and Opus frames with FFmpeg
// for the recorder's tests, and decodes recorded files back to check them.
package avtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/asticode/go-astiav"
)

// Quiet limits FFmpeg's logging to errors, for tests' output.
func Quiet() { astiav.SetLogLevel(astiav.LogLevelError) }

// Packet is one encoded frame.
type Packet struct {
	Data []byte
	// PTS is the frame's time from the encoder's first frame.
	PTS time.Duration
	Key bool
}

// Encoder encodes generated pictures or tones.
type Encoder struct {
	cc    *astiav.CodecContext
	frame *astiav.Frame
	pkt   *astiav.Packet
	audio bool
	// video
	width, height, fps int
	// audio
	channels int
	freq     float64
	n        int64 // frames (or audio blocks) encoded
	buf      []byte
}

// Video encoders by name.
const (
	LibVPX    = "libvpx"
	LibVPXVP9 = "libvpx-vp9"
	LibX264   = "libx264"
	// LibSVTAV1 is SVT-AV1 in its low-delay prediction structure (no
	// frame reordering), as real-time AV1 senders encode.
	LibSVTAV1 = "libsvtav1"
	// LibX264BFrames is x264 (Main profile) with two B-frames between
	// reference frames, as OBS-style encoders send: packets come in
	// decode order with presentation times going back.
	LibX264BFrames = "libx264+bframes"
)

// OpusFrameSamples is the samples per channel of a 20 ms Opus frame.
const OpusFrameSamples = 960

// OpusFrameDuration is the duration of one encoded Opus frame.
const OpusFrameDuration = 20 * time.Millisecond

// NewVideo opens a low-latency video encoder (no frame delay, no B-frames)
// for width x height at fps frames per second with a keyframe every gop
// frames, at about bitRate bits per second (0: two bits per pixel per
// second). H.264 is Constrained Baseline in Annex-B with SPS and PPS before
// every IDR, as WebRTC senders do.
func NewVideo(name string, width, height, fps, gop int, bitRate int64) (*Encoder, error) {
	encoder := name
	if name == LibX264BFrames {
		encoder = LibX264
	}
	c := astiav.FindEncoderByName(encoder)
	if c == nil {
		return nil, fmt.Errorf("avtest: no encoder %s", name)
	}
	e := &Encoder{cc: astiav.AllocCodecContext(c), width: width, height: height, fps: fps}
	e.cc.SetWidth(width)
	e.cc.SetHeight(height)
	e.cc.SetPixelFormat(astiav.PixelFormatYuv420P)
	e.cc.SetTimeBase(astiav.NewRational(1, fps))
	e.cc.SetFramerate(astiav.NewRational(fps, 1))
	e.cc.SetGopSize(gop)
	if bitRate <= 0 {
		bitRate = int64(width * height * 2)
	}
	e.cc.SetBitRate(bitRate)
	opts := astiav.NewDictionary()
	defer opts.Free()
	var kv []string
	switch name {
	case LibX264:
		e.cc.SetProfile(astiav.ProfileH264ConstrainedBaseline)
		kv = []string{"preset", "ultrafast", "tune", "zerolatency", "profile", "baseline"}
	case LibVPX, LibVPXVP9:
		kv = []string{"deadline", "realtime", "cpu-used", "8", "lag-in-frames", "0"}
	case LibX264BFrames:
		e.cc.SetProfile(astiav.ProfileH264Main)
		kv = []string{"preset", "ultrafast", "profile", "main", "x264-params", "bframes=2:b-adapt=0:b-pyramid=none:scenecut=0"}
	case LibSVTAV1:
		kv = []string{"preset", "12", "svtav1-params", "pred-struct=1:lookahead=0:lp=1"}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := opts.Set(kv[i], kv[i+1], 0); err != nil {
			e.Close()
			return nil, fmt.Errorf("avtest: option %s: %w", kv[i], err)
		}
	}
	if err := e.cc.Open(c, opts); err != nil {
		e.Close()
		return nil, fmt.Errorf("avtest: open %s: %w", name, err)
	}
	e.frame = astiav.AllocFrame()
	e.frame.SetWidth(width)
	e.frame.SetHeight(height)
	e.frame.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := e.frame.AllocBuffer(0); err != nil {
		e.Close()
		return nil, fmt.Errorf("avtest: frame buffer: %w", err)
	}
	e.pkt = astiav.AllocPacket()
	e.buf = make([]byte, width*height*3/2)
	return e, nil
}

// NewOpus opens a libopus encoder at 48 kHz for channels (1 or 2) that
// encodes a sine tone of freq Hz in 20 ms frames.
func NewOpus(channels int, freq float64) (*Encoder, error) {
	c := astiav.FindEncoderByName("libopus")
	if c == nil {
		return nil, errors.New("avtest: no encoder libopus")
	}
	e := &Encoder{cc: astiav.AllocCodecContext(c), audio: true, channels: channels, freq: freq}
	layout := astiav.ChannelLayoutStereo
	if channels == 1 {
		layout = astiav.ChannelLayoutMono
	}
	e.cc.SetSampleRate(48000)
	e.cc.SetChannelLayout(layout)
	e.cc.SetSampleFormat(astiav.SampleFormatS16)
	e.cc.SetTimeBase(astiav.NewRational(1, 48000))
	e.cc.SetBitRate(64000)
	if err := e.cc.Open(c, nil); err != nil {
		e.Close()
		return nil, fmt.Errorf("avtest: open libopus: %w", err)
	}
	e.frame = astiav.AllocFrame()
	e.frame.SetNbSamples(OpusFrameSamples)
	e.frame.SetChannelLayout(layout)
	e.frame.SetSampleFormat(astiav.SampleFormatS16)
	e.frame.SetSampleRate(48000)
	if err := e.frame.AllocBuffer(0); err != nil {
		e.Close()
		return nil, fmt.Errorf("avtest: frame buffer: %w", err)
	}
	e.pkt = astiav.AllocPacket()
	e.buf = make([]byte, OpusFrameSamples*channels*2)
	return e, nil
}

// Close frees the encoder.
func (e *Encoder) Close() {
	if e.pkt != nil {
		e.pkt.Free()
	}
	if e.frame != nil {
		e.frame.Free()
	}
	if e.cc != nil {
		e.cc.Free()
	}
}

// Next encodes the next picture (whose luma is a ramp that moves with the
// frame number) or 20 ms of tone and returns the packets that came out. A
// video packet's PTS is its frame number over fps; an audio packet's is
// its block number times 20 ms.
func (e *Encoder) Next() ([]Packet, error) {
	if e.audio {
		e.fillTone()
	} else {
		e.fillPicture()
	}
	if err := e.frame.MakeWritable(); err != nil {
		return nil, fmt.Errorf("avtest: frame: %w", err)
	}
	if err := e.frame.Data().SetBytes(e.buf, 1); err != nil {
		return nil, fmt.Errorf("avtest: frame data: %w", err)
	}
	pts := e.n
	if e.audio {
		pts *= OpusFrameSamples
	}
	e.frame.SetPts(pts)
	e.n++
	if err := e.cc.SendFrame(e.frame); err != nil {
		return nil, fmt.Errorf("avtest: send frame: %w", err)
	}
	return e.receive()
}

// ForceKeyframe makes the next picture a keyframe.
func (e *Encoder) ForceKeyframe() {
	e.frame.SetPictureType(astiav.PictureTypeI)
}

func (e *Encoder) receive() ([]Packet, error) {
	var out []Packet
	for {
		if err := e.cc.ReceivePacket(e.pkt); err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				e.frame.SetPictureType(astiav.PictureTypeNone)
				return out, nil
			}
			return nil, fmt.Errorf("avtest: receive packet: %w", err)
		}
		p := Packet{Data: e.pkt.Data(), Key: e.pkt.Flags().Has(astiav.PacketFlagKey)}
		if e.audio {
			// libopus shifts pts by its pre-skip; number packets instead.
			p.PTS = time.Duration(e.n-1) * OpusFrameDuration
		} else {
			p.PTS = time.Duration(e.pkt.Pts()) * time.Second / time.Duration(e.fps)
		}
		e.pkt.Unref()
		out = append(out, p)
	}
}

func (e *Encoder) fillPicture() {
	ySize := e.width * e.height
	shift := int(e.n * 4)
	for y := range e.height {
		row := e.buf[y*e.width : (y+1)*e.width]
		for x := range row {
			row[x] = byte(16 + (x+y+shift)%200)
		}
	}
	for i := ySize; i < len(e.buf); i++ {
		e.buf[i] = 128
	}
}

func (e *Encoder) fillTone() {
	first := e.n * OpusFrameSamples
	for i := range OpusFrameSamples {
		v := int16(8000 * math.Sin(2*math.Pi*e.freq*float64(first+int64(i))/48000))
		for c := range e.channels {
			binary.LittleEndian.PutUint16(e.buf[(i*e.channels+c)*2:], uint16(v))
		}
	}
}

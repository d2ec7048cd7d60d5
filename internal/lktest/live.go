package lktest

import (
	"fmt"
	"image"
	"sync/atomic"
	"time"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/roomtape/roomtape/internal/synth"
)

// Live video parameters.
const (
	// FPS is the frame rate of published video: low enough for a loaded
	// test machine, high enough that a 100 ms flash spans two frames.
	FPS = 15
	// keyframeEvery is the regular keyframe interval in frames; PLIs force
	// keyframes in between, as a browser's encoder does.
	keyframeEvery = 2 * FPS
	// bitrateFor640 is the target bit rate of a 640x360 layer; smaller
	// layers get a share proportional to their area.
	bitrateFor640 = 600_000
)

// liveVideo draws and encodes one video layer of participant index in
// real time: synth's tinted picture, white for 100 ms every 2 s of
// participant-local time.
type liveVideo struct {
	index int
	w, h  int
	img   *image.YCbCr
	enc   codec.ReadCloser
	key   atomic.Bool // a keyframe was asked for (PLI)
}

func newLiveVideo(index, w, h int) (*liveVideo, error) {
	params, err := vpx.NewVP8Params()
	if err != nil {
		return nil, fmt.Errorf("lktest: vp8 params: %w", err)
	}
	params.KeyFrameInterval = keyframeEvery
	params.BitRate = bitrateFor640 * w * h / (640 * 360)
	params.RateControlEndUsage = vpx.RateControlVBR
	// No look-ahead: libvpx's default lag holds frames back, which puts
	// every picture (and its flash) frames after its send time.
	params.LagInFrames = 0
	v := &liveVideo{index: index, w: w, h: h}
	src := video.ReaderFunc(func() (image.Image, func(), error) { return v.img, func() {}, nil })
	v.img = synth.Picture(nil, index, w, h, 0)
	enc, err := params.BuildVideoEncoder(src, prop.Media{Video: prop.Video{
		Width: w, Height: h, FrameRate: FPS, FrameFormat: frame.FormatI420,
	}})
	if err != nil {
		return nil, fmt.Errorf("lktest: vp8 encoder %dx%d: %w", w, h, err)
	}
	v.enc = enc
	return v, nil
}

// frame encodes the picture at participant-local time t.
func (v *liveVideo) frame(t time.Duration) ([]byte, error) {
	v.img = synth.Picture(v.img, v.index, v.w, v.h, t)
	if v.key.Swap(false) {
		if kc, ok := v.enc.Controller().(codec.KeyFrameController); ok {
			_ = kc.ForceKeyFrame()
		}
	}
	data, release, err := v.enc.Read()
	if err != nil {
		return nil, fmt.Errorf("lktest: encode %dx%d: %w", v.w, v.h, err)
	}
	out := append([]byte(nil), data...)
	release()
	return out, nil
}

func (v *liveVideo) close() { _ = v.enc.Close() }

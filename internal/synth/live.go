package synth

import (
	"fmt"
	"image"
	"time"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/opus"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/codec/x264"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"
)

// liveVideo draws and encodes the participant's picture frame by frame.
type liveVideo struct {
	p        Participant
	offline  bool
	img      *image.YCbCr
	enc      codec.ReadCloser
	w, h     int
	keyEvery int
	sinceKey int
}

// offlineDeadline is libvpx's "good quality" deadline (VPX_DL_GOOD_QUALITY):
// in real-time mode libvpx lowers quality when the machine is busy, which
// would make a clip's bitrate depend on the load.
const offlineDeadline = time.Second

// newVideoSource returns the encoder of p's video codec: FFmpeg's for AV1
// (SVT-AV1) and H.264 with B-frames (x264), pion/mediadevices' otherwise.
func newVideoSource(p Participant, offline bool) (videoSource, error) {
	switch p.VideoCodec {
	case AV1:
		return newFFVideo(p, av1Encoder)
	case H264BFrames:
		return newFFVideo(p, h264BFramesEncoder)
	}
	return newLiveVideo(p, offline)
}

// newLiveVideo prepares the encoder for p's first picture size.
func newLiveVideo(p Participant, offline bool) (*liveVideo, error) {
	v := &liveVideo{p: p, offline: offline, keyEvery: p.KeyframeInterval}
	if err := v.open(p.Width, p.Height); err != nil {
		return nil, err
	}
	return v, nil
}

// videoEncoder returns the mediadevices encoder builder for p; offline
// encoding (a clip) trades speed for a steadier bitrate.
func videoEncoder(p Participant, offline bool) (codec.VideoEncoderBuilder, error) {
	base := codec.BaseParams{BitRate: p.BitRate, KeyFrameInterval: p.KeyframeInterval}
	if p.VideoCodec == H264 {
		params, err := x264.NewParams()
		if err != nil {
			return nil, fmt.Errorf("synth: x264 params: %w", err)
		}
		params.BaseParams = base
		params.Preset = x264.PresetUltrafast
		return &params, nil
	}
	if p.VideoCodec == VP9 {
		params, err := vpx.NewVP9Params()
		if err != nil {
			return nil, fmt.Errorf("synth: vp9 params: %w", err)
		}
		params.Params = vpxParams(params.Params, base, offline)
		return &params, nil
	}
	params, err := vpx.NewVP8Params()
	if err != nil {
		return nil, fmt.Errorf("synth: vp8 params: %w", err)
	}
	params.Params = vpxParams(params.Params, base, offline)
	return &params, nil
}

// vpxParams sets libvpx's bitrate, keyframe interval, rate control and
// deadline, and no look-ahead: libvpx's VP9 default holds 25 frames back,
// which would shift the picture 0.8 s after its RTP time.
func vpxParams(params vpx.Params, base codec.BaseParams, offline bool) vpx.Params {
	params.BaseParams = base
	params.RateControlEndUsage = vpx.RateControlCBR
	params.LagInFrames = 0
	if offline {
		params.Deadline = offlineDeadline
	}
	return params
}

// open (re)creates the encoder for a w×h picture; the first frame of a
// new encoder is a keyframe.
func (v *liveVideo) open(w, h int) error {
	if v.enc != nil {
		_ = v.enc.Close()
		v.enc = nil
	}
	b, err := videoEncoder(v.p, v.offline)
	if err != nil {
		return err
	}
	src := video.ReaderFunc(func() (image.Image, func(), error) { return v.img, func() {}, nil })
	enc, err := b.BuildVideoEncoder(src, prop.Media{Video: prop.Video{
		Width: w, Height: h, FrameRate: float32(v.p.FPS), FrameFormat: frame.FormatI420,
	}})
	if err != nil {
		return fmt.Errorf("synth: %s encoder %dx%d: %w", v.p.VideoCodec, w, h, err)
	}
	v.enc, v.w, v.h, v.sinceKey = enc, w, h, 0
	return nil
}

// frame encodes the picture at content time t.
func (v *liveVideo) frame(_ int, t time.Duration, forceKey bool) ([]byte, bool, error) {
	w, h := pictureSize(v.p, t)
	if w != v.w || h != v.h {
		if err := v.open(w, h); err != nil {
			return nil, false, err
		}
	}
	v.img = Picture(v.img, v.p.Index, w, h, t)
	if v.p.Detail {
		AddDetail(v.img, t)
	}
	key := v.sinceKey == 0 || v.sinceKey >= v.keyEvery
	if forceKey && !key {
		if kc, ok := v.enc.Controller().(codec.KeyFrameController); ok {
			if err := kc.ForceKeyFrame(); err == nil {
				key = true
			}
		}
	}
	data, release, err := v.enc.Read()
	if err != nil {
		return nil, false, fmt.Errorf("synth: encode: %w", err)
	}
	out := append([]byte(nil), data...)
	release()
	if key {
		v.sinceKey = 0
	}
	v.sinceKey++
	return out, key, nil
}

// skippable: a live source can skip content to catch up.
func (v *liveVideo) skippable() bool { return true }

// close releases the encoder.
func (v *liveVideo) close() {
	if v.enc != nil {
		_ = v.enc.Close()
	}
}

// liveAudio synthesises and encodes the participant's tone in 20 ms
// packets.
type liveAudio struct {
	enc  codec.ReadCloser
	next int
}

// newLiveAudio prepares a mono Opus encoder fed with Tone.
func newLiveAudio(p Participant) (*liveAudio, error) {
	params, err := opus.NewParams()
	if err != nil {
		return nil, fmt.Errorf("synth: opus params: %w", err)
	}
	params.BitRate = 32_000
	a := &liveAudio{}
	frameLen := int(audioFrame * SampleRate / time.Second)
	src := audio.ReaderFunc(func() (wave.Audio, func(), error) {
		chunk := wave.NewInt16Interleaved(wave.ChunkInfo{Len: frameLen, Channels: 1, SamplingRate: SampleRate})
		Tone(chunk.Data, p.Index, int64(a.next)*int64(frameLen), p.Talk...)
		a.next++
		return chunk, func() {}, nil
	})
	enc, err := params.BuildAudioEncoder(src, prop.Media{Audio: prop.Audio{SampleRate: SampleRate, ChannelCount: 1}})
	if err != nil {
		return nil, fmt.Errorf("synth: opus encoder: %w", err)
	}
	a.enc = enc
	return a, nil
}

// packet encodes packet k; packets must be asked for in order.
func (a *liveAudio) packet(k int) ([]byte, error) {
	if k != a.next {
		return nil, fmt.Errorf("synth: audio packet %d asked, %d next", k, a.next)
	}
	data, release, err := a.enc.Read()
	if err != nil {
		return nil, fmt.Errorf("synth: encode audio: %w", err)
	}
	out := append([]byte(nil), data...)
	if release != nil {
		release()
	}
	return out, nil
}

// close releases the encoder.
func (a *liveAudio) close() { _ = a.enc.Close() }

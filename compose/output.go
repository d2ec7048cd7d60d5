package compose

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/internal/avlog"
)

// fragmentDuration is the longest stretch of the progressive output held
// in memory: the muxer writes a fragment (moof + mdat) at least this often,
// so a file cut by a crash plays up to about this long before it.
const fragmentDuration = time.Second

// output is the progressive (fragmented) MP4 being written: H.264 video and
// AAC audio. Finalize turns it into the final faststart MP4.
type output struct {
	path   string
	fc     *astiav.FormatContext
	io     *astiav.IOContext
	vst    *astiav.Stream
	ast    *astiav.Stream
	venc   *astiav.CodecContext
	aenc   *astiav.CodecContext
	pkt    *astiav.Packet
	afr    *astiav.Frame
	abytes []byte
	header bool
	fan    *fanout // stream outputs fed the same packets; nil without
	logs   avlog.Set
}

func openOutput(path string, cfg Config) (_ *output, err error) {
	o := &output{path: path, pkt: astiav.AllocPacket(), afr: astiav.AllocFrame()}
	defer func() {
		if err != nil {
			o.free()
		}
	}()
	if o.fc, err = astiav.AllocOutputFormatContext(nil, "mp4", path); err != nil {
		return nil, fmt.Errorf("compose: allocating mp4 muxer: %w", err)
	}
	o.logs.Add(o.fc, cfg.Logger)
	global := o.fc.OutputFormat().Flags().Has(astiav.IOFormatFlagGlobalheader)

	// Video: libx264, yuv420p, constant frame rate.
	vc := astiav.FindEncoderByName("libx264")
	if vc == nil {
		return nil, errors.New("compose: this FFmpeg has no libx264 encoder")
	}
	o.venc = astiav.AllocCodecContext(vc)
	o.logs.Add(o.venc, cfg.Logger)
	o.venc.SetWidth(cfg.Width)
	o.venc.SetHeight(cfg.Height)
	o.venc.SetPixelFormat(astiav.PixelFormatYuv420P)
	o.venc.SetTimeBase(astiav.NewRational(1, cfg.FPS))
	o.venc.SetFramerate(astiav.NewRational(cfg.FPS, 1))
	o.venc.SetSampleAspectRatio(astiav.NewRational(1, 1))
	o.venc.SetThreadCount(cfg.Threads)
	if cfg.Streams.enabled() {
		o.venc.SetGopSize(streamGOP(cfg))
	}
	if global {
		o.venc.SetFlags(o.venc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	vopts := astiav.NewDictionary()
	defer vopts.Free()
	_ = vopts.Set("preset", cfg.Preset, astiav.NewDictionaryFlags())
	_ = vopts.Set("crf", strconv.Itoa(cfg.CRF), astiav.NewDictionaryFlags())
	if cfg.X264Params != "" {
		_ = vopts.Set("x264-params", cfg.X264Params, astiav.NewDictionaryFlags())
	}
	if err := o.venc.Open(vc, vopts); err != nil {
		return nil, fmt.Errorf("compose: opening libx264 (preset %s, crf %d, x264-params %q): %w", cfg.Preset, cfg.CRF, cfg.X264Params, err)
	}
	if o.vst = o.fc.NewStream(nil); o.vst == nil {
		return nil, errors.New("compose: creating video stream failed")
	}
	if err := o.vst.CodecParameters().FromCodecContext(o.venc); err != nil {
		return nil, fmt.Errorf("compose: video stream parameters: %w", err)
	}
	o.vst.SetTimeBase(o.venc.TimeBase())
	o.vst.SetAvgFrameRate(astiav.NewRational(cfg.FPS, 1))
	o.vst.SetRFrameRate(astiav.NewRational(cfg.FPS, 1))

	// Audio: AAC, 48 kHz stereo.
	ac := astiav.FindEncoder(astiav.CodecIDAac)
	if ac == nil {
		return nil, errors.New("compose: this FFmpeg has no AAC encoder")
	}
	o.aenc = astiav.AllocCodecContext(ac)
	o.logs.Add(o.aenc, cfg.Logger)
	o.aenc.SetSampleRate(SampleRate)
	o.aenc.SetChannelLayout(astiav.ChannelLayoutStereo)
	o.aenc.SetSampleFormat(astiav.SampleFormatFltp)
	o.aenc.SetBitRate(int64(cfg.AudioBitrate))
	o.aenc.SetTimeBase(astiav.NewRational(1, SampleRate))
	if global {
		o.aenc.SetFlags(o.aenc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	if err := o.aenc.Open(ac, nil); err != nil {
		return nil, fmt.Errorf("compose: opening AAC encoder: %w", err)
	}
	if o.ast = o.fc.NewStream(nil); o.ast == nil {
		return nil, errors.New("compose: creating audio stream failed")
	}
	if err := o.ast.CodecParameters().FromCodecContext(o.aenc); err != nil {
		return nil, fmt.Errorf("compose: audio stream parameters: %w", err)
	}
	o.ast.SetTimeBase(o.aenc.TimeBase())

	if o.io, err = astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite), nil, nil); err != nil {
		return nil, fmt.Errorf("compose: creating %s: %w", path, err)
	}
	o.fc.SetPb(o.io)
	// Fragmented MP4: every fragment is complete on its own and reaches
	// the file when it closes. The moov waits for the first fragment so
	// that it carries the edit list of the AAC encoder's priming samples
	// (audio starting before 0), as a plain MP4 would.
	o.fc.SetFlags(o.fc.Flags().Add(astiav.FormatContextFlagFlushPackets))
	mo := astiav.NewDictionary()
	defer mo.Free()
	_ = mo.Set("movflags", "+delay_moov+default_base_moof", astiav.NewDictionaryFlags())
	_ = mo.Set("frag_duration", strconv.FormatInt(fragmentDuration.Microseconds(), 10), astiav.NewDictionaryFlags())
	if err := o.fc.WriteHeader(mo); err != nil {
		return nil, fmt.Errorf("compose: writing mp4 header: %w", err)
	}
	o.header = true
	if cfg.Streams.enabled() {
		if o.fan, err = newFanout(cfg.Streams, cfg.FPS, o.venc, o.aenc, cfg.Logger); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// streamGOP is the keyframe interval in frames of a composition with
// streams: StreamKeyInterval, or the HLS segment length when shorter.
func streamGOP(cfg Config) int {
	d := StreamKeyInterval
	if cfg.Streams.HLS != "" {
		d = min(d, cfg.Streams.HLSSegment)
	}
	return max(1, int(d.Seconds()*float64(cfg.FPS)))
}

// audioFrameSize is the AAC encoder's frame size in sample frames.
func (o *output) audioFrameSize() int { return o.aenc.FrameSize() }

// writeVideo encodes f (nil flushes) with timestamp pts in 1/FPS.
func (o *output) writeVideo(f *astiav.Frame, pts int64) error {
	if f != nil {
		f.SetPts(pts)
		f.SetPictureType(astiav.PictureTypeNone)
	}
	return o.encode(o.venc, o.vst, f)
}

// writeAudio encodes interleaved stereo samples (nil flushes) starting at
// sample frame pts.
func (o *output) writeAudio(samples []float32, pts int64) error {
	if samples == nil {
		return o.encode(o.aenc, o.ast, nil)
	}
	n := len(samples) / 2
	defer o.afr.Unref()
	o.afr.SetNbSamples(n)
	o.afr.SetChannelLayout(astiav.ChannelLayoutStereo)
	o.afr.SetSampleFormat(astiav.SampleFormatFltp)
	o.afr.SetSampleRate(SampleRate)
	if err := o.afr.AllocBuffer(0); err != nil {
		return fmt.Errorf("compose: audio frame: %w", err)
	}
	if cap(o.abytes) < 8*n {
		o.abytes = make([]byte, 8*n)
	}
	b := o.abytes[:8*n]
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(samples[2*i]))
		binary.LittleEndian.PutUint32(b[4*(n+i):], math.Float32bits(samples[2*i+1]))
	}
	if err := o.afr.Data().SetBytes(b, 1); err != nil {
		return fmt.Errorf("compose: audio frame: %w", err)
	}
	o.afr.SetPts(pts)
	return o.encode(o.aenc, o.ast, o.afr)
}

func (o *output) encode(cc *astiav.CodecContext, st *astiav.Stream, f *astiav.Frame) error {
	if err := cc.SendFrame(f); err != nil {
		return fmt.Errorf("compose: encoding: %w", err)
	}
	for {
		err := cc.ReceivePacket(o.pkt)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("compose: encoding: %w", err)
		}
		err = func() error {
			defer o.pkt.Unref()
			if o.fan != nil {
				o.fan.send(o.pkt, cc == o.venc)
			}
			o.pkt.SetStreamIndex(st.Index())
			o.pkt.RescaleTs(cc.TimeBase(), st.TimeBase())
			return o.fc.WriteInterleavedFrame(o.pkt)
		}()
		if err != nil {
			return fmt.Errorf("compose: writing %s: %w", o.path, err)
		}
	}
}

// finish flushes the encoders and writes the trailer.
func (o *output) finish() error {
	if err := o.writeVideo(nil, 0); err != nil {
		return err
	}
	if err := o.writeAudio(nil, 0); err != nil {
		return err
	}
	if err := o.fc.WriteTrailer(); err != nil {
		return fmt.Errorf("compose: writing mp4 trailer: %w", err)
	}
	if o.fan != nil {
		o.fan.finish()
		o.fan = nil
	}
	return nil
}

func (o *output) free() {
	if o.fan != nil {
		o.fan.abort()
		o.fan.free()
	}
	if o.venc != nil {
		o.venc.Free()
	}
	if o.aenc != nil {
		o.aenc.Free()
	}
	if o.io != nil {
		_ = o.io.Close()
	}
	if o.fc != nil {
		o.fc.Free()
	}
	o.pkt.Free()
	o.afr.Free()
	o.logs.Release()
}

package testmedia

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/asticode/go-astiav"
)

// videoSpec is the container and encoder of a VideoFormat.
type videoSpec struct {
	ext, codec, encoder string
	muxer               string
}

var videoSpecs = map[VideoFormat]videoSpec{
	H264MP4: {ext: "mp4", codec: "h264", encoder: "libx264", muxer: "mp4"},
	H264MKV: {ext: "mkv", codec: "h264", encoder: "libx264", muxer: "matroska"},
	VP8WebM: {ext: "webm", codec: "vp8", encoder: "libvpx", muxer: "webm"},
	VP8MKV:  {ext: "mkv", codec: "vp8", encoder: "libvpx", muxer: "matroska"},
	VP9WebM: {ext: "webm", codec: "vp9", encoder: "libvpx-vp9", muxer: "webm"},
}

type audioSpec struct {
	ext, codec, encoder, muxer string
	sampleFormat               astiav.SampleFormat
	frameSize                  int
}

var audioSpecs = map[AudioFormat]audioSpec{
	WAV:      {ext: "wav", codec: "pcm_s16le", encoder: "pcm_s16le", muxer: "wav", sampleFormat: astiav.SampleFormatS16, frameSize: 1024},
	OpusOgg:  {ext: "ogg", codec: "opus", encoder: "libopus", muxer: "ogg", sampleFormat: astiav.SampleFormatS16, frameSize: 960},
	OpusMKV:  {ext: "mka", codec: "opus", encoder: "libopus", muxer: "matroska", sampleFormat: astiav.SampleFormatS16, frameSize: 960},
	OpusWebM: {ext: "webm", codec: "opus", encoder: "libopus", muxer: "webm", sampleFormat: astiav.SampleFormatS16, frameSize: 960},
}

// VideoFilter is the lavfi source graph of participant i's picture: the
// same filters as mksession.py (tinted testsrc2, white flash, irregular
// frame drops outside flashes unless cfr).
func VideoFilter(i, width, height int, dur time.Duration, cfr bool) string {
	t := Tints[i%len(Tints)]
	vf := fmt.Sprintf("testsrc2=s=%dx%d:r=%d:d=%g,"+
		"lutrgb=r='val*%g':g='val*%g':b='val*%g',"+
		"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,2)\\,0.1)'",
		width, height, FrameRate, dur.Seconds(), t[0], t[1], t[2])
	if !cfr {
		vf += ",select='gte(mod(t\\,2)\\,0.1)*not(eq(mod(n\\,7)\\,3))+lt(mod(t\\,2)\\,0.1)'"
	}
	return vf + ",format=yuv420p"
}

// AudioFilter is the lavfi source graph of participant i's sound: a 50 ms
// tone at its frequency every 2 s, silence elsewhere, and the tone at
// TalkAmplitude during the talk spans.
func AudioFilter(i int, dur time.Duration, talk ...Span) string {
	gate := ""
	for _, s := range talk {
		gate += fmt.Sprintf("+%g*between(t\\,%g\\,%g)", TalkAmplitude, s.From.Seconds(), s.To.Seconds())
	}
	return fmt.Sprintf("aevalsrc='sin(2*PI*%g*t)*(%g*lt(mod(t\\,2)\\,%g)%s)':s=%d:d=%g",
		Freqs[i%len(Freqs)], BeepAmplitude, BeepDuration.Seconds(), gate, SampleRate, dur.Seconds())
}

func writeVideo(dir string, i int, p Participant, dur time.Duration) (string, string, error) {
	spec, ok := videoSpecs[p.Video]
	if !ok {
		return "", "", fmt.Errorf("%w: %q: unknown video format %d", ErrBadParticipant, p.Name, p.Video)
	}
	if p.ResizeAt > 0 && spec.codec != "vp8" && spec.codec != "vp9" {
		return "", "", fmt.Errorf("%w: %q: a resolution change needs a VP8 or VP9 format", ErrBadParticipant, p.Name)
	}
	path := filepath.Join(dir, p.Name+"_video."+spec.ext)
	graph := VideoFilter(i, p.Width, p.Height, dur, p.CFR)
	if p.ResizeAt > 0 {
		// Scale the later part; scale re-evaluates its size per frame.
		graph += fmt.Sprintf(",scale=w='if(lt(t\\,%g)\\,%d\\,%d)':h='if(lt(t\\,%g)\\,%d\\,%d)':eval=frame",
			p.ResizeAt.Seconds(), p.Width, p.ResizeWidth, p.ResizeAt.Seconds(), p.Height, p.ResizeHeight)
	}
	w := &writer{path: path, muxer: spec.muxer}
	err := w.run(graph, func(f *astiav.Frame, tb astiav.Rational) error {
		return w.encodeVideo(f, tb, spec, p)
	})
	if err != nil {
		return "", "", fmt.Errorf("testmedia: %s video %s: %w", p.Name, path, err)
	}
	if p.TruncateVideo > 0 && p.TruncateVideo < 1 {
		st, err := os.Stat(path)
		if err != nil {
			return "", "", fmt.Errorf("testmedia: %w", err)
		}
		if err := os.Truncate(path, int64(float64(st.Size())*p.TruncateVideo)); err != nil {
			return "", "", fmt.Errorf("testmedia: %w", err)
		}
	}
	return path, spec.codec, nil
}

func writeAudio(dir string, i int, p Participant, dur time.Duration) (string, string, error) {
	spec, ok := audioSpecs[p.Audio]
	if !ok {
		return "", "", fmt.Errorf("%w: %q: unknown audio format %d", ErrBadParticipant, p.Name, p.Audio)
	}
	path := filepath.Join(dir, p.Name+"_audio."+spec.ext)
	// aevalsrc ends on a whole frame of samples: trim to the exact length.
	graph := AudioFilter(i, dur, p.Talk...) + fmt.Sprintf(",atrim=end_sample=%d,aformat=sample_fmts=%s:channel_layouts=mono,asetnsamples=n=%d:p=0",
		int64(dur.Seconds()*SampleRate+0.5), spec.sampleFormat.Name(), spec.frameSize)
	w := &writer{path: path, muxer: spec.muxer}
	err := w.run(graph, func(f *astiav.Frame, tb astiav.Rational) error {
		return w.encodeAudio(f, tb, spec, p)
	})
	if err != nil {
		return "", "", fmt.Errorf("testmedia: %s audio %s: %w", p.Name, path, err)
	}
	return path, spec.codec, nil
}

// writer runs a source-only filter graph into one encoder and one muxed
// stream.
type writer struct {
	path   string
	muxer  string
	fc     *astiav.FormatContext
	io     *astiav.IOContext
	st     *astiav.Stream
	cc     *astiav.CodecContext
	pkt    *astiav.Packet
	header bool
	// size of the open encoder, to reopen it on a resolution change.
	w, h int
}

// run pulls every frame of graph and hands it to encode, then flushes and
// finishes the file.
func (w *writer) run(graph string, encode func(*astiav.Frame, astiav.Rational) error) (err error) {
	fg := astiav.AllocFilterGraph()
	defer fg.Free()
	fg.SetThreadCount(1)
	isAudio := !isVideoGraph(graph)
	sinkName := "buffersink"
	if isAudio {
		sinkName = "abuffersink"
	}
	sink, err := fg.NewBuffersinkFilterContext(astiav.FindFilterByName(sinkName), "out")
	if err != nil {
		return fmt.Errorf("creating sink: %w", err)
	}
	in := astiav.AllocFilterInOut()
	defer in.Free()
	in.SetName("out")
	in.SetFilterContext(sink.FilterContext())
	in.SetPadIdx(0)
	in.SetNext(nil)
	if err := fg.Parse(graph, in, nil); err != nil {
		return fmt.Errorf("parsing %q: %w", graph, err)
	}
	if err := fg.Configure(); err != nil {
		return fmt.Errorf("configuring %q: %w", graph, err)
	}
	w.pkt = astiav.AllocPacket()
	defer w.pkt.Free()
	defer w.close()
	f := astiav.AllocFrame()
	defer f.Free()
	for {
		err := sink.GetFrame(f, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEof) {
			break
		}
		if err != nil {
			return fmt.Errorf("pulling frame: %w", err)
		}
		err = func() error {
			defer f.Unref()
			return encode(f, sink.TimeBase())
		}()
		if err != nil {
			return err
		}
	}
	if err := w.flush(); err != nil {
		return err
	}
	if !w.header {
		return errors.New("no frames")
	}
	if err := w.fc.WriteTrailer(); err != nil {
		return fmt.Errorf("writing trailer: %w", err)
	}
	return nil
}

func isVideoGraph(graph string) bool {
	return len(graph) > 8 && graph[:8] == "testsrc2"
}

// open prepares the muxer and a stream for an encoder.
func (w *writer) open(cc *astiav.CodecContext, codec *astiav.Codec, opts map[string]string) error {
	var err error
	if w.fc == nil {
		if w.fc, err = astiav.AllocOutputFormatContext(nil, w.muxer, w.path); err != nil {
			return fmt.Errorf("allocating muxer: %w", err)
		}
		if w.st = w.fc.NewStream(nil); w.st == nil {
			return errors.New("creating stream failed")
		}
	}
	if w.fc.OutputFormat().Flags().Has(astiav.IOFormatFlagGlobalheader) {
		cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	d := astiav.NewDictionary()
	defer d.Free()
	for k, v := range opts {
		if err := d.Set(k, v, astiav.NewDictionaryFlags()); err != nil {
			return fmt.Errorf("encoder option %s: %w", k, err)
		}
	}
	if err := cc.Open(codec, d); err != nil {
		return fmt.Errorf("opening encoder: %w", err)
	}
	if w.header {
		return nil
	}
	if err := w.st.CodecParameters().FromCodecContext(cc); err != nil {
		return fmt.Errorf("stream parameters: %w", err)
	}
	w.st.SetTimeBase(cc.TimeBase())
	if w.io, err = astiav.OpenIOContext(w.path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite), nil, nil); err != nil {
		return fmt.Errorf("creating file: %w", err)
	}
	w.fc.SetPb(w.io)
	mo := astiav.NewDictionary()
	defer mo.Free()
	if w.muxer == "mp4" {
		_ = mo.Set("video_track_timescale", "90000", astiav.NewDictionaryFlags())
	}
	if err := w.fc.WriteHeader(mo); err != nil {
		return fmt.Errorf("writing header: %w", err)
	}
	w.header = true
	return nil
}

func (w *writer) encodeVideo(f *astiav.Frame, tb astiav.Rational, spec videoSpec, p Participant) error {
	if w.cc != nil && (f.Width() != w.w || f.Height() != w.h) {
		// A resolution change: drain the encoder and start a new one; VP8
		// key frames carry their size, so decoders follow.
		if err := w.flush(); err != nil {
			return err
		}
		w.cc.Free()
		w.cc = nil
	}
	if w.cc == nil {
		c := astiav.FindEncoderByName(spec.encoder)
		if c == nil {
			return fmt.Errorf("no %s encoder in this FFmpeg", spec.encoder)
		}
		w.cc = astiav.AllocCodecContext(c)
		w.cc.SetWidth(f.Width())
		w.cc.SetHeight(f.Height())
		w.cc.SetPixelFormat(astiav.PixelFormatYuv420P)
		w.cc.SetTimeBase(astiav.NewRational(1, 90000))
		w.cc.SetFramerate(astiav.NewRational(FrameRate, 1))
		w.cc.SetGopSize(2 * FrameRate)
		w.cc.SetThreadCount(1)
		w.w, w.h = f.Width(), f.Height()
		opts := map[string]string{}
		if spec.encoder == "libx264" {
			opts["preset"] = "ultrafast"
			opts["crf"] = "23"
		} else {
			opts["deadline"] = "realtime"
			opts["cpu-used"] = "8"
			if spec.codec == "vp9" {
				opts["row-mt"] = "1"
			}
			opts["crf"] = "10"
			opts["b"] = "1M"
		}
		if err := w.open(w.cc, c, opts); err != nil {
			return err
		}
	}
	f.SetPts(astiav.RescaleQ(f.Pts(), tb, w.cc.TimeBase()) + astiav.RescaleQ(int64(p.StartOffset/time.Microsecond), astiav.NewRational(1, 1000000), w.cc.TimeBase()))
	f.SetPictureType(astiav.PictureTypeNone)
	return w.send(f)
}

func (w *writer) encodeAudio(f *astiav.Frame, tb astiav.Rational, spec audioSpec, p Participant) error {
	if w.cc == nil {
		c := astiav.FindEncoderByName(spec.encoder)
		if c == nil {
			return fmt.Errorf("no %s encoder in this FFmpeg", spec.encoder)
		}
		w.cc = astiav.AllocCodecContext(c)
		w.cc.SetSampleRate(SampleRate)
		w.cc.SetChannelLayout(astiav.ChannelLayoutMono)
		w.cc.SetSampleFormat(spec.sampleFormat)
		w.cc.SetTimeBase(astiav.NewRational(1, SampleRate))
		if err := w.open(w.cc, c, nil); err != nil {
			return err
		}
	}
	f.SetPts(astiav.RescaleQ(f.Pts(), tb, w.cc.TimeBase()) + astiav.RescaleQ(int64(p.StartOffset/time.Microsecond), astiav.NewRational(1, 1000000), w.cc.TimeBase()))
	return w.send(f)
}

// send encodes f (nil flushes) and writes the packets.
func (w *writer) send(f *astiav.Frame) error {
	if err := w.cc.SendFrame(f); err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	for {
		err := w.cc.ReceivePacket(w.pkt)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("encoding: %w", err)
		}
		err = func() error {
			defer w.pkt.Unref()
			w.pkt.SetStreamIndex(w.st.Index())
			w.pkt.RescaleTs(w.cc.TimeBase(), w.st.TimeBase())
			return w.fc.WriteInterleavedFrame(w.pkt)
		}()
		if err != nil {
			return fmt.Errorf("writing packet: %w", err)
		}
	}
}

func (w *writer) flush() error {
	if w.cc == nil {
		return nil
	}
	return w.send(nil)
}

func (w *writer) close() {
	if w.cc != nil {
		w.cc.Free()
	}
	if w.io != nil {
		_ = w.io.Close()
	}
	if w.fc != nil {
		w.fc.Free()
	}
}

package compose

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/internal/rtmptest"
)

// benchMedia is the length of media each benchmark iteration encodes.
const benchMedia = 10 * time.Second

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStreamOutputs encodes the same 10 s of moving 1280x720 picture
// and a tone through the composer's output with no stream output, with
// HLS, with an RTMP push to a local nginx-rtmp, and with both, side by
// side in one run: the difference in CPU per media second is what each
// output costs (the encode is shared). Reported as cpu-ms/media-s, with
// the packets each output dropped (none expected: the outputs keep up).
//
//	go test -run XXX -bench BenchmarkStreamOutputs -benchtime 1x -count 3 ./compose
func BenchmarkStreamOutputs(b *testing.B) {
	srv := rtmptest.Start(b)
	for _, c := range []struct {
		name string
		s    func(dir string) Streams
	}{
		{"none", func(string) Streams { return Streams{} }},
		// The encode a composition with streams makes (a keyframe every
		// StreamKeyInterval), without outputs: the baseline of the rows
		// below.
		{"none-gop2s", func(dir string) Streams { return Streams{HLS: filepath.Join(dir, "unused")} }},
		{"hls", func(dir string) Streams { return Streams{HLS: filepath.Join(dir, "hls")} }},
		{"rtmp", func(string) Streams { return Streams{RTMP: []string{srv.URL("bench")}} }},
		{"rtmp+hls", func(dir string) Streams {
			return Streams{RTMP: []string{srv.URL("bench2")}, HLS: filepath.Join(dir, "hls")}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var cpu time.Duration
			var dropped int64
			for range b.N {
				dir := b.TempDir()
				cfg, err := Config{Streams: c.s(dir), Threads: 1, Preset: "superfast"}.withDefaults()
				if err != nil {
					b.Fatal(err)
				}
				start := processCPU()
				d, err := encodeBench(filepath.Join(dir, "out.mp4"), cfg, c.name == "none-gop2s")
				if err != nil {
					b.Fatal(err)
				}
				cpu += processCPU() - start
				dropped += d
				_ = os.RemoveAll(dir)
			}
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N)/benchMedia.Seconds(), "cpu-ms/media-s")
			b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
		})
	}
}

// encodeBench writes benchMedia of synthetic media through an output
// configured as cfg and returns the packets its streams dropped.
func encodeBench(path string, cfg Config, noOutputs bool) (int64, error) {
	o, err := openOutput(path, cfg)
	if err != nil {
		return 0, err
	}
	defer o.free()
	if noOutputs && o.fan != nil {
		o.fan.abort()
		o.fan.free()
		o.fan = nil
	}
	fan := o.fan
	if _, err := encodeBenchFrames(o, cfg); err != nil {
		return 0, err
	}
	if err := o.finish(); err != nil {
		return 0, err
	}
	var dropped int64
	for _, s := range fan.status() {
		dropped += s.Dropped
	}
	return dropped, nil
}

// encodeBenchFrames encodes benchMedia of a moving picture and a tone
// into o.
func encodeBenchFrames(o *output, cfg Config) (int, error) {
	f := astiav.AllocFrame()
	defer f.Free()
	f.SetWidth(cfg.Width)
	f.SetHeight(cfg.Height)
	f.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := f.AllocBuffer(0); err != nil {
		return 0, err
	}
	frames := int(benchMedia.Seconds()) * cfg.FPS
	size := cfg.Width * cfg.Height * 3 / 2
	img := make([]byte, size)
	samples := make([]float32, 2*o.audioFrameSize())
	var apos int64
	for n := range frames {
		// A bar moving across a gradient: the encoder has work every
		// frame, as with a talking head.
		for y := range cfg.Height {
			for x := range cfg.Width {
				v := byte((x + y) / 8)
				if (x-4*n)%cfg.Width >= 0 && (x-4*n)%cfg.Width < 64 {
					v = 235
				}
				img[y*cfg.Width+x] = v
			}
		}
		for i := cfg.Width * cfg.Height; i < size; i++ {
			img[i] = 128
		}
		if err := f.Data().SetBytes(img, 1); err != nil {
			return 0, err
		}
		if err := o.writeVideo(f, int64(n)); err != nil {
			return 0, err
		}
		for apos < int64(n+1)*SampleRate/int64(cfg.FPS) {
			for i := range len(samples) / 2 {
				v := float32(0.2 * math.Sin(2*math.Pi*440*float64(apos+int64(i))/SampleRate))
				samples[2*i], samples[2*i+1] = v, v
			}
			if err := o.writeAudio(samples, apos); err != nil {
				return 0, err
			}
			apos += int64(len(samples) / 2)
		}
	}
	return frames, nil
}

// captureSink keeps every packet it is given (a reference each).
type captureSink struct{ pkts []streamPacket }

func (*captureSink) open(*astiav.IOInterrupter) error { return nil }
func (c *captureSink) write(p streamPacket) error {
	c.pkts = append(c.pkts, streamPacket{p.pkt.Clone(), p.video})
	return nil
}
func (*captureSink) close(bool) error { return nil }
func (*captureSink) retries() bool    { return false }

// capturePackets encodes benchMedia as a composition with streams would
// (cfg plus a stream, for the keyframe interval) and returns the output
// (its encoders still open, freed at the end of the test), the config and
// the packets.
func capturePackets(tb testing.TB, cfg Config) (*output, Config, *captureSink) {
	tb.Helper()
	dir := tb.TempDir()
	cfg.Streams = Streams{HLS: filepath.Join(dir, "unused")}
	cfg, err := cfg.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	o, err := openOutput(filepath.Join(dir, "out.mp4"), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(o.free)
	o.fan.abort()
	o.fan.free()
	capture := &captureSink{}
	if o.fan, err = newEncoderFanout(cfg.FPS, o.venc, o.aenc); err != nil {
		tb.Fatal(err)
	}
	o.fan.start(1<<16, func(StreamEvent) {}, []*streamOut{{name: "capture", s: capture}})
	if _, err := encodeBenchFrames(o, cfg); err != nil {
		tb.Fatal(err)
	}
	if err := o.finish(); err != nil { // waits for the capture
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for _, p := range capture.pkts {
			p.pkt.Free()
		}
	})
	return o, cfg, capture
}

// BenchmarkStreamMux measures what stream outputs cost on their own: the
// same 10 s of encoded 1280x720 packets (encoded once, before the timer)
// go through the fan-out into no output, HLS, one RTMP push to a local
// nginx-rtmp, two pushes, and a push plus HLS. cpu-ms/media-s is the
// process's CPU per second of media (the encode is not in it); compare it
// with BenchmarkStreamOutputs' encode.
//
//	go test -run XXX -bench BenchmarkStreamMux -count 3 ./compose
func BenchmarkStreamMux(b *testing.B) {
	srv := rtmptest.Start(b)
	o, cfg, capture := capturePackets(b, Config{Threads: 1, Preset: "superfast"})
	b.Logf("%d packets for %v of media", len(capture.pkts), benchMedia)
	for _, c := range []struct {
		name string
		rtmp int
		hls  bool
	}{{"none", 0, false}, {"hls", 0, true}, {"rtmp", 1, false}, {"rtmp+rtmp", 2, false}, {"rtmp+hls", 1, true}} {
		b.Run(c.name, func(b *testing.B) {
			var cpu time.Duration
			var dropped int64
			for i := range b.N {
				f, err := newEncoderFanout(cfg.FPS, o.venc, o.aenc)
				if err != nil {
					b.Fatal(err)
				}
				var outs []*streamOut
				for k := range c.rtmp {
					u := srv.URL(fmt.Sprintf("%s-%d-%d", c.name, i, k))
					outs = append(outs, &streamOut{name: u, s: &rtmpSink{url: u, name: u, params: &f.params}})
				}
				if c.hls {
					s := Streams{HLS: filepath.Join(b.TempDir(), "hls"), HLSSegment: DefaultHLSSegment, HLSListSize: DefaultHLSListSize}
					outs = append(outs, &streamOut{name: "hls", s: newHLSSink(s, &f.params, func(StreamEvent) {})})
				}
				start := processCPU()
				f.start(len(capture.pkts)+1, func(StreamEvent) {}, outs)
				for _, p := range capture.pkts {
					f.send(p.pkt, p.video)
				}
				f.finish()
				cpu += processCPU() - start
				for _, s := range f.status() {
					dropped += s.Dropped
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N)/benchMedia.Seconds(), "cpu-ms/media-s")
			b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
		})
	}
}

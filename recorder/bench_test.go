package recorder_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/internal/avtest"
)

// Benchmark media: what the load target names, 720p VP8 at about
// 1.5 Mbit/s and Opus, pre-encoded so that the benchmarks measure the
// recorder and not the encoders.
const (
	benchWidth, benchHeight = 1280, 720
	benchFPS                = 30
	benchBitRate            = 1_500_000
	benchLoop               = 2 * time.Second // encoded once, replayed in a loop
)

var (
	benchOnce              sync.Once
	benchVideo, benchAudio []avtest.Packet
	benchErr               error
)

func loadBenchMedia(b *testing.B) {
	b.Helper()
	benchOnce.Do(func() {
		venc, err := avtest.NewVideo(avtest.LibVPX, benchWidth, benchHeight, benchFPS, int(benchLoop.Seconds())*benchFPS, benchBitRate)
		if err != nil {
			benchErr = err
			return
		}
		defer venc.Close()
		for range int(benchLoop.Seconds()) * benchFPS {
			ps, err := venc.Next()
			if err != nil {
				benchErr = err
				return
			}
			benchVideo = append(benchVideo, ps...)
		}
		aenc, err := avtest.NewOpus(2, 500)
		if err != nil {
			benchErr = err
			return
		}
		defer aenc.Close()
		for range int(benchLoop / avtest.OpusFrameDuration) {
			ps, err := aenc.Next()
			if err != nil {
				benchErr = err
				return
			}
			benchAudio = append(benchAudio, ps...)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
}

// recordLoops writes loops*benchLoop of the benchmark media to a new
// participant's camera and microphone tracks, interleaved in PTS order.
func recordLoops(s *recorder.Session, id string, loops int, sample func(loop int)) error {
	p, err := s.Join(id, id)
	if err != nil {
		return err
	}
	cam, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.VP8})
	if err != nil {
		return err
	}
	mic, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus})
	if err != nil {
		return err
	}
	for l := range loops {
		base := time.Duration(l) * benchLoop
		a := 0
		for _, v := range benchVideo {
			for ; a < len(benchAudio) && benchAudio[a].PTS <= v.PTS; a++ {
				if err := mic.WriteFrame(recorder.Frame{Payload: benchAudio[a].Data, PTS: base + benchAudio[a].PTS}); err != nil {
					return err
				}
			}
			if err := cam.WriteFrame(recorder.Frame{Payload: v.Data, PTS: base + v.PTS, Keyframe: v.Key}); err != nil {
				return err
			}
		}
		for ; a < len(benchAudio); a++ {
			if err := mic.WriteFrame(recorder.Frame{Payload: benchAudio[a].Data, PTS: base + benchAudio[a].PTS}); err != nil {
				return err
			}
		}
		if sample != nil {
			sample(l)
		}
	}
	return p.Leave()
}

// mediaBitRate returns the bit rate of the benchmark media.
func mediaBitRate() float64 {
	var n int
	for _, p := range append(benchVideo, benchAudio...) {
		n += len(p.Data)
	}
	return float64(n*8) / benchLoop.Seconds()
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss returns the process's resident set size in bytes (Linux), 0 if
// unknown.
func rss() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// BenchmarkRecord measures the CPU cost of recording participants (720p
// VP8 ~1.5 Mbit/s + Opus each) into Matroska files, as a share of one core
// per participant in real time, and the memory they add. Each b.N
// iteration records every participant for benchLoop of media, as fast as
// possible.
//
//	go test -run '^$' -bench Record -benchtime 20x ./recorder/
func BenchmarkRecord(b *testing.B) {
	loadBenchMedia(b)
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("participants=%d", n), func(b *testing.B) { benchRecord(b, n, 0) })
	}
}

// BenchmarkRecordSegments is BenchmarkRecord with and without segments
// (Config.SegmentDuration 0 and 10 s), side by side: the extra CPU of
// cutting a track into standalone files. The media's keyframes come every
// 2 s, so cuts need no keyframe request.
//
//	go test -run '^$' -bench RecordSegments -benchtime 30x ./recorder/
func BenchmarkRecordSegments(b *testing.B) {
	loadBenchMedia(b)
	for _, seg := range []time.Duration{0, 10 * time.Second} {
		b.Run(fmt.Sprintf("segment=%v", seg), func(b *testing.B) { benchRecord(b, 4, seg) })
	}
}

// benchRecord records n participants b.N times benchLoop each into a
// session cut in segments of seg (0: none) and reports the cost.
func benchRecord(b *testing.B, n int, seg time.Duration) {
	b.Helper()
	s, err := recorder.NewSession(recorder.Config{Dir: b.TempDir(), SegmentDuration: seg})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	rss0 := rss()
	var mu sync.Mutex
	var rssMid int64
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- recordLoops(s, fmt.Sprintf("p%d", i), b.N, func(l int) {
				if l == b.N/2 {
					mu.Lock()
					rssMid = max(rssMid, rss())
					mu.Unlock()
				}
			})
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	rss1 := rss()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	media := time.Duration(b.N) * benchLoop * time.Duration(n)
	b.ReportMetric(100*cpu.Seconds()/media.Seconds(), "%core/participant")
	b.ReportMetric(float64(rss1-rss0)/float64(n)/(1<<20), "MB/participant")
	b.ReportMetric(float64(rss1-rssMid)/(1<<20), "MB-growth-2nd-half")
	b.ReportMetric(mediaBitRate()/1e6, "Mbit/s/participant")
	b.ReportMetric(0, "ns/op")
}

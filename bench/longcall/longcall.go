// Command longcall records and composes a long call faster than real time
// and reports memory, file sizes and timings: a benchmark of the recorder
// and compose over hours, not a timed test.
//
// Each participant's media is a clip of synthetic camera and microphone
// (internal/synth: a moving tinted pattern that flashes white, and a tone
// that beeps, every 2 s) encoded once and replayed in a loop, written
// straight through the recorder's API (recorder.Track.WriteFrame) on a
// session clock the program advances itself, as fast as the recorder
// takes it. The WebRTC transports are left out: they run at real time,
// and their cost per frame is measured elsewhere (bench/bot.sh).
//
//	go run ./bench/longcall -duration 2h -dir /tmp/longcall
//
// The plan: A is present throughout, B joins at a quarter and leaves at
// three quarters, C joins at an eighth and stays: four layout windows.
// After composing, the output is checked (duration, every participant's
// A/V sync at its markers in every window) unless -check=false.
package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// audioTick is the recording loop's step: one Opus packet.
const audioTick = 20 * time.Millisecond

// Config describes a long call.
type Config struct {
	// Duration is the call's length (a multiple of 8 s is used).
	Duration time.Duration
	// Dir is the recordings root.
	Dir string
	// Width, Height and FPS are the participants' video.
	Width, Height, FPS int
	// OutWidth, OutHeight and OutFPS are the composition's.
	OutWidth, OutHeight, OutFPS int
	// Preset is the libx264 preset of the composition.
	Preset string
	// Threads is compose.Config.Threads.
	Threads int
	// Sample is how often (in session time while recording, in output time
	// while composing) memory is sampled.
	Sample time.Duration
	// Logger receives progress.
	Logger *slog.Logger
}

// Sample is one memory measurement.
type Sample struct {
	Phase string
	At    time.Duration // session or output time
	RSS   int64         // bytes
	Heap  uint64        // Go heap in use, bytes
}

// Result is what a run measured.
type Result struct {
	Manifest     *manifest.Session
	Output       string
	Record       time.Duration // wall time
	RecordCPU    time.Duration
	Compose      time.Duration
	ComposeCPU   time.Duration
	FileBytes    int64 // recorded files
	OutputBytes  int64
	Samples      []Sample
	ClipBytes    int
	FramesPerSec float64 // recorded frames (all tracks) per wall second
}

// step is one participant's presence in the plan.
type step struct {
	synth.Participant
	join, leave time.Duration
}

// plan is the call's presence plan for duration d (multiple of 8 s).
func plan(d time.Duration) []step {
	return []step{
		{synth.Participant{Name: "A", ID: "a", Index: 0}, 0, d},
		{synth.Participant{Name: "B", ID: "b", Index: 1}, d / 4, 3 * d / 4},
		{synth.Participant{Name: "C", ID: "c", Index: 2}, d / 8, d},
	}
}

// clock is the session clock the recording loop advances.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// live is a participant being recorded.
type live struct {
	step
	p        *recorder.Participant
	cam, mic *recorder.Track
	clip     *synth.Clip
	frame    int // next video frame
	packet   int // next audio packet
}

// Run records cfg's call, composes it and returns the measurements.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	d := cfg.Duration.Truncate(8 * time.Second)
	if d <= 0 {
		return nil, fmt.Errorf("longcall: duration %v is under 8 s", cfg.Duration)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := &Result{}
	steps := plan(d)
	clips := map[string]*synth.Clip{}
	for i := range steps {
		steps[i].Width, steps[i].Height, steps[i].FPS = cfg.Width, cfg.Height, cfg.FPS
		steps[i].Video, steps[i].Audio = true, true
		clip, err := synth.EncodeClip(steps[i].Participant, synth.MarkerPeriod)
		if err != nil {
			return nil, fmt.Errorf("longcall: encode %s: %w", steps[i].Name, err)
		}
		clips[steps[i].ID] = clip
		res.ClipBytes += clip.Bytes()
	}

	clk := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	origin := clk.Now()
	sess, err := recorder.NewSession(recorder.Config{ID: "longcall", Dir: cfg.Dir, Now: clk.Now, Logger: log})
	if err != nil {
		return nil, err
	}
	defer func() { _ = sess.Close(context.WithoutCancel(ctx)) }()
	sample := func(phase string, at time.Duration) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := Sample{Phase: phase, At: at, RSS: rss(), Heap: ms.HeapInuse}
		res.Samples = append(res.Samples, s)
		log.Info("memory", "phase", phase, "at", at, "rss_mb", s.RSS>>20, "heap_mb", s.Heap>>20)
	}

	start, cpu0 := time.Now(), cpuTime()
	var present []*live
	frames := 0
	nextSample := time.Duration(0)
	for t := time.Duration(0); t < d; t += audioTick {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clk.set(origin.Add(t))
		if t >= nextSample {
			sample("record", t)
			nextSample += cfg.Sample
		}
		// Leaves, then joins, at this tick.
		kept := present[:0]
		for _, l := range present {
			if l.leave == t {
				if err := l.p.Leave(); err != nil {
					return nil, err
				}
				continue
			}
			kept = append(kept, l)
		}
		present = kept
		for _, s := range steps {
			if s.join != t {
				continue
			}
			l := &live{step: s, clip: clips[s.ID]}
			if l.p, err = sess.Join(s.ID, s.Name); err != nil {
				return nil, err
			}
			if l.cam, err = l.p.AddTrack(recorder.TrackInfo{Codec: recorder.VP8, Width: s.Width, Height: s.Height}); err != nil {
				return nil, err
			}
			if l.mic, err = l.p.AddTrack(recorder.TrackInfo{Codec: recorder.Opus}); err != nil {
				return nil, err
			}
			present = append(present, l)
		}
		// The media of [t, t+audioTick) for everyone present.
		for _, l := range present {
			for {
				pts := l.join + time.Duration(l.frame)*time.Second/time.Duration(l.clip.FPS)
				if pts >= t+audioTick {
					break
				}
				k := l.frame % len(l.clip.Video)
				if err := l.cam.WriteFrame(recorder.Frame{Payload: l.clip.Video[k], PTS: pts, Keyframe: k == 0}); err != nil {
					return nil, err
				}
				l.frame++
				frames++
			}
			pts := l.join + time.Duration(l.packet)*audioTick
			if err := l.mic.WriteFrame(recorder.Frame{Payload: l.clip.Audio[l.packet%len(l.clip.Audio)], PTS: pts, Duration: audioTick}); err != nil {
				return nil, err
			}
			l.packet++
			frames++
		}
	}
	clk.set(origin.Add(d))
	for _, l := range present {
		if err := l.p.Leave(); err != nil {
			return nil, err
		}
	}
	if err := sess.Close(ctx); err != nil {
		return nil, err
	}
	res.Record, res.RecordCPU = time.Since(start), cpuTime()-cpu0
	res.FramesPerSec = float64(frames) / res.Record.Seconds()
	sample("record", d)
	m, err := manifest.Load(sess.ManifestPath())
	if err != nil {
		return nil, err
	}
	res.Manifest = m
	for _, p := range m.Participants {
		for _, tr := range p.Tracks {
			fi, err := os.Stat(tr.Path)
			if err != nil {
				return nil, err
			}
			res.FileBytes += fi.Size()
		}
	}

	res.Output = filepath.Join(sess.Dir(), "longcall.mp4")
	start, cpu0 = time.Now(), cpuTime()
	nextSample = 0
	err = compose.Session(ctx, m, res.Output, compose.Config{
		Width: cfg.OutWidth, Height: cfg.OutHeight, FPS: cfg.OutFPS, Preset: cfg.Preset, Threads: cfg.Threads, Logger: log,
		Progress: func(p compose.Progress) {
			if p.Done >= nextSample {
				sample("compose", p.Done)
				nextSample += cfg.Sample
			}
		},
	})
	if err != nil {
		return nil, err
	}
	res.Compose, res.ComposeCPU = time.Since(start), cpuTime()-cpu0
	sample("compose", d)
	fi, err := os.Stat(res.Output)
	if err != nil {
		return nil, err
	}
	res.OutputBytes = fi.Size()
	return res, nil
}

// MaxRSS returns the largest RSS of phase's samples taken at or after
// from, and the smallest.
func (r *Result) MaxRSS(phase string, from time.Duration) (lo, hi int64) {
	lo = -1
	for _, s := range r.Samples {
		if s.Phase != phase || s.At < from {
			continue
		}
		if lo < 0 || s.RSS < lo {
			lo = s.RSS
		}
		hi = max(hi, s.RSS)
	}
	return lo, hi
}

// rss is the process's resident set size in bytes, 0 if unknown.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "longcall:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("longcall", flag.ContinueOnError)
	cfg := Config{}
	fs.DurationVar(&cfg.Duration, "duration", 2*time.Hour, "length of the call")
	fs.StringVar(&cfg.Dir, "dir", "", "recordings root (default: a new temporary directory, removed unless -keep)")
	fs.IntVar(&cfg.Width, "width", 640, "participants' video width")
	fs.IntVar(&cfg.Height, "height", 360, "participants' video height")
	fs.IntVar(&cfg.FPS, "fps", 30, "participants' frame rate")
	fs.IntVar(&cfg.OutWidth, "out-width", 1280, "composition width")
	fs.IntVar(&cfg.OutHeight, "out-height", 720, "composition height")
	fs.IntVar(&cfg.OutFPS, "out-fps", 30, "composition frame rate")
	fs.StringVar(&cfg.Preset, "preset", "veryfast", "libx264 preset")
	fs.IntVar(&cfg.Threads, "threads", 0, "compose's encoder and decoder threads (0: FFmpeg's choice)")
	fs.DurationVar(&cfg.Sample, "sample", 5*time.Minute, "memory sampling interval (session/output time)")
	check := fs.Bool("check", true, "decode the output and check it (decodes the whole audio into memory: ~1.4 GB for 2 h)")
	keep := fs.Bool("keep", false, "keep the recording and output")
	verbose := fs.Bool("v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "longcall")
		if err != nil {
			return err
		}
		cfg.Dir = dir
		if !*keep {
			defer func() { _ = os.RemoveAll(dir) }()
		}
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	p := &printer{w: out}
	d := res.Manifest.End()
	p.printf("call %v, 3 participants %dx%d@%d (clip %d bytes), output %dx%d@%d preset %s\n",
		d, cfg.Width, cfg.Height, cfg.FPS, res.ClipBytes, cfg.OutWidth, cfg.OutHeight, cfg.OutFPS, cfg.Preset)
	p.printf("record: %v wall (%.0fx real time), %v CPU, %.0f frames/s, files %.1f MB\n",
		res.Record.Round(time.Millisecond), d.Seconds()/res.Record.Seconds(), res.RecordCPU.Round(time.Millisecond), res.FramesPerSec, float64(res.FileBytes)/1e6)
	p.printf("compose: %v wall (%.2fx real time), %v CPU, output %.1f MB\n",
		res.Compose.Round(time.Millisecond), d.Seconds()/res.Compose.Seconds(), res.ComposeCPU.Round(time.Millisecond), float64(res.OutputBytes)/1e6)
	for _, s := range res.Samples {
		p.printf("  %-7s at %9v: RSS %4d MB, Go heap %4d MB\n", s.Phase, s.At, s.RSS>>20, s.Heap>>20)
	}
	for _, ph := range []string{"record", "compose"} {
		lo, hi := res.MaxRSS(ph, d/4)
		p.printf("%s RSS from a quarter of the call on: %d..%d MB\n", ph, lo>>20, hi>>20)
	}
	if *check {
		cr, err := Check(res.Manifest, res.Output, cfg.OutWidth, cfg.OutHeight, cfg.OutFPS)
		if cr != nil {
			p.printf("check: %d windows, %d flash/beep pairs of %d markers sent, max |A/V| %v, max marker drift %v\n",
				cr.Windows, cr.Pairs, cr.Sent, cr.MaxAV, cr.MaxDrift)
		}
		if err != nil {
			return err
		}
	}
	if *keep {
		p.printf("kept %s\n", res.Output)
	}
	return p.err
}

// printer writes formatted lines and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

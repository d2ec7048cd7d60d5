package bot

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// progressEvery spaces the composition progress lines.
const progressEvery = 10.0 // percent

// liveProgressEvery spaces the live composition's progress lines.
const liveProgressEvery = 10 * time.Second

// composeConfig is the composition cfg asks for; progress lines go to out
// and every progress report to progress (optional).
func composeConfig(cfg Config, log *slog.Logger, out *printer, progress func(compose.Progress)) compose.Config {
	fit := timeline.Letterbox
	if cfg.Crop {
		fit = timeline.Crop
	}
	next := progressEvery
	var lastLive time.Time
	return compose.Config{
		Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS,
		Layout: cfg.Layout, Fit: fit, Labels: cfg.Labels, CrossFade: cfg.CrossFade,
		Preset: cfg.Preset, CRF: cfg.CRF, X264Params: cfg.X264Params,
		FullSpan: cfg.FullSpan, Delay: cfg.LiveDelay,
		Logger: log.With("component", "compose"),
		Progress: func(p compose.Progress) {
			if progress != nil {
				progress(p)
			}
			if p.Live {
				if time.Since(lastLive) < liveProgressEvery {
					return
				}
				lastLive = time.Now()
				out.printf("  composing live  call %v  composed %v  %d frames  lag %.1fs%s\n",
					(p.Done + p.Lag).Round(time.Second), p.Done.Round(time.Second), p.Frames, p.Lag.Seconds(), streamsLine(p.Streams))
				return
			}
			if p.Percent < next && p.Done < p.Total {
				return
			}
			for next <= p.Percent {
				next += progressEvery
			}
			out.printf("  composing %5.1f%%  %v/%v  speed %.1fx  eta %v\n", p.Percent,
				p.Done.Round(time.Second), p.Total.Round(time.Second), p.Speed, p.ETA.Round(time.Second))
		},
	}
}

// composeSession composes the recorded session of manifestPath into
// output, after the call.
func composeSession(ctx context.Context, cfg Config, manifestPath, output string, log *slog.Logger, out *printer, progress func(compose.Progress)) error {
	m, err := manifest.Load(manifestPath)
	if err != nil {
		return err
	}
	log.Info("composing", "length", m.End())
	ccfg := composeConfig(cfg, log, out, progress)
	ccfg.AudioFile = audioFile(cfg, output)
	return compose.Session(ctx, m, output, ccfg)
}

// audioFile is where --audio-m4a writes the audio-only recording of
// output: the same name with .m4a; empty without the flag.
func audioFile(cfg Config, output string) string {
	if !cfg.AudioM4A {
		return ""
	}
	return strings.TrimSuffix(output, filepath.Ext(output)) + ".m4a"
}

// Compose composes the saved session of manifestPath into output after
// the call, with cfg's output settings: the composition step of [Run] on
// its own (a host's recompose job). progress (optional) receives its
// progress.
func Compose(ctx context.Context, cfg Config, manifestPath, output string, log *slog.Logger, progress func(compose.Progress)) error {
	if log == nil {
		log = discardLogger()
	}
	if compose.FFmpegLogger() == nil {
		compose.SetFFmpegLogger(log)
	}
	return composeSession(ctx, cfg, manifestPath, output, log, &printer{w: io.Discard}, progress)
}

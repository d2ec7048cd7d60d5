package bot

import (
	"context"
	"log/slog"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// progressEvery spaces the composition progress lines.
const progressEvery = 10.0 // percent

// composeSession composes the session of manifestPath into out.
func composeSession(ctx context.Context, cfg Config, manifestPath, output string, log *slog.Logger, out *printer) error {
	loaded, err := manifest.Load(manifestPath)
	if err != nil {
		return err
	}
	m, offset, err := forComposition(loaded)
	if err != nil {
		return err
	}
	log.Info("composing", "from_session_time", offset, "length", m.End())
	fit := timeline.Letterbox
	if cfg.Crop {
		fit = timeline.Crop
	}
	next := progressEvery
	return compose.Session(ctx, m, output, compose.Config{
		Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS,
		Layout: cfg.Layout, Fit: fit, Labels: cfg.Labels,
		Preset: cfg.Preset, CRF: cfg.CRF,
		Logger: log.With("component", "compose"),
		Progress: func(p compose.Progress) {
			if p.Percent < next && p.Done < p.Total {
				return
			}
			for next <= p.Percent {
				next += progressEvery
			}
			out.printf("  composing %5.1f%%  %v/%v  speed %.1fx  eta %v\n", p.Percent,
				p.Done.Round(time.Second), p.Total.Round(time.Second), p.Speed, p.ETA.Round(time.Second))
		},
	})
}

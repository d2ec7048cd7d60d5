package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/livekit"
	"github.com/roomtape/roomtape/timeline"
)

// recordLiveKit joins the LiveKit room as a hidden recorder until the room
// closes, everyone has left for the idle timeout, Stop is closed or ctx
// is cancelled.
func recordLiveKit(ctx context.Context, cfg Config, opts Options, sess *recorder.Session, p *presence, log *slog.Logger, out *printer) (time.Time, error) {
	fit := timeline.Letterbox
	if cfg.Crop {
		fit = timeline.Crop
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- livekit.Record(rctx, sess, livekit.Config{
			URL:       cfg.LiveKit.URL,
			Token:     cfg.LiveKit.Token,
			APIKey:    cfg.LiveKit.APIKey,
			APISecret: cfg.LiveKit.APISecret,
			Room:      cfg.LiveKit.Room,
			Identity:  cfg.LiveKit.Identity,
			Output:    livekit.Output{Width: cfg.Width, Height: cfg.Height, Layout: cfg.Layout, Fit: fit},
			Logger:    log.With("component", "livekit"),
		})
	}()
	out.printf("Recording LiveKit room at %s (Ctrl-C to finish; ends when the room closes or %v after everyone left)\n", RedactURL(cfg.LiveKit.URL), cfg.IdleTimeout)
	idle := make(chan error, 1)
	go func() { idle <- p.waitIdle(rctx, opts.Stop, cfg.IdleTimeout) }()
	select {
	case err := <-done: // the room ended (or the bot could not join)
		ended := time.Now()
		cancel()
		if ierr := <-idle; ierr != nil { // ctx's error: the room's end decides
			log.Debug("idle wait ended", "err", ierr)
		}
		if err != nil {
			return ended, fmt.Errorf("bot: LiveKit room: %w", err)
		}
		return ended, ctx.Err()
	case err := <-idle:
		ended := time.Now()
		cancel()
		if rerr := <-done; rerr != nil && !errors.Is(rerr, context.Canceled) {
			return ended, errors.Join(err, fmt.Errorf("bot: LiveKit room: %w", rerr))
		}
		return ended, err
	}
}

package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/browser"
	"github.com/roomtape/roomtape/recorder/livekit"
	"github.com/roomtape/roomtape/timeline"
)

// dailyTokenTTL is how long a meeting token the bot mints stays valid: a
// recording longer than this ends when Daily ejects the bot.
const dailyTokenTTL = 6 * time.Hour

// browserRoom is the room the browser bridge joins for cfg: LiveKit with
// --via-browser, or Daily. It mints the bot's token when given API
// credentials.
func browserRoom(ctx context.Context, cfg Config) (browser.Room, string, error) {
	if cfg.Mode == ModeDaily {
		tok := cfg.Daily.Token
		if tok == "" {
			name, err := browser.DailyRoomName(cfg.Daily.URL)
			if err != nil {
				return nil, "", fmt.Errorf("%w: %w", ErrConfig, err)
			}
			c := browser.DailyClient{APIKey: cfg.Daily.APIKey, BaseURL: cfg.Daily.APIURL}
			if tok, err = c.BotToken(ctx, name, dailyTokenTTL); err != nil {
				return nil, "", fmt.Errorf("bot: Daily meeting token: %w", err)
			}
		}
		return browser.DailyRoom{URL: cfg.Daily.URL, Token: tok}, "Daily room " + cfg.Daily.URL, nil
	}
	tok := cfg.LiveKit.Token
	if tok == "" {
		var err error
		tok, err = livekit.BotToken(cfg.LiveKit.APIKey, cfg.LiveKit.APISecret, cfg.LiveKit.Room, cfg.LiveKit.Identity, cfg.LiveKit.Identity, livekit.DefaultTokenTTL)
		if err != nil {
			return nil, "", fmt.Errorf("%w: LiveKit token: %w", ErrConfig, err)
		}
	}
	return browser.LiveKitRoom{URL: cfg.LiveKit.URL, Token: tok}, "LiveKit room at " + cfg.LiveKit.URL + " through the browser", nil
}

// recordBrowser records a room through the browser bridge until the room
// ends the bot's participation, everyone has left for the idle timeout,
// Stop is closed or ctx is cancelled.
func recordBrowser(ctx context.Context, cfg Config, opts Options, sess *recorder.Session, p *presence, log *slog.Logger, out *printer) (time.Time, error) {
	room, what, err := browserRoom(ctx, cfg)
	if err != nil {
		return time.Now(), err
	}
	log.Info("browser bridge", "daily", cfg.Daily, "livekit", cfg.LiveKit)
	fit := timeline.Letterbox
	if cfg.Crop {
		fit = timeline.Crop
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- browser.Record(rctx, sess, browser.Config{
			Room:   room,
			Output: browser.Output{Width: cfg.Width, Height: cfg.Height, Layout: cfg.Layout, Fit: fit},
			Logger: log.With("component", "browser"),
		})
	}()
	out.printf("Recording %s (Ctrl-C to finish; ends when the meeting ends or %v after everyone left)\n", what, cfg.IdleTimeout)
	idle := make(chan error, 1)
	go func() { idle <- p.waitIdle(rctx, opts.Stop, cfg.IdleTimeout) }()
	select {
	case err := <-done:
		ended := time.Now()
		cancel()
		if ierr := <-idle; ierr != nil {
			log.Debug("idle wait ended", "err", ierr)
		}
		if err != nil {
			return ended, fmt.Errorf("bot: %s: %w", what, err)
		}
		return ended, ctx.Err()
	case err := <-idle:
		ended := time.Now()
		cancel()
		if rerr := <-done; rerr != nil && !errors.Is(rerr, context.Canceled) {
			return ended, errors.Join(err, fmt.Errorf("bot: %s: %w", what, rerr))
		}
		return ended, err
	}
}

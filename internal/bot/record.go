package bot

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/whip"
)

// record runs the recording phase of cfg.Mode into sess and returns when
// it is over: the demo plan finished, the room is idle or closed, Stop was
// closed, or ctx was cancelled (then ctx.Err()). ended is when it decided
// to stop, before the transport shut down. Every publication has ended
// when it returns; sess is still open.
func record(ctx context.Context, cfg Config, opts Options, sess *recorder.Session, p *presence, log *slog.Logger, out *printer) (ended time.Time, err error) {
	switch cfg.Mode {
	case ModeDemo, ModeWHIP:
		return recordWHIP(ctx, cfg, opts, sess, p, log, out)
	case ModeLiveKit:
		if cfg.ViaBrowser {
			return recordBrowser(ctx, cfg, opts, sess, p, log, out)
		}
		return recordLiveKit(ctx, cfg, opts, sess, p, log, out)
	case ModeDaily:
		return recordBrowser(ctx, cfg, opts, sess, p, log, out)
	}
	return time.Now(), fmt.Errorf("%w: mode %v", ErrConfig, cfg.Mode)
}

// recordWHIP serves the WHIP ingest; in ModeDemo it also runs the demo's
// synthetic publishers against it.
func recordWHIP(ctx context.Context, cfg Config, opts Options, sess *recorder.Session, p *presence, log *slog.Logger, out *printer) (time.Time, error) {
	wcfg := whip.Config{
		PublicICE:    cfg.PublicICE,
		Token:        cfg.WHIPToken,
		AllowOrigins: cfg.WHIPOrigins,
		AllowHosts:   cfg.WHIPHosts,
		Limits:       whip.Limits{MaxResources: cfg.WHIPMaxPublishers},
		Logger:       log.With("component", "whip"),
	}
	var whipURL string
	var shutdown func()
	if host := opts.WHIPHost; host != nil {
		wcfg.Authenticate = host.Authenticate
		h := whip.NewHandler(sess, wcfg)
		var unmount func()
		whipURL, unmount = host.Mount(h)
		shutdown = func() {
			unmount()
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
			defer cancel()
			if err := h.Close(cctx); err != nil {
				log.Warn("WHIP ingest shutdown", "err", err)
			}
		}
	} else {
		ln, err := whip.Listen(cfg.WHIPListen)
		if err != nil {
			return time.Now(), fmt.Errorf("%w: WHIP on %s: %w", ErrListen, cfg.WHIPListen, err)
		}
		h := whip.NewHandler(sess, wcfg)
		serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
		served := make(chan error, 1)
		go func() { served <- whip.Serve(serveCtx, ln, h) }()
		// Serve closes the handler (everyone leaves) once serveCtx ends.
		// A slow shutdown is only logged: closing the session afterwards
		// stops whatever still records, and the files are complete
		// either way.
		shutdown = func() {
			stopServe()
			if err := <-served; err != nil {
				log.Warn("WHIP server shutdown", "err", err)
			}
		}
		whipURL = "http://" + listenURLHost(ln.Addr()) + "/whip"
	}
	log.Info("WHIP ingest ready", "url", whipURL, "public_ice", cfg.PublicICE, "token", cfg.WHIPToken != "")
	if opts.OnListen != nil {
		opts.OnListen(whipURL)
	}

	var recErr error
	if cfg.Mode == ModeDemo {
		out.printf("Demo: %d synthetic participants over WHIP at %s for %v\n", len(demoPlan(cfg)), whipURL, cfg.DemoDuration)
		recErr = runDemo(ctx, opts.Stop, whipURL, demoPlan(cfg), PlanOptions{Replay: cfg.DemoReplay, Logger: log})
	} else {
		out.printf("Recording WHIP publishers at %s (Ctrl-C to finish; ends %v after everyone left)\n", whipURL, cfg.IdleTimeout)
		recErr = p.waitIdle(ctx, opts.Stop, cfg.IdleTimeout)
	}
	ended := time.Now()
	shutdown()
	return ended, recErr
}

// listenURLHost is the host:port to reach a listener: an unspecified
// address (":8080", "0.0.0.0") is reached on 127.0.0.1.
func listenURLHost(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(ta.Port))
}

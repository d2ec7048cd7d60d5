package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium is one managed Chromium: a fresh temporary profile, headless,
// no media devices of its own, killed with its whole process tree when
// Record's context ends, when the bridge restarts it, and (through the
// kernel's parent-death signal, which chromedp sets) when the bot dies.
type chromium struct {
	ctx    context.Context // the tab's; done when the browser is gone
	cancel context.CancelFunc
	pid    int
	// crashed is closed when the page's renderer crashes or the target
	// goes away.
	crashed chan struct{}
	// detached is closed when the browser detaches the tab.
	detached <-chan struct{}
}

// launchChromium starts Chromium and opens url in its first tab.
func launchChromium(ctx context.Context, path, url string, log *slog.Logger) (*chromium, error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		// A hidden headless tab must keep its timers (heartbeat) and
		// media running.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		// Media permission prompts are answered yes; the bot has no
		// devices to offer, so nothing is captured.
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("enable-experimental-web-platform-features", true),
		// Real host candidates rather than mDNS names (an SFU on the LAN).
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	}
	if os.Geteuid() == 0 {
		// Chromium refuses to run its sandbox as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	c := &chromium{
		ctx:     tctx,
		crashed: make(chan struct{}),
		cancel: func() {
			cancelTab()
			cancelAlloc()
		},
	}
	var err error
	if err = chromedp.Do(tctx); err != nil { // starts the browser
		c.cancel()
		return nil, fmt.Errorf("%w: start %s: %w", ErrBrowser, path, err)
	}
	var once bool // the listener runs on the tab's reader goroutine only
	if err := chromedp.Listen(tctx, func(ev any) {
		switch ev := ev.(type) {
		case *inspector.EventTargetCrashed, *inspector.EventDetached:
			if !once {
				once = true
				close(c.crashed)
			}
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			log.Debug("page console", "type", ev.Type, "args", strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			log.Warn("page exception", "msg", msg)
		}
	}); err != nil {
		c.cancel()
		return nil, fmt.Errorf("%w: watch the tab: %w", ErrBrowser, err)
	}
	if c.detached, err = chromedp.Detached(tctx); err != nil {
		c.cancel()
		return nil, fmt.Errorf("%w: watch the tab: %w", ErrBrowser, err)
	}
	if b := chromedp.FromContext(tctx).Browser; b != nil {
		if p := b.Process(); p != nil {
			c.pid = p.Pid
		}
	}
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		c.cancel()
		return nil, fmt.Errorf("%w: open the bridge page: %w", ErrBrowser, err)
	}
	return c, nil
}

// close kills the browser and waits for it to exit.
func (c *chromium) close() {
	c.cancel()
}

// gone reports whether the browser process or its tab is gone.
func (c *chromium) gone() <-chan struct{} { return c.ctx.Done() }

// errGone is the cause of a browser that went away.
func (c *chromium) errGone() error {
	if err := context.Cause(c.ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return errors.New("browser process exited")
}

package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/roomtape/roomtape/internal/synth"
)

// The demo is the prototype README's example (Aditya 0-65 s, iPhone
// 40-55 s in portrait) compressed to Config.DemoDuration: the phone joins
// at demoJoinFrac and leaves at demoLeaveFrac of the session, so every
// layout window is longer than timeline.DefaultMinWindow from
// minDemoDuration up.
const (
	demoJoinFrac    = 0.5
	demoLeaveFrac   = 0.8
	minDemoDuration = 10 * time.Second
)

// leaveTimeout bounds a synthetic participant's goodbye (the WHIP DELETE).
const leaveTimeout = 5 * time.Second

// demoParticipant is one entry of the demo plan, on the session clock.
type demoParticipant struct {
	Name          string
	Join, Leave   time.Duration
	Width, Height int
}

// demoPlan returns the demo's participants; participant i gets synthetic
// tint and tone i.
func demoPlan(cfg Config) []demoParticipant {
	d := cfg.DemoDuration
	w, h := cfg.DemoWidth, cfg.DemoHeight
	if w == 0 || h == 0 {
		w, h = DefaultDemoWidth, DefaultDemoHeight
	}
	frac := func(f float64) time.Duration { return time.Duration(f * float64(d)).Round(time.Millisecond) }
	return []demoParticipant{
		{Name: "Aditya", Join: 0, Leave: d, Width: w, Height: h},
		{Name: "iPhone", Join: frac(demoJoinFrac), Leave: frac(demoLeaveFrac), Width: h, Height: w},
	}
}

// runDemo publishes the plan's synthetic participants to whipURL, each
// joining and leaving at its planned time after the call. It returns nil
// once everyone has left, or early (after making everyone leave) when stop
// is closed; ctx.Err() when ctx is cancelled.
func runDemo(ctx context.Context, stop <-chan struct{}, whipURL string, plan []demoParticipant, log *slog.Logger) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-pctx.Done():
		}
	}()
	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, dp := range plan {
		wg.Go(func() {
			if !sleepUntil(pctx, start.Add(dp.Join)) {
				return
			}
			pub, err := synth.Publish(pctx, whipURL, synth.Participant{
				Name: dp.Name, Index: i, Width: dp.Width, Height: dp.Height,
				Logger: log.With("component", "synth", "participant", dp.Name),
			})
			if err != nil {
				if pctx.Err() == nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("bot: demo participant %s: %w", dp.Name, err))
					mu.Unlock()
					cancel() // a demo with someone missing is no demo
				}
				return
			}
			log.Info("demo participant publishing", "participant", dp.Name, "size", fmt.Sprintf("%dx%d", dp.Width, dp.Height))
			sleepUntil(pctx, start.Add(dp.Leave))
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(pctx), leaveTimeout)
			defer ccancel()
			if err := pub.Close(cctx); err != nil {
				log.Warn("demo participant leave", "participant", dp.Name, "err", err)
			}
			log.Info("demo participant left", "participant", dp.Name)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

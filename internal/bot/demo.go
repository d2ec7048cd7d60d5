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

// Defaults of [PlanOptions].
const (
	// DefaultClipLength is the length of a replayed clip (looped); whole
	// 2 s marker periods keep the flashes' rhythm across loops.
	DefaultClipLength = 10 * time.Second
	// leaveTimeout bounds a synthetic participant's goodbye (WHIP DELETE).
	leaveTimeout = 5 * time.Second
)

// PlanStep is one synthetic participant of a plan: it publishes from Join
// to Leave after the plan starts. Step i of a plan gets synthetic tint
// and tone i.
type PlanStep struct {
	Name          string
	Join, Leave   time.Duration
	Width, Height int
}

// PlanOptions tune [PublishPlan]. The zero value publishes live-encoded
// media.
type PlanOptions struct {
	// Replay (optional) encodes each participant's media once, before the
	// plan starts, and replays it as RTP: far less CPU than live encoding,
	// so the publishers neither load the machine nor lag behind it.
	Replay bool
	// ClipLength (optional) defaults to DefaultClipLength.
	ClipLength time.Duration
	// BitRate (optional) is the video bit rate; defaults to synth's.
	BitRate int
	// Logger (optional) defaults to discarding.
	Logger *slog.Logger
}

// demoPlan returns the demo's participants.
func demoPlan(cfg Config) []PlanStep {
	d := cfg.DemoDuration
	w, h := cfg.DemoWidth, cfg.DemoHeight
	if w == 0 || h == 0 {
		w, h = DefaultDemoWidth, DefaultDemoHeight
	}
	frac := func(f float64) time.Duration { return time.Duration(f * float64(d)).Round(time.Millisecond) }
	return []PlanStep{
		{Name: "Aditya", Join: 0, Leave: d, Width: w, Height: h},
		{Name: "iPhone", Join: frac(demoJoinFrac), Leave: frac(demoLeaveFrac), Width: h, Height: w},
	}
}

// runDemo runs the demo plan against whipURL until everyone has left, or
// makes everyone leave early when stop is closed (then it returns nil);
// ctx.Err() when ctx is cancelled.
func runDemo(ctx context.Context, stop <-chan struct{}, whipURL string, plan []PlanStep, opts PlanOptions) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-pctx.Done():
		}
	}()
	if err := PublishPlan(pctx, whipURL, plan, opts); err != nil {
		return fmt.Errorf("bot: demo: %w", err)
	}
	return ctx.Err()
}

// PublishPlan publishes the plan's synthetic participants to whipURL, each
// joining and leaving at its time after the clips (with opts.Replay) are
// encoded, and returns once everyone has left. Cancelling ctx makes
// everyone leave at once (then it returns nil). A participant that fails
// to publish makes it return an error after the others are done.
func PublishPlan(ctx context.Context, whipURL string, plan []PlanStep, opts PlanOptions) error {
	log := opts.Logger
	if log == nil {
		log = discardLogger()
	}
	if opts.ClipLength <= 0 {
		opts.ClipLength = DefaultClipLength
	}
	parts := make([]synth.Participant, len(plan))
	clips := make([]*synth.Clip, len(plan))
	for i, st := range plan {
		parts[i] = synth.Participant{
			Name: st.Name, Index: i, Width: st.Width, Height: st.Height, BitRate: opts.BitRate,
			Logger: log.With("component", "synth", "participant", st.Name),
		}
		if opts.Replay {
			c, err := synth.EncodeClip(parts[i], opts.ClipLength)
			if err != nil {
				return fmt.Errorf("bot: clip of %s: %w", st.Name, err)
			}
			clips[i] = c
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(plan))
	for i, st := range plan {
		wg.Go(func() {
			errs[i] = publishStep(ctx, whipURL, start, st, parts[i], clips[i], log)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// publishStep publishes one participant between its join and leave.
func publishStep(ctx context.Context, whipURL string, start time.Time, st PlanStep, p synth.Participant, clip *synth.Clip, log *slog.Logger) error {
	if !sleepUntil(ctx, start.Add(st.Join)) {
		return nil
	}
	var pub *synth.Publisher
	var err error
	if clip != nil {
		pub, err = synth.PublishClip(ctx, whipURL, p, clip)
	} else {
		pub, err = synth.Publish(ctx, whipURL, p)
	}
	if err != nil {
		return fmt.Errorf("participant %s: %w", st.Name, err)
	}
	log.Info("synthetic participant joined", "participant", st.Name, "at", time.Since(start).Round(time.Millisecond),
		"size", fmt.Sprintf("%dx%d", st.Width, st.Height), "replay", clip != nil)
	sleepUntil(ctx, start.Add(st.Leave))
	stats := pub.Stats()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	err = pub.Close(cctx)
	log.Info("synthetic participant left", "participant", st.Name, "at", time.Since(start).Round(time.Millisecond),
		"video_frames", stats.VideoFrames, "audio_packets", stats.AudioPackets)
	if err != nil {
		return fmt.Errorf("participant %s leave: %w", st.Name, err)
	}
	return nil
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

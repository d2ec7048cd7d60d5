package bot

import (
	"context"
	"fmt"
	"log/slog"
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
	var sp synth.Plan
	for i, dp := range plan {
		sp.Steps = append(sp.Steps, synth.Step{
			Participant: synth.Participant{
				Name: dp.Name, Index: i, Width: dp.Width, Height: dp.Height,
				Logger: log.With("component", "synth", "participant", dp.Name),
			},
			Join: dp.Join, Leave: dp.Leave,
		})
	}
	res, err := sp.Run(pctx, whipURL)
	if res != nil {
		for _, st := range res.Steps {
			if !st.Joined.IsZero() {
				log.Info("demo participant", "participant", st.Step.Participant.Name,
					"size", fmt.Sprintf("%dx%d", st.Step.Participant.Width, st.Step.Participant.Height),
					"joined", st.Joined.Sub(res.Start).Round(time.Millisecond), "left", st.Left.Sub(res.Start).Round(time.Millisecond),
					"video_frames", st.Stats.VideoFrames)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("bot: demo: %w", err)
	}
	return ctx.Err()
}

package synth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Step is one participant's presence in a [Plan]: it publishes from Join
// to Leave, plan-relative. A participant that rejoins has one Step per
// presence, with the same Participant.ID.
type Step struct {
	// Participant is who publishes.
	Participant Participant
	// Join and Leave are plan-relative times; Leave must be after Join.
	Join, Leave time.Duration
}

// Plan is a list of joins and leaves run on a clock.
type Plan struct {
	// Steps are run concurrently, each at its own times.
	Steps []Step
	// Scale (optional) multiplies every time of the plan; defaults to 1.
	Scale float64
}

// StepResult is what happened to a step: the wall-clock instants its
// publisher connected and started to leave (zero if it did not).
type StepResult struct {
	Step         Step
	Joined, Left time.Time
	// Stats are the publisher's counters when it left.
	Stats Stats
}

// Result is the outcome of a plan run.
type Result struct {
	// Start is the wall-clock instant of plan time 0.
	Start time.Time
	// Steps are in the order of Plan.Steps.
	Steps []StepResult
}

// Run publishes every step to whipURL at its times and returns when all
// have left. A step that fails to publish or leave makes Run return an
// error (after the other steps finish); cancelling ctx makes everyone
// leave at once.
func (p Plan) Run(ctx context.Context, whipURL string) (*Result, error) {
	scale := p.Scale
	if scale == 0 {
		scale = 1
	}
	if scale < 0 {
		return nil, fmt.Errorf("%w: plan scale %g", ErrBadParticipant, scale)
	}
	for i, st := range p.Steps {
		if st.Join < 0 || st.Leave <= st.Join {
			return nil, fmt.Errorf("%w: step %d (%q): join %v, leave %v", ErrBadParticipant, i, st.Participant.Name, st.Join, st.Leave)
		}
	}
	res := &Result{Start: time.Now(), Steps: make([]StepResult, len(p.Steps))}
	at := func(d time.Duration) time.Time {
		return res.Start.Add(time.Duration(float64(d) * scale))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(p.Steps))
	for i, st := range p.Steps {
		res.Steps[i].Step = st
		wg.Go(func() {
			errs[i] = runStep(ctx, whipURL, st, at(st.Join), at(st.Leave), &res.Steps[i])
		})
	}
	wg.Wait()
	return res, errors.Join(errs...)
}

// leaveTimeout bounds a publisher's WHIP DELETE when the plan's context
// is already cancelled.
const leaveTimeout = 5 * time.Second

// runStep publishes one step between join and leave.
func runStep(ctx context.Context, whipURL string, st Step, join, leave time.Time, out *StepResult) error {
	if !sleepUntil(ctx, join) {
		return nil
	}
	pub, err := Publish(ctx, whipURL, st.Participant)
	if err != nil {
		return fmt.Errorf("synth: plan step %q: %w", st.Participant.Name, err)
	}
	out.Joined = pub.Start()
	sleepUntil(ctx, leave)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	out.Stats = pub.Stats()
	out.Left = time.Now()
	err = pub.Close(cctx)
	if err != nil {
		return fmt.Errorf("synth: plan step %q leave: %w", st.Participant.Name, err)
	}
	return nil
}

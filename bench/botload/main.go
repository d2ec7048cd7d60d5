// Command botload publishes synthetic participants to a WHIP endpoint
// following a plan, from a process of its own, so that a benchmark can
// measure the bot's CPU without the publishers'. With --replay each
// participant's media is encoded once beforehand and replayed as RTP, so
// the publishers cost little too.
//
//	botload --whip http://127.0.0.1:8080/whip --replay \
//	    Aditya:0:600 iPhone:60:540:720x1280 Guest:120:480
//
// Times are seconds of plan time; sizes default to 1280x720.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/roomtape/roomtape/internal/synth"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "botload:", err)
		os.Exit(1)
	}
}

// step is one participant of the plan.
type step struct {
	p           synth.Participant
	join, leave time.Duration
}

func parseStep(i int, s string) (step, error) {
	f := strings.Split(s, ":")
	if len(f) < 3 || len(f) > 4 {
		return step{}, fmt.Errorf("participant %q: want NAME:JOIN:LEAVE[:WxH]", s)
	}
	join, err1 := strconv.ParseFloat(f[1], 64)
	leave, err2 := strconv.ParseFloat(f[2], 64)
	if err := errors.Join(err1, err2); err != nil {
		return step{}, fmt.Errorf("participant %q: times: %w", s, err)
	}
	if join < 0 || leave <= join {
		return step{}, fmt.Errorf("participant %q: want 0 <= join < leave", s)
	}
	w, h := 1280, 720
	if len(f) == 4 {
		if _, err := fmt.Sscanf(f[3], "%dx%d", &w, &h); err != nil {
			return step{}, fmt.Errorf("participant %q: size: %w", s, err)
		}
	}
	return step{
		p:    synth.Participant{Name: f[0], Index: i, Width: w, Height: h},
		join: time.Duration(join * float64(time.Second)), leave: time.Duration(leave * float64(time.Second)),
	}, nil
}

func run(ctx context.Context) error {
	whip := flag.String("whip", "", "WHIP endpoint URL (required)")
	replay := flag.Bool("replay", false, "replay pre-encoded clips instead of encoding live")
	bitrate := flag.Int("bitrate", 1_500_000, "video bit rate in bit/s")
	clipLen := flag.Duration("clip", 10*time.Second, "length of the replayed clip (looped)")
	flag.Parse()
	if *whip == "" || flag.NArg() == 0 {
		return errors.New("usage: botload --whip URL [--replay] NAME:JOIN:LEAVE[:WxH] [more participants]")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var steps []step
	for i, a := range flag.Args() {
		st, err := parseStep(i, a)
		if err != nil {
			return err
		}
		st.p.BitRate = *bitrate
		steps = append(steps, st)
	}
	clips := make([]*synth.Clip, len(steps))
	if *replay {
		for i, st := range steps {
			t := time.Now()
			c, err := synth.EncodeClip(st.p, *clipLen)
			if err != nil {
				return fmt.Errorf("encode clip of %s: %w", st.p.Name, err)
			}
			clips[i] = c
			fmt.Printf("clip %s: %dx%d, %d KiB, encoded in %.1fs\n", st.p.Name, c.Width, c.Height, c.Bytes()>>10, time.Since(t).Seconds())
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(steps))
	for i, st := range steps {
		wg.Go(func() { errs[i] = publish(ctx, *whip, start, st, clips[i]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func publish(ctx context.Context, whip string, start time.Time, st step, clip *synth.Clip) error {
	if !sleepUntil(ctx, start.Add(st.join)) {
		return nil
	}
	var pub *synth.Publisher
	var err error
	if clip != nil {
		pub, err = synth.PublishClip(ctx, whip, st.p, clip)
	} else {
		pub, err = synth.Publish(ctx, whip, st.p)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", st.p.Name, err)
	}
	fmt.Printf("%7.1fs %s joined\n", time.Since(start).Seconds(), st.p.Name)
	sleepUntil(ctx, start.Add(st.leave))
	s := pub.Stats()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = pub.Close(cctx)
	fmt.Printf("%7.1fs %s left (%d video frames, %d audio packets sent)\n", time.Since(start).Seconds(), st.p.Name, s.VideoFrames, s.AudioPackets)
	return err
}

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

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
	"syscall"
	"time"

	"github.com/roomtape/roomtape/internal/bot"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "botload:", err)
		os.Exit(1)
	}
}

func parseStep(s string) (bot.PlanStep, error) {
	f := strings.Split(s, ":")
	if len(f) < 3 || len(f) > 4 {
		return bot.PlanStep{}, fmt.Errorf("participant %q: want NAME:JOIN:LEAVE[:WxH]", s)
	}
	join, err1 := strconv.ParseFloat(f[1], 64)
	leave, err2 := strconv.ParseFloat(f[2], 64)
	if err := errors.Join(err1, err2); err != nil {
		return bot.PlanStep{}, fmt.Errorf("participant %q: times: %w", s, err)
	}
	if join < 0 || leave <= join {
		return bot.PlanStep{}, fmt.Errorf("participant %q: want 0 <= join < leave", s)
	}
	st := bot.PlanStep{
		Name: f[0], Width: 1280, Height: 720,
		Join: time.Duration(join * float64(time.Second)), Leave: time.Duration(leave * float64(time.Second)),
	}
	if len(f) == 4 {
		if _, err := fmt.Sscanf(f[3], "%dx%d", &st.Width, &st.Height); err != nil {
			return bot.PlanStep{}, fmt.Errorf("participant %q: size: %w", s, err)
		}
	}
	return st, nil
}

func run(ctx context.Context) error {
	whip := flag.String("whip", "", "WHIP endpoint URL (required)")
	replay := flag.Bool("replay", false, "replay pre-encoded clips instead of encoding live")
	bitrate := flag.Int("bitrate", 1_500_000, "video bit rate in bit/s")
	clipLen := flag.Duration("clip", bot.DefaultClipLength, "length of the replayed clip (looped)")
	flag.Parse()
	if *whip == "" || flag.NArg() == 0 {
		return errors.New("usage: botload --whip URL [--replay] NAME:JOIN:LEAVE[:WxH] [more participants]")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var plan []bot.PlanStep
	for _, a := range flag.Args() {
		st, err := parseStep(a)
		if err != nil {
			return err
		}
		plan = append(plan, st)
	}
	return bot.PublishPlan(ctx, *whip, plan, bot.PlanOptions{
		Replay: *replay, ClipLength: *clipLen, BitRate: *bitrate,
		Logger: bot.NewLogger(os.Stdout, 0, false),
	})
}

// Command bot records a room, composes the recording into one MP4 whose
// layout follows who is present, and uploads it.
//
// With no flags it runs a self-contained demo on 127.0.0.1 (synthetic WHIP
// publishers); --whip-listen records external WHIP publishers; --room-url
// joins a LiveKit room. See README.md.
//
// The first SIGINT or SIGTERM ends recording cleanly (files closed,
// session.json final, composition and upload run); a second one aborts
// composition and keeps every recorded file.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/roomtape/roomtape/internal/bot"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	stop := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "bot: %v: finishing the session (again to abort composition)\n", s)
			close(stop)
		case <-ctx.Done():
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "bot: %v: aborting; recorded files are kept\n", s)
			cancel()
		case <-ctx.Done():
		}
	}()
	return bot.Main(ctx, os.Args[1:], bot.OSEnv, os.Stdout, os.Stderr, stop)
}

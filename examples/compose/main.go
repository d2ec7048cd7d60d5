// Command compose recomposes a saved session into one MP4 without re-running
// the bot, like the prototype's compose_video.py:
//
//	compose --session recordings/<id>/session.json
//	compose --store-prefix rooms/<id>/ --work recordings/<id> --upload   # S3_BUCKET, S3_ENDPOINT, AWS_*
//	compose --p1-video a.mp4 --p1-name A --p1-join 0 --p1-leave 65 --p1-audio a.wav \
//	        --p2-video b.mp4 --p2-name B --p2-join 40 --p2-leave 55 --p2-audio b.wav \
//	        --output out.mp4
//
// See README.md for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/s3"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// maxParticipants is how many --pN-* flag groups there are.
const maxParticipants = 16

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		// The compose package's errors name it already.
		msg := err.Error()
		if !strings.HasPrefix(msg, "compose: ") {
			msg = "compose: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

type participantFlags struct {
	video, name, audio string
	join, leave        string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compose", flag.ContinueOnError)
	fs.SetOutput(stderr)
	session := fs.String("session", "", "session.json to compose")
	output := fs.String("output", "", "output MP4 (default <session dir>/<session_id>_composed.mp4)")
	width := fs.Int("width", envInt("OUTPUT_WIDTH", compose.DefaultWidth), "output width (env OUTPUT_WIDTH)")
	height := fs.Int("height", envInt("OUTPUT_HEIGHT", compose.DefaultHeight), "output height (env OUTPUT_HEIGHT)")
	fps := fs.Int("fps", compose.DefaultFPS, "output frame rate")
	layout := fs.String("layout", "columns", "layout: columns, grid, speaker, single-speaker or auto")
	fit := fs.String("fit", "letterbox", "aspect policy: letterbox or crop")
	preset := fs.String("preset", compose.DefaultPreset, "libx264 preset")
	crf := fs.Int("crf", compose.DefaultCRF, "libx264 CRF")
	x264Params := fs.String("x264-params", "", "extra libx264 options, key=value:key=value (default: "+compose.DefaultX264Params+" with the default preset; - for none)")
	labels := fs.Bool("labels", false, "draw names on tiles")
	crossFade := fs.Duration("cross-fade", 0, "dissolve speaker switches of the speaker layouts over this long (0 to 1s; 0 cuts)")
	ignoreHints := fs.Bool("ignore-hints", false, "speaker layouts: decode the audio even when the session has transport hints (audio levels, active speakers)")
	hold := fs.Duration("hold-last", compose.DefaultHoldLast, "how long a stopped stream's last frame stays")
	printGraph := fs.Bool("print-graph", false, "print the filter graph of each layout window and exit")
	fullSpan := fs.Bool("full-span", false, "compose the whole session, not only first join to last leave")
	finalize := fs.String("finalize", "", "finish the partial composed output (*.part.mp4) a live-composing bot left in this session directory, without re-encoding, and exit")
	storePrefix := fs.String("store-prefix", "", "compose the session stored under this S3 key prefix (S3_BUCKET, S3_ENDPOINT, AWS_*): fetched into --work first")
	work := fs.String("work", "", "with --store-prefix: the local directory the session is fetched into (default ./recordings/<last element of the prefix>)")
	upload := fs.Bool("upload", false, "with --store-prefix: store the output under the prefix as <session_id>_recording.mp4 (a rerun replaces it: one object)")
	parts := make([]participantFlags, maxParticipants)
	for i := range parts {
		n := i + 1
		fs.StringVar(&parts[i].video, fmt.Sprintf("p%d-video", n), "", fmt.Sprintf("participant %d video file", n))
		fs.StringVar(&parts[i].name, fmt.Sprintf("p%d-name", n), "", fmt.Sprintf("participant %d name", n))
		fs.StringVar(&parts[i].join, fmt.Sprintf("p%d-join", n), "", fmt.Sprintf("participant %d join time (s)", n))
		fs.StringVar(&parts[i].leave, fmt.Sprintf("p%d-leave", n), "", fmt.Sprintf("participant %d leave time (s)", n))
		fs.StringVar(&parts[i].audio, fmt.Sprintf("p%d-audio", n), "", fmt.Sprintf("participant %d audio file", n))
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}

	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("LOG_LEVEL"), "DEBUG") {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	compose.SetFFmpegLogger(logger)

	if *finalize != "" {
		start := time.Now()
		done, err := compose.FinalizeDir(ctx, *finalize, logger)
		for _, f := range done {
			_, _ = fmt.Fprintln(stdout, f)
		}
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(stdout, "Finalisation done in %.1fs\n", time.Since(start).Seconds())
		return nil
	}

	var store storage.Store
	if *storePrefix != "" {
		if *session != "" {
			return errors.New("use either --session or --store-prefix, not both")
		}
		var err error
		if store, *session, err = fetchSession(ctx, *storePrefix, *work, logger); err != nil {
			return err
		}
	} else if *upload || *work != "" {
		return errors.New("--upload and --work need --store-prefix")
	}
	s, out, err := loadSession(*session, *output, parts)
	if err != nil {
		return err
	}
	if *storePrefix != "" && *output == "" {
		// The name UploadSession gives the final MP4: one key per session.
		out = filepath.Join(filepath.Dir(*session), s.SessionID+"_recording.mp4")
	}
	cfg := compose.Config{
		Width: *width, Height: *height, FPS: *fps, Preset: *preset, CRF: *crf, X264Params: *x264Params,
		Labels: *labels, HoldLast: *hold, FullSpan: *fullSpan, Logger: logger,
		CrossFade: *crossFade, IgnoreHints: *ignoreHints,
	}
	k, ok := timeline.ParseLayout(*layout)
	if !ok {
		return fmt.Errorf("--layout %q: want columns, grid, speaker, single-speaker or auto", *layout)
	}
	cfg.Layout = k
	switch *fit {
	case "letterbox":
		cfg.Fit = timeline.Letterbox
	case "crop":
		cfg.Fit = timeline.Crop
	default:
		return fmt.Errorf("--fit %q: want letterbox or crop", *fit)
	}

	if *printGraph {
		gs, err := compose.Graphs(s, cfg)
		if err != nil {
			return err
		}
		for _, g := range gs {
			var names []string
			for _, p := range g.Window.Participants {
				names = append(names, p.Name)
			}
			_, _ = fmt.Fprintf(stdout, "# window %v - %v: %s\n%s\n", g.Window.Start, g.Window.End, strings.Join(names, ", "), g.Plan)
		}
		return nil
	}

	bar := newProgressBar(stderr)
	cfg.Progress = bar.update
	start := time.Now()
	if err := compose.Session(ctx, s, out, cfg); err != nil {
		bar.done()
		return err
	}
	bar.done()
	_, _ = fmt.Fprintf(stdout, "Composition done in %.1fs\n", time.Since(start).Seconds())
	_, _ = fmt.Fprintln(stdout, out)
	if *upload {
		res, err := storage.UploadSession(ctx, store, *session, storage.UploadOptions{Prefix: *storePrefix, Final: out, Logger: logger})
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintln(stdout, res.Final().Key)
	}
	return nil
}

// fetchSession restores the session stored under prefix into work (or
// ./recordings/<last element of prefix>) and returns the store and the
// local session.json.
func fetchSession(ctx context.Context, prefix, work string, logger *slog.Logger) (storage.Store, string, error) {
	cfg, err := s3.ConfigFromEnv()
	if err != nil {
		return nil, "", err
	}
	cfg.Logger = logger
	store, err := s3.New(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	if work == "" {
		work = filepath.Join("recordings", filepath.Base(filepath.Clean(prefix)))
	}
	if _, err := storage.FetchSession(ctx, store, prefix, work, storage.FetchOptions{Logger: logger}); err != nil {
		return nil, "", err
	}
	return store, filepath.Join(work, storage.ManifestName), nil
}

// loadSession reads --session or builds a session from the --pN-* flags,
// and picks the output path.
func loadSession(path, output string, parts []participantFlags) (*manifest.Session, string, error) {
	var flagged []participantFlags
	for i, p := range parts {
		if p.video == "" && p.audio == "" && p.name == "" && p.join == "" && p.leave == "" {
			continue
		}
		if p.name == "" {
			p.name = fmt.Sprintf("p%d", i+1)
		}
		flagged = append(flagged, p)
	}
	switch {
	case path != "" && len(flagged) > 0:
		return nil, "", errors.New("use either --session or --pN-* flags, not both")
	case path != "":
		s, err := manifest.Load(path)
		if err != nil {
			return nil, "", err
		}
		if output == "" {
			id := s.SessionID
			if id == "" {
				id = "session"
			}
			output = filepath.Join(filepath.Dir(path), id+"_composed.mp4")
		}
		return s, output, nil
	case len(flagged) == 0:
		return nil, "", errors.New("nothing to compose: give --session or --p1-video/--p1-audio ... flags")
	}
	if output == "" {
		return nil, "", errors.New("--output is required with --pN-* flags")
	}
	s := &manifest.Session{SessionID: "composed", SessionDir: filepath.Dir(output)}
	for _, p := range flagged {
		join, err := seconds(p.name, "join", p.join)
		if err != nil {
			return nil, "", err
		}
		leave, err := seconds(p.name, "leave", p.leave)
		if err != nil {
			return nil, "", err
		}
		s.Participants = append(s.Participants, manifest.Participant{
			Name: p.name, JoinTimeS: join, LeaveTimeS: leave,
			VideoPath: abs(p.video), AudioPath: abs(p.audio),
		})
	}
	if err := s.Validate(); err != nil {
		return nil, "", err
	}
	return s, output, nil
}

func seconds(who, what, v string) (float64, error) {
	if v == "" {
		return 0, fmt.Errorf("participant %q: --%s is required", who, what)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("participant %q: --%s %q: %w", who, what, v, err)
	}
	return f, nil
}

func abs(p string) string {
	if p == "" {
		return ""
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// Package bot is the roomtape bot behind examples/bot: it records a room
// (WHIP publishers, a LiveKit room, or its own synthetic demo), composes
// the recording into one MP4, and uploads it.
//
// [Main] is the whole program minus signal handling; [Run] is the same
// with a parsed [Config].
package bot

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/whip"
)

// Errors callers can test with errors.Is.
var (
	// ErrRecordingsDir means the recordings root cannot be written.
	ErrRecordingsDir = errors.New("bot: recordings directory not writable")
	// ErrListen means the ingest address cannot be listened on.
	ErrListen = errors.New("bot: cannot listen")
	// ErrUpload means the upload target is unreachable or the upload
	// failed; recorded files are kept.
	ErrUpload = errors.New("bot: upload failed")
	// ErrCompose means composition failed or was aborted; recorded files
	// are kept.
	ErrCompose = errors.New("bot: composition failed")
)

// closeTimeout bounds closing the recorder session (flushing files and
// writing the final session.json), even after an abort.
const closeTimeout = 30 * time.Second

// Options are the run-time hooks of [Run]. The zero value works.
type Options struct {
	// Stop (optional), when closed, ends recording gracefully: files are
	// closed, then composition and upload run. Cancelling Run's ctx
	// instead aborts whatever runs, keeping every recorded file.
	Stop <-chan struct{}
	// Out (optional) receives the user-facing progress lines (the
	// prototype's "Step 1 done in Xs", the output path, the URL); defaults
	// to discarding them.
	Out io.Writer
	// Logger (optional) defaults to discarding logs.
	Logger *slog.Logger
	// OnListen (optional) is called with the WHIP endpoint URL once the
	// ingest accepts publishers.
	OnListen func(whipURL string)

	// The hooks below let a host (recorder/service) run this same
	// pipeline for its jobs.

	// WHIPHost (optional), in ModeWHIP, mounts the ingest on the host's
	// HTTP server instead of listening on cfg.WHIPListen.
	WHIPHost *WHIPHost
	// Sinks (optional) receive the session's events besides the bot's
	// own; they run on the session's delivery goroutine (recorder.Sink).
	Sinks []recorder.Sink
	// OnProgress (optional) receives the composition's progress (live and
	// after the call), on the composer's goroutine.
	OnProgress func(compose.Progress)
	// OnPhase (optional) is called, on Run's goroutine, as Run moves from
	// recording to composing and to uploading.
	OnPhase func(Phase)
	// OnStreamEvent (optional) is told of the live composition's stream
	// outputs' connections and failures (compose.Streams.OnEvent: on the
	// output's goroutine, it must return quickly).
	OnStreamEvent func(compose.StreamEvent)
	// Merge (optional) is called once the session's files are closed
	// with its session.json; it returns the manifest to compose instead
	// (a host that resumed a crashed recording merges the earlier parts
	// in). With Merge set the composition runs after the call.
	Merge func(manifestPath string) (string, error)
	// Recorder (optional) adjusts the session's recorder.Config before
	// the session starts: segments (SegmentDuration, OnFile with a
	// storage.LiveUploader), or continuing a session another worker
	// recorded (Continue, from storage.FetchSession).
	Recorder func(*recorder.Config)
}

// WHIPHost mounts a WHIP ingest on a host's own HTTP server.
type WHIPHost struct {
	// Mount serves h (which handles the WHIP POST at its root and the
	// resources below it) and returns its URL and a function that stops
	// serving it; Run calls them on its own goroutine.
	Mount func(h *whip.Handler) (whipURL string, unmount func())
	// Authenticate (optional) is whip.Config.Authenticate.
	Authenticate func(r *http.Request) (id, name string, err error)
}

// Phase is a step of [Run] after recording.
type Phase int

// Phases reported to Options.OnPhase.
const (
	// PhaseComposing: the files are closed, composition runs (or finishes,
	// when live).
	PhaseComposing Phase = iota + 1
	// PhaseUploading: the composition is done, the upload runs.
	PhaseUploading
)

// Result says what a run produced.
type Result struct {
	SessionID    string
	SessionDir   string
	ManifestPath string
	// Output is the composed MP4; empty when not composed.
	Output string
	// Audio is the audio-only M4A (--audio-m4a); empty without it.
	Audio string
	// URL is where the output was uploaded; empty when kept local.
	URL string
	// Participants is the number of participants who ever joined.
	Participants int
	// RecordingEnded is when recording stopped (the demo's last participant
	// left, the idle timeout passed after the last leave, the room closed,
	// or Stop was closed); post-processing is timed from there.
	RecordingEnded time.Time
	// Step1 is the time to stop the transport, close the files and write
	// the final manifest;
	// Composition the time to compose after Step 1 (live, what was left
	// to compose and the remux); PostProcessing the total from
	// RecordingEnded to the end (composition and upload included).
	Step1, Composition, Upload, PostProcessing time.Duration
	// RecordingCPU and PostProcessingCPU are the process's CPU time (user
	// + system) until RecordingEnded and after it; 0 where not measured.
	RecordingCPU, PostProcessingCPU time.Duration
}

// Main parses args (without the program name) with env, then runs the
// bot: progress lines go to stdout, logs to stderr. Closing stop ends
// recording gracefully; cancelling ctx aborts. It returns nil for -help.
func Main(ctx context.Context, args []string, env Env, stdout, stderr io.Writer, stop <-chan struct{}) error {
	cfg, err := ParseArgs(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger := NewLogger(stderr, cfg.LogLevel, cfg.LogJSON)
	compose.SetFFmpegLogger(logger.With("component", "ffmpeg"))
	_, err = Run(ctx, cfg, Options{Stop: stop, Out: stdout, Logger: logger})
	return err
}

// Run records a session as cfg says, then composes and uploads it.
func Run(ctx context.Context, cfg Config, opts Options) (*Result, error) {
	log := opts.Logger
	if log == nil {
		log = discardLogger()
	}
	w := opts.Out
	if w == nil {
		w = io.Discard
	}
	out := &printer{w: w}
	if compose.FFmpegLogger() == nil {
		// FFmpeg's log is process-wide: a host (examples/bot) routes it
		// once; otherwise it goes to this session's logger.
		compose.SetFFmpegLogger(log)
	}
	log.Info("starting", "mode", cfg.Mode.String(), "recordings_dir", cfg.RecordingsDir,
		"output", fmt.Sprintf("%dx%d@%d", cfg.Width, cfg.Height, cfg.FPS), "s3", cfg.S3, "livekit", cfg.LiveKit)

	if err := checkWritable(cfg.RecordingsDir); err != nil {
		return nil, err
	}
	var up *uploader
	if cfg.S3.Bucket != "" {
		var err error
		if up, err = newUploader(ctx, cfg.S3, log); err != nil {
			return nil, err
		}
	}

	presence := newPresence()
	rcfg := recorder.Config{
		ID:     cfg.SessionID,
		Dir:    cfg.RecordingsDir,
		Sinks:  append([]recorder.Sink{recorder.EventFunc(presence.onEvent)}, opts.Sinks...),
		Logger: log.With("component", "recorder"),
	}
	if opts.Recorder != nil {
		opts.Recorder(&rcfg)
	}
	sess, err := recorder.NewSession(rcfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRecordingsDir, cfg.RecordingsDir, err)
	}
	res := &Result{SessionID: sess.ID(), SessionDir: sess.Dir(), ManifestPath: sess.ManifestPath()}
	log = log.With("session", sess.ID())
	closeSession := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		return sess.Close(cctx)
	}

	output := OutputPath(res.SessionDir, res.SessionID)
	hlsUp := startHLSUpload(ctx, cfg, up, sess.Dir(), sess.ID(), log)
	defer hlsUp.stop()
	if opts.Merge != nil {
		cfg.Offline = true
	}
	live := startLive(ctx, cfg, sess, output, log, out, hlsUp, opts)
	defer live.stop()

	ended, recErr := record(ctx, cfg, opts, sess, presence, log, out)
	res.RecordingEnded = ended
	res.RecordingCPU = cpuTime()
	res.Participants = presence.everJoined()
	if err := closeSession(); err != nil {
		return res, errors.Join(recErr, fmt.Errorf("bot: close session %s: %w", sess.ID(), err))
	}
	res.Step1 = time.Since(res.RecordingEnded)
	out.printf("Step 1 done in %.2fs (files closed, %s written)\n", res.Step1.Seconds(), res.ManifestPath)
	if recErr != nil {
		out.printf("Recording kept in %s\n", res.SessionDir)
		return res, recErr
	}
	if res.Participants == 0 {
		out.printf("Nobody joined: nothing to compose (session directory %s)\n", res.SessionDir)
		return res, nil
	}
	if cfg.NoCompose {
		out.printf("Recording saved in %s (composition skipped)\n", res.SessionDir)
		return res, nil
	}

	if opts.OnPhase != nil {
		opts.OnPhase(PhaseComposing)
	}
	t := time.Now()
	res.Output = output
	composeFrom := res.ManifestPath
	if opts.Merge != nil {
		if composeFrom, err = opts.Merge(res.ManifestPath); err != nil {
			res.Output = ""
			return res, fmt.Errorf("%w: merge %s: %w", ErrCompose, res.ManifestPath, err)
		}
	}
	if live.done == nil {
		err = composeSession(ctx, cfg, composeFrom, res.Output, log, out, opts.OnProgress)
	} else if err = live.wait(); err != nil && ctx.Err() == nil {
		// Whatever stopped the live composition, the recording is
		// complete: compose it again from the files.
		log.Warn("live composition failed; composing after the call", "error", err)
		out.printf("Live composition failed (%v); composing from the files\n", err)
		err = composeSession(ctx, cfg, res.ManifestPath, res.Output, log, out, opts.OnProgress)
	}
	if err != nil {
		res.Output = ""
		out.printf("Composition failed; recording kept in %s\n", res.SessionDir)
		return res, fmt.Errorf("%w: %s: %w", ErrCompose, res.ManifestPath, err)
	}
	res.Composition = time.Since(t)
	res.Audio = audioFile(cfg, res.Output)
	out.printf("Composition done in %.2fs\n", res.Composition.Seconds())

	if up != nil {
		if opts.OnPhase != nil {
			opts.OnPhase(PhaseUploading)
		}
		t = time.Now()
		url, err := up.uploadSession(ctx, res, cfg.UploadAll)
		if err != nil {
			out.printf("Upload failed; recording kept in %s\n", res.SessionDir)
			return res, err
		}
		if hlsUp != nil {
			if err := hlsUp.finish(ctx); err != nil {
				out.printf("HLS upload failed; the stream is kept in %s\n", HLSDir(res.SessionDir))
				return res, err
			}
		}
		res.URL = url
		res.Upload = time.Since(t)
		out.printf("Upload done in %.2fs\n", res.Upload.Seconds())
	}
	res.PostProcessing = time.Since(res.RecordingEnded)
	res.PostProcessingCPU = cpuTime() - res.RecordingCPU
	out.printf("DONE — total post-processing: %.2fs\n", res.PostProcessing.Seconds())
	out.printf("CPU: recording %.1fs, post-processing %.1fs\n", res.RecordingCPU.Seconds(), res.PostProcessingCPU.Seconds())
	out.printf("Recording: %s\n", res.Output)
	if res.URL != "" {
		out.printf("URL: %s\n", res.URL)
	}
	return res, nil
}

// OutputPath is the composed MP4 of a session: <dir>/<id>_recording.mp4,
// the prototype's name.
func OutputPath(dir, id string) string {
	return filepath.Join(dir, id+"_recording.mp4")
}

// liveComposer runs compose.Live beside the recording, owned by Run: start
// it with startLive, then wait for it once recording ended or stop it.
type liveComposer struct {
	cancel context.CancelFunc
	done   chan error // nil: composing after the call
	err    error
	waited bool
}

// startLive starts the live composition of sess into output unless cfg
// composes after the call or not at all.
func startLive(ctx context.Context, cfg Config, sess *recorder.Session, output string, log *slog.Logger, out *printer, hlsUp *hlsUploader, opts Options) *liveComposer {
	l := &liveComposer{cancel: func() {}}
	if cfg.NoCompose || cfg.Offline {
		return l
	}
	lctx, cancel := context.WithCancel(ctx)
	l.cancel, l.done = cancel, make(chan error, 1)
	ccfg := composeConfig(cfg, log, out, opts.OnProgress)
	ccfg.AudioFile = audioFile(cfg, output)
	ccfg.Streams = streamsConfig(cfg, sess.Dir(), out, hlsUp, opts.OnStreamEvent)
	go func() { l.done <- compose.Live(lctx, sess, output, ccfg) }()
	log.Info("composing live", "delay", ccfg.Delay, "output", output, "streams", streamTargets(ccfg.Streams))
	return l
}

// wait returns the live composition's result once the session has ended.
func (l *liveComposer) wait() error {
	if l.waited {
		return l.err
	}
	l.waited = true
	if l.done != nil {
		l.err = <-l.done
	}
	return l.err
}

// stop aborts a live composition still running and waits for it.
func (l *liveComposer) stop() {
	l.cancel()
	if l.done != nil && !l.waited {
		l.waited = true
		l.err = <-l.done
	}
}

// checkWritable makes dir and proves a file can be created in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRecordingsDir, dir, err)
	}
	f, err := os.CreateTemp(dir, ".roomtape-check-*")
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRecordingsDir, dir, err)
	}
	name := f.Name()
	return errors.Join(f.Close(), os.Remove(name))
}

// presence follows joins and leaves for the idle timeout.
type presence struct {
	mu      sync.Mutex
	ids     map[string]bool
	present int
	changed chan struct{} // closed and replaced on every change
}

func newPresence() *presence {
	return &presence{ids: map[string]bool{}, changed: make(chan struct{})}
}

func (p *presence) onEvent(e recorder.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case recorder.ParticipantJoined:
		p.ids[e.ParticipantID] = true
		p.present++
	case recorder.ParticipantLeft:
		p.present--
	default:
		return
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// state returns who is present, whether anyone ever joined, and a channel
// closed at the next change.
func (p *presence) state() (present int, ever bool, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.present, len(p.ids) > 0, p.changed
}

func (p *presence) everJoined() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids)
}

// waitIdle returns once someone has joined and then nobody has been
// present for idle, when stop is closed, or when ctx is done (ctx.Err()).
func (p *presence) waitIdle(ctx context.Context, stop <-chan struct{}, idle time.Duration) error {
	for {
		n, ever, changed := p.state()
		var timeout <-chan time.Time
		var timer *time.Timer
		if ever && n == 0 {
			timer = time.NewTimer(idle)
			timeout = timer.C
		}
		var err error
		done := true
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-stop:
		case <-timeout:
		case <-changed:
			done = false
		}
		if timer != nil {
			timer.Stop()
		}
		if done {
			return err
		}
	}
}

// CPUTime is the process's CPU time (user + system) so far; 0 where not
// measured.
func CPUTime() time.Duration { return cpuTime() }

package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/bot"
	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/whip"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Timing of the runner.
const (
	// progressEvery spaces the progress writes of a running job.
	progressEvery = time.Second
	// cpuEvery spaces the CPU samples of the per-kind CPU metric.
	cpuEvery = time.Second
	// DefaultIdleTimeout ends a recording once everyone has left for this
	// long.
	DefaultIdleTimeout = 30 * time.Second
)

// runMsg claims the message's job, runs it and acks the message once the
// job is final. On ctx's end it leaves the message unacked (redelivered).
func (s *Service) runMsg(ctx context.Context, msg jetstream.Msg) {
	id := string(msg.Data())
	attempt := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		attempt = md.NumDelivered
	}
	log := s.log.With("job", id, "attempt", attempt)
	j, err := s.q.update(ctx, id, func(j *Job) error {
		if j.State.Final() {
			return errSkip
		}
		j.Worker, j.Attempt = s.worker, attempt
		j.Claims++
		if j.Claims > maxDeliveries {
			j.State, j.ErrorKind = StateFailed, "claims"
			j.Error = fmt.Sprintf("claimed %d times without finishing: its workers died or lost it each time", j.Claims-1)
			now := time.Now().UTC()
			j.FinishedAt = &now
			return nil
		}
		if j.StopRequest && j.State == StateQueued {
			j.State = StateStopped
			now := time.Now().UTC()
			j.FinishedAt = &now
			return nil
		}
		if j.StartedAt == nil {
			now := time.Now().UTC()
			j.StartedAt = &now
		}
		if j.State == StateQueued {
			j.State = map[Kind]State{KindRecord: StateRecording, KindCompose: StateComposing, KindUpload: StateUploading}[j.Kind]
		}
		return nil
	})
	switch {
	case errors.Is(err, errNotFound):
		log.Warn("queued job not in the bucket; dropped")
		_ = msg.Term()
		return
	case err != nil:
		log.Error("claim job", "err", err)
		_ = msg.NakWithDelay(fetchWait)
		return
	case j.State.Final() || j.Attempt != attempt:
		if j.State == StateStopped || j.State == StateFailed {
			s.releaseRoomOf(j)
		}
		_ = msg.Ack()
		return
	}
	log.Info("job claimed", "kind", j.Kind, "state", j.State, "parts", len(j.Parts))

	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var hb sync.WaitGroup
	hb.Go(func() { s.heartbeat(rctx, msg) })
	defer hb.Wait()
	defer cancel(nil)

	r := &run{s: s, job: j, attempt: attempt, log: log, cancel: func() { cancel(ErrConflict) }}
	unlease, err := s.leaseRun(rctx, r, cancel)
	if err != nil {
		s.leaveMsg(ctx, rctx, msg, log, err)
		return
	}
	defer unlease()
	s.addRunning(j.Kind, 1)
	defer s.addRunning(j.Kind, -1)
	final, err := r.exec(rctx)
	if ctx.Err() != nil || rctx.Err() != nil || errors.Is(err, ErrConflict) {
		unlease()
		s.leaveMsg(ctx, rctx, msg, log, err)
		return
	}
	r.finish(ctx, final, err)
	_ = msg.Ack()
}

// heartbeat keeps the job's message from being redelivered while it runs.
func (s *Service) heartbeat(ctx context.Context, msg jetstream.Msg) {
	t := time.NewTicker(s.cfg.AckWait / heartbeatDivisor)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := msg.InProgress(); err != nil {
				s.log.Warn("job heartbeat", "job", string(msg.Data()), "err", err)
			}
		}
	}
}

func (s *Service) addRunning(k Kind, d int) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.running[k] += d
}

// sampleCPU splits each second's process CPU evenly among the running
// jobs and adds it to their kinds.
func (s *Service) sampleCPU(ctx context.Context) {
	t := time.NewTicker(cpuEvery)
	defer t.Stop()
	last := bot.CPUTime()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := bot.CPUTime()
		d := (now - last).Seconds()
		last = now
		s.runMu.Lock()
		n := 0
		for _, c := range s.running {
			n += c
		}
		for k, c := range s.running {
			if c > 0 {
				s.metrics.cpu.WithLabelValues(string(k)).Add(d * float64(c) / float64(n))
			}
		}
		s.runMu.Unlock()
	}
}

// run is one execution of a job. Its goroutine (exec) runs it; the
// progress reporter, the pipeline's callbacks (OnPhase on exec's
// goroutine, presence and progress on the session's and composer's) and
// the WHIP authenticator (HTTP goroutines) share it through mu.
type run struct {
	s       *Service
	attempt uint64
	log     *slog.Logger
	cancel  context.CancelFunc

	mu   sync.Mutex // guards job (swapped, never changed) and live
	job  *Job
	live Progress

	// streams follows a record run's stream outputs (nil without any);
	// set before the pipeline starts, never swapped.
	streams *streamTracker
}

// write applies fn to the stored job unless the job was taken over (its
// Attempt moved on: ErrConflict, and the run is cancelled).
func (r *run) write(ctx context.Context, fn func(*Job)) error {
	j, err := r.s.q.update(context.WithoutCancel(ctx), r.current().ID, func(j *Job) error {
		if j.Attempt != r.attempt {
			return fmt.Errorf("%w: job %s taken over (attempt %d, ours %d)", ErrConflict, j.ID, j.Attempt, r.attempt)
		}
		fn(j)
		return nil
	})
	if errors.Is(err, ErrConflict) {
		r.cancel()
	}
	if err == nil {
		r.mu.Lock()
		r.job = j
		r.mu.Unlock()
	}
	return err
}

// current is the job as last written by this run. Every *Job it returns
// is a fresh copy from the bucket, never changed after: safe to read from
// any goroutine.
func (r *run) current() *Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.job
}

// exec runs the job and returns its final state.
func (r *run) exec(ctx context.Context) (State, error) {
	switch r.current().Kind {
	case KindRecord:
		return r.record(ctx)
	case KindCompose:
		return r.compose(ctx)
	case KindUpload:
		return r.upload(ctx)
	}
	return StateFailed, fmt.Errorf("service: unknown job kind %q", r.current().Kind)
}

// finish writes the final state, releases the room and sends the webhook.
func (r *run) finish(ctx context.Context, state State, err error) {
	kind := r.current().Kind
	if err != nil {
		state = StateFailed
		r.s.metrics.errors.WithLabelValues(string(kind)).Inc()
		r.log.Error("job failed", "err", err)
	}
	werr := r.write(ctx, func(j *Job) {
		j.State = state
		now := time.Now().UTC()
		j.FinishedAt = &now
		j.Progress.Participants = 0
		if st := r.streams.final(); st != nil {
			j.Streams = st
		}
		if err != nil {
			j.Error, j.ErrorKind = err.Error(), string(kind)
		}
	})
	if werr != nil {
		r.log.Error("final state not written", "state", state, "err", werr)
	}
	r.s.releaseRoomOf(r.current())
	r.log.Info("job finished", "state", state)
	switch {
	case kind == KindRecord && state == StateDone:
		r.s.emit(EventRecordingReady, r.current())
	case kind == KindRecord && state == StateFailed:
		r.s.emit(EventRecordingFailed, r.current())
	case kind == KindCompose && state == StateDone:
		r.s.emit(EventCompositionReady, r.current())
	}
}

func (s *Service) releaseRoomOf(j *Job) {
	s.dropSecrets(j)
	if j.Room != nil {
		s.q.releaseRoom(context.Background(), j.Room.Type, j.Room.Name, j.ID)
	}
}

// botConfig is the pipeline configuration of the job's output settings.
func (s *Service) botConfig(o Output) (bot.Config, error) {
	cfg := bot.Config{
		RecordingsDir: s.recDir,
		Width:         o.Width, Height: o.Height, FPS: o.FPS,
		Preset: o.Preset, CRF: compose.DefaultCRF,
		LiveDelay: compose.DefaultDelay,
		PublicICE: s.cfg.PublicICE,
		WHIPHosts: s.cfg.WHIPHosts, WHIPOrigins: s.cfg.WHIPOrigins,
		LogLevel: slog.LevelInfo,
	}
	if cfg.Width == 0 {
		cfg.Width, cfg.Height = compose.DefaultWidth, compose.DefaultHeight
	}
	if cfg.FPS == 0 {
		cfg.FPS = compose.DefaultFPS
	}
	if cfg.Preset == "" {
		cfg.Preset = compose.DefaultPreset
	}
	var err error
	if cfg.Layout, err = parseLayout(o.Layout); err != nil {
		return cfg, err
	}
	switch o.Compose {
	case ComposeNone:
		cfg.NoCompose = true
	case ComposeOffline:
		cfg.Offline = true
	}
	if o.Upload {
		cfg.S3 = bot.S3Config{
			Bucket: s.cfg.S3.Bucket, Region: s.cfg.S3.Region, Endpoint: s.cfg.S3.Endpoint,
			Prefix: s.cfg.S3.Prefix, BaseCDNURL: s.cfg.S3.BaseURL,
			AccessKeyID: s.cfg.S3.AccessKeyID, SecretAccessKey: s.cfg.S3.SecretAccessKey,
		}
	}
	return cfg, nil
}

// parseLayout reads output.layout (the bot's names; "" is columns).
func parseLayout(s string) (timeline.LayoutKind, error) {
	if s == "" {
		return timeline.Columns, nil
	}
	l, ok := timeline.ParseLayout(s)
	if !ok {
		return 0, fmt.Errorf("%w: output.layout %q: want %s", errBadRequest, s, layoutNames)
	}
	return l, nil
}

// layoutNames lists the layouts in error messages.
const layoutNames = "columns, grid, speaker, single-speaker or auto"

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// record runs (or resumes) a record job.
func (r *run) record(ctx context.Context) (State, error) {
	j := r.current()
	cfg, err := r.s.botConfig(j.Output)
	if err != nil {
		return StateFailed, err
	}
	if j.RecordedAt != nil { // the call was over when the last worker died
		return r.composeParts(ctx, cfg)
	}
	if err := r.s.secretConfig(ctx, j, &cfg); err != nil {
		return StateFailed, err
	}
	r.streams = newStreamTracker(r.s, j, r.current, r.log)
	n := len(j.Parts)
	part := Part{SessionID: j.ID, StartedAt: time.Now().UTC()}
	if n > 0 {
		part.SessionID = fmt.Sprintf("%s.%d", j.ID, n+1)
	}
	part.Dir = filepath.Join(r.s.recDir, part.SessionID)
	part.Manifest = filepath.Join(part.Dir, recorder.ManifestName)
	if err := r.write(ctx, func(j *Job) { j.Parts = append(j.Parts, part) }); err != nil {
		return StateFailed, err
	}
	cfg.SessionID = part.SessionID
	cfg.IdleTimeout = DefaultIdleTimeout
	if j.Room.IdleTimeoutS > 0 {
		cfg.IdleTimeout = time.Duration(j.Room.IdleTimeoutS * float64(time.Second))
	}
	stop := make(chan struct{})
	opts := bot.Options{
		Stop:          stop,
		Logger:        r.log,
		Sinks:         []recorder.Sink{recorder.EventFunc(r.onEvent)},
		OnStreamEvent: r.streams.onEvent,
		OnProgress: func(p compose.Progress) {
			r.streams.progress(p.Streams)
			r.mu.Lock()
			defer r.mu.Unlock()
			r.live.ComposedS, r.live.LagS, r.live.Percent = p.Done.Seconds(), p.Lag.Seconds(), p.Percent
		},
		OnPhase: func(p bot.Phase) {
			now := time.Now().UTC()
			state := StateComposing
			if p == bot.PhaseUploading {
				state = StateUploading
			}
			if err := r.write(ctx, func(j *Job) {
				j.State = state
				j.Progress.Participants = 0
				if j.RecordedAt == nil {
					j.RecordedAt = &now
				}
			}); err != nil {
				r.log.Warn("state not written", "state", state, "err", err)
			}
			if p == bot.PhaseComposing {
				r.s.emit(EventRecordingEnded, r.current())
			}
		},
	}
	switch j.Room.Type {
	case RoomWHIP:
		cfg.Mode = bot.ModeWHIP
		opts.WHIPHost = &bot.WHIPHost{Mount: r.mountWHIP, Authenticate: r.authenticate}
	case RoomLiveKit:
		cfg.Mode = bot.ModeLiveKit
		cfg.LiveKit = bot.LiveKitConfig{
			URL: cmpOr(j.Room.URL, r.s.cfg.LiveKit.URL), Room: j.Room.Name, Identity: "roomtape-recorder",
			APIKey: r.s.cfg.LiveKit.APIKey, APISecret: r.s.cfg.LiveKit.APISecret,
		}
	case RoomDaily:
		cfg.Mode = bot.ModeDaily
		cfg.Daily.URL, cfg.Daily.APIKey, cfg.Daily.APIURL = j.Room.URL, r.s.cfg.Daily.APIKey, r.s.cfg.Daily.APIURL
	default:
		return StateFailed, fmt.Errorf("service: room type %q", j.Room.Type)
	}
	if n > 0 {
		opts.Merge = func(string) (string, error) { return r.merge() }
	}
	if n == 0 {
		r.s.emit(EventRecordingStarted, j)
	} else {
		r.log.Info("recording resumed", "part", n+1)
	}

	var wg sync.WaitGroup
	wctx, stopWatch := context.WithCancel(ctx)
	wg.Go(func() { r.watchStop(wctx, stop) })
	wg.Go(func() { r.report(wctx) })
	res, err := bot.Run(ctx, cfg, opts)
	stopWatch()
	wg.Wait()
	r.mu.Lock()
	r.s.metrics.participants.Sub(float64(r.live.Participants))
	r.mu.Unlock()
	if ctx.Err() != nil {
		return StateFailed, ctx.Err()
	}
	if err != nil {
		return StateFailed, err
	}
	if r.current().RecordedAt == nil && res.Participants == 0 && n == 0 {
		return StateStopped, nil // nobody came
	}
	return StateDone, r.writeResults(ctx, res)
}

// writeResults records a finished pipeline's files in the job.
func (r *run) writeResults(ctx context.Context, res *bot.Result) error {
	var files []File
	if res.Output != "" {
		f := File{Name: FileRecording, Path: res.Output, URL: res.URL, Bytes: size(res.Output)}
		if f.URL == "" {
			f.URL = r.s.fileURL(r.current().ID, FileRecording)
		}
		files = append(files, f)
	}
	mp := res.ManifestPath
	if len(r.current().Parts) > 1 {
		mp = mergedPath(r.current())
	}
	files = append(files, File{Name: FileManifest, Path: mp, URL: r.s.fileURL(r.current().ID, FileManifest)})
	var bytes int64
	for _, p := range r.current().Parts {
		bytes += dirSize(p.Dir)
	}
	r.s.metrics.written.Add(float64(bytes))
	if res.URL != "" {
		r.s.metrics.uploaded.Add(float64(size(res.Output)))
	}
	return r.write(ctx, func(j *Job) {
		for _, f := range files {
			j.setFile(f)
		}
	})
}

// mergedPath is where a resumed job's merged manifest goes: beside the
// last part's.
func mergedPath(j *Job) string {
	return filepath.Join(j.Parts[len(j.Parts)-1].Dir, "merged.json")
}

// merge writes the merged manifest of the job's parts and returns its
// path.
func (r *run) merge() (string, error) {
	parts := make([]*manifest.Session, 0, len(r.current().Parts))
	offsets := make([]time.Duration, 0, len(r.current().Parts))
	for _, p := range r.current().Parts {
		m, err := manifest.Load(p.Manifest)
		if err != nil {
			return "", err
		}
		start := p.StartedAt
		if t, err := time.Parse(time.RFC3339Nano, m.StartedAt); err == nil {
			start = t
		}
		parts = append(parts, m)
		offsets = append(offsets, start.Sub(r.current().Parts[0].StartedAt))
	}
	if offsets[0] != 0 { // the first part's own clock is the reference
		first := offsets[0]
		for i := range offsets {
			offsets[i] -= first
		}
	}
	m, err := mergeParts(parts, offsets)
	if err != nil {
		return "", err
	}
	path := mergedPath(r.current())
	if err := m.WriteFile(path); err != nil {
		return "", err
	}
	r.log.Info("parts merged", "parts", len(parts), "manifest", path)
	return path, nil
}

// composeParts composes a job whose call ended before its worker died.
func (r *run) composeParts(ctx context.Context, cfg bot.Config) (State, error) {
	if cfg.NoCompose || len(r.current().Parts) == 0 {
		return StateDone, nil
	}
	last := r.current().Parts[len(r.current().Parts)-1]
	mp := last.Manifest
	if len(r.current().Parts) > 1 {
		var err error
		if mp, err = r.merge(); err != nil {
			return StateFailed, err
		}
	}
	out := bot.OutputPath(last.Dir, last.SessionID)
	if err := bot.Compose(ctx, cfg, mp, out, r.log, r.onProgress); err != nil {
		return StateFailed, err
	}
	res := &bot.Result{SessionID: last.SessionID, SessionDir: last.Dir, ManifestPath: mp, Output: out}
	if cfg.S3.Bucket != "" {
		url, err := bot.Upload(ctx, cfg, res, r.log)
		if err != nil {
			return StateFailed, err
		}
		res.URL = url
	}
	return StateDone, r.writeResults(ctx, res)
}

func (r *run) onProgress(p compose.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live.ComposedS, r.live.LagS, r.live.Percent = p.Done.Seconds(), p.Lag.Seconds(), p.Percent
}

// onEvent follows presence (the session's delivery goroutine).
func (r *run) onEvent(e recorder.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case recorder.ParticipantJoined:
		r.live.Participants++
		r.live.Joined++
		r.s.metrics.participants.Inc()
	case recorder.ParticipantLeft:
		r.live.Participants--
		r.s.metrics.participants.Dec()
	}
}

// report writes the live progress every progressEvery until ctx ends.
func (r *run) report(ctx context.Context) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	var last Progress
	var lastStreams []StreamState
	start := time.Now()
	if len(r.current().Parts) > 0 {
		start = r.current().Parts[0].StartedAt
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		p := r.live
		r.mu.Unlock()
		if r.current().RecordedAt == nil {
			p.RecordedS = time.Since(start).Round(100 * time.Millisecond).Seconds()
		}
		r.s.metrics.lag.Set(p.LagS)
		st := r.streams.snapshot()
		if p == last && slices.Equal(st, lastStreams) {
			continue
		}
		last, lastStreams = p, st
		if err := r.write(ctx, func(j *Job) {
			if st != nil {
				j.Streams = st
			}
			joined := j.Progress.Joined
			if j.RecordedAt != nil {
				p.RecordedS = j.Progress.RecordedS
				p.Participants = 0
			}
			j.Progress = p
			j.Progress.Joined = max(joined, p.Joined)
		}); err != nil && ctx.Err() == nil {
			r.log.Warn("progress not written", "err", err)
		}
	}
}

// watchStop closes stop when the job's stop is requested.
func (r *run) watchStop(ctx context.Context, stop chan struct{}) {
	w, err := r.s.q.kv.Watch(ctx, r.current().ID)
	if err != nil {
		r.log.Error("cannot watch for stop requests", "err", err)
		return
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var j Job
			if json.Unmarshal(e.Value(), &j) == nil && j.StopRequest {
				r.log.Info("stop requested")
				close(stop)
				return
			}
		}
	}
}

// mountWHIP serves the job's WHIP room on the service's handler.
func (r *run) mountWHIP(h *whip.Handler) (string, func()) {
	id := r.current().ID
	r.s.roomsMu.Lock()
	r.s.rooms[id] = h
	r.s.roomsMu.Unlock()
	return r.s.whipURL(id), func() {
		r.s.roomsMu.Lock()
		defer r.s.roomsMu.Unlock()
		if r.s.rooms[id] == h {
			delete(r.s.rooms, id)
		}
	}
}

// authenticate admits a WHIP publisher holding one of the room's tokens.
func (r *run) authenticate(req *http.Request) (string, string, error) {
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", "", fmt.Errorf("%w: a participant token is required", whip.ErrUnauthorized)
	}
	got := sha256.Sum256([]byte(tok))
	for _, g := range r.current().Room.Participants {
		want, err := hex.DecodeString(g.TokenSHA256)
		if err == nil && subtle.ConstantTimeCompare(got[:], want) == 1 {
			return g.ID, g.Name, nil
		}
	}
	return "", "", fmt.Errorf("%w: unknown token", whip.ErrUnauthorized)
}

// compose runs a compose job over its source recording.
func (r *run) compose(ctx context.Context) (State, error) {
	src, _, err := r.s.q.get(ctx, r.current().Source)
	if err != nil {
		return StateFailed, err
	}
	mf, ok := src.File(FileManifest)
	if !ok {
		return StateFailed, fmt.Errorf("service: recording %s has no session.json yet (state %s)", src.ID, src.State)
	}
	cfg, err := r.s.botConfig(r.current().Output)
	if err != nil {
		return StateFailed, err
	}
	dir := filepath.Join(r.s.recDir, src.Parts[0].SessionID, "compositions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return StateFailed, err
	}
	out := filepath.Join(dir, r.current().ID+".mp4")
	var wg sync.WaitGroup
	wctx, stopReport := context.WithCancel(ctx)
	wg.Go(func() { r.report(wctx) })
	err = bot.Compose(ctx, cfg, mf.Path, out, r.log, r.onProgress)
	stopReport()
	wg.Wait()
	if err != nil {
		return StateFailed, err
	}
	r.s.metrics.written.Add(float64(size(out)))
	f := File{Name: FileRecording, Path: out, URL: r.s.fileURL(r.current().ID, FileRecording), Bytes: size(out)}
	if r.current().Output.Upload {
		res := &bot.Result{SessionID: r.current().ID, SessionDir: dir, ManifestPath: mf.Path, Output: out}
		if f.URL, err = bot.Upload(ctx, cfg, res, r.log); err != nil {
			return StateFailed, err
		}
		r.s.metrics.uploaded.Add(float64(f.Bytes))
	}
	return StateDone, r.write(ctx, func(j *Job) { j.setFile(f) })
}

// upload runs an upload job: the source's files to S3.
func (r *run) upload(ctx context.Context) (State, error) {
	src, _, err := r.s.q.get(ctx, r.current().Source)
	if err != nil {
		return StateFailed, err
	}
	rec, ok1 := src.File(FileRecording)
	mf, ok2 := src.File(FileManifest)
	if !ok1 || !ok2 || len(src.Parts) == 0 {
		return StateFailed, fmt.Errorf("service: job %s has no recording to upload (state %s)", src.ID, src.State)
	}
	cfg, err := r.s.botConfig(Output{Upload: true})
	if err != nil {
		return StateFailed, err
	}
	cfg.UploadAll = true
	last := src.Parts[len(src.Parts)-1]
	res := &bot.Result{SessionID: src.ID, SessionDir: last.Dir, ManifestPath: mf.Path, Output: rec.Path}
	url, err := bot.Upload(ctx, cfg, res, r.log)
	if err != nil {
		return StateFailed, err
	}
	r.s.metrics.uploaded.Add(float64(rec.Bytes))
	return StateDone, r.write(ctx, func(j *Job) {
		j.setFile(File{Name: FileRecording, Path: rec.Path, URL: url, Bytes: rec.Bytes})
	})
}

func size(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// DefaultDir is the recordings root used when Config.Dir is empty.
const DefaultDir = "./recordings"

// DefaultCheckpointInterval is how often an open session flushes its files
// and rewrites session.json when Config.CheckpointInterval is zero. It
// bounds what a crash loses: about one interval of media.
const DefaultCheckpointInterval = time.Second

// ManifestName is the file name of the session manifest in the session
// directory.
const ManifestName = "session.json"

// Config configures a [Session]. The zero value records into
// ./recordings/<UTC timestamp>/.
type Config struct {
	// ID names the session and its directory. (optional) defaults to
	// time.Now().UTC().Format("20060102_150405") like the prototype. It
	// must be a single path element.
	ID string
	// Dir is the recordings root; files go to Dir/ID/. (optional) defaults
	// to DefaultDir.
	Dir string
	// Sinks (optional) receive the session's events and frames besides the
	// files.
	Sinks []Sink
	// DisableFiles (optional) stops the session from writing per-track files
	// and session.json; sinks still receive everything.
	DisableFiles bool
	// CheckpointInterval (optional) defaults to DefaultCheckpointInterval;
	// negative disables periodic flushes (files are then flushed once a
	// second of media per track, by the muxer).
	CheckpointInterval time.Duration
	// Logger (optional) defaults to a logger that discards everything.
	Logger *slog.Logger
	// Now (optional) is the clock; defaults to time.Now.
	Now func() time.Time
	// SegmentDuration (optional) cuts every track's file into segments of
	// at most this long, each a standalone Matroska file listed in
	// session.json (tracks[].segments) with its start, so that finished
	// segments can be stored elsewhere while the call goes on (see
	// OnFile). Audio is cut at the first frame at or after the bound.
	// Video can only be cut at a keyframe: shortly before the bound (at
	// most KeyframeLead, adapted to how fast the sender answered) the
	// track asks for one ([Track.KeyframeRequest]; pionrec sends a PLI)
	// and cuts at the first keyframe from then on, so segments end at or
	// just before the bound. A sender that answers later than that makes
	// the segment longer by the difference; one that ignores requests
	// (or an adapter that cannot send them) makes it last up to the
	// sender's next keyframe. Both are logged and counted
	// (TrackStats.SegmentOverruns); a segment is never cut at a
	// non-keyframe.
	// (optional) defaults to 0: one file per track start. Values below
	// MinSegmentDuration are refused.
	SegmentDuration time.Duration
	// OnFile (optional) is called with the path of every file the
	// session finishes (a closed segment, a stopped track's file, also
	// one cut short by a storage failure) and of session.json after each
	// rewrite; a finished file comes after the rewrite that lists it as
	// finished, so that an uploader storing files in the order given
	// stores a session.json listing the file after the file. It is called from
	// the goroutine that finished the file (a WriteFrame, Stop, Leave or
	// the checkpoint ticker) with no lock held, so it must not block: it
	// queues the work, as storage.LiveUploader's Notify does.
	OnFile func(path string)
	// Continue (optional) is the manifest of an earlier part of this
	// session, recorded by a process that stopped (or died) before the
	// call ended, e.g. as storage.FetchSession returns it from a store:
	// the new session keeps its ID and its clock (session time 0 is
	// Continue's started_at, so the time the recording stopped for is a
	// gap nobody is present in) and its session.json is the merge of
	// Continue and what this session records ([manifest.Merge]), in
	// which a participant who joins again with the same ID keeps one
	// entry. New files get names Continue does not use. Dir may already
	// hold the earlier part's files and its session.json.
	Continue *manifest.Session
}

// MinSegmentDuration is the shortest Config.SegmentDuration: twice
// KeyframeLead, so that a keyframe asked for comes inside the segment.
const MinSegmentDuration = 2 * KeyframeLead

// Session is a recording: a clock, participants and their tracks. It is
// safe for concurrent use.
type Session struct {
	id, dir  string
	files    bool
	sinks    []Sink
	log      *slog.Logger
	now      func() time.Time
	start    time.Time
	interval time.Duration

	mu           sync.Mutex
	closed       bool
	ended        bool
	endAt        time.Duration
	participants map[string]*Participant
	order        []*Participant
	stems        map[string]string // file stem -> raw participant id
	present      int
	everJoined   bool
	changed      chan struct{} // closed and replaced on every presence change
	tl           []timeline.Event
	pending      []Event
	closeDone    chan struct{}
	closeErr     error
	storageErr   error // the first storage failure

	// hints is the hints writer (see Hints); hintsFailed says it could
	// not be created. Guarded by mu.
	hints       *manifest.HintsWriter
	hintsFailed bool

	emitMu     sync.Mutex // serialises delivery of pending events
	manifestMu sync.Mutex // serialises snapshots and writes of session.json
	// manifestFailed says the last write of session.json failed; guarded
	// by manifestMu (lock order manifestMu, then mu).
	manifestFailed bool

	stopTicker chan struct{}
	tickerDone chan struct{}

	// Set by NewSession, read-only after.
	segment time.Duration
	onFile  func(path string)
	// prev is the earlier part (Config.Continue), paths relative to dir
	// where they lie in it; taken holds its file names.
	prev  *manifest.Session
	taken map[string]bool
}

// NewSession starts a session: its clock starts now, its directory is
// created (unless Config.DisableFiles) and, with files enabled, an empty
// session.json is written. The caller must call [Session.Close].
func NewSession(cfg Config) (*Session, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := now()
	id := cfg.ID
	if cfg.Continue != nil {
		var err error
		if start, err = continueStart(cfg.Continue, start); err != nil {
			return nil, err
		}
		if id == "" {
			id = cfg.Continue.SessionID
		}
		if id != cfg.Continue.SessionID {
			return nil, fmt.Errorf("%w: session id %q continues session %q", ErrBadConfig, id, cfg.Continue.SessionID)
		}
	}
	if id == "" {
		id = start.UTC().Format("20060102_150405")
	}
	if id == "." || id == ".." || strings.ContainsAny(id, `/\`) || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return nil, fmt.Errorf("%w: session id %q is not a single path element", ErrBadConfig, id)
	}
	root := cfg.Dir
	if root == "" {
		root = DefaultDir
	}
	dir, err := filepath.Abs(filepath.Join(root, id))
	if err != nil {
		return nil, fmt.Errorf("%w: session dir: %w", ErrBadConfig, err)
	}
	interval := cfg.CheckpointInterval
	if interval == 0 {
		interval = DefaultCheckpointInterval
	}
	for i, sk := range cfg.Sinks {
		if sk == nil {
			return nil, fmt.Errorf("%w: sink %d is nil", ErrBadConfig, i)
		}
	}
	if cfg.SegmentDuration < 0 || (cfg.SegmentDuration > 0 && cfg.SegmentDuration < MinSegmentDuration) {
		return nil, fmt.Errorf("%w: segment duration %v (0, or at least %v)", ErrBadConfig, cfg.SegmentDuration, MinSegmentDuration)
	}
	s := &Session{
		id:           id,
		dir:          dir,
		files:        !cfg.DisableFiles,
		sinks:        append([]Sink(nil), cfg.Sinks...),
		log:          log.With("session", id),
		now:          now,
		start:        start,
		interval:     interval,
		participants: map[string]*Participant{},
		stems:        map[string]string{},
		changed:      make(chan struct{}),
		closeDone:    make(chan struct{}),
		segment:      cfg.SegmentDuration,
		onFile:       cfg.OnFile,
	}
	if cfg.Continue != nil {
		s.prev, s.taken = continued(cfg.Continue, dir)
	}
	if s.files {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("recorder: create session dir %s: %w", dir, err)
		}
		if _, err := os.Stat(s.ManifestPath()); err == nil && s.prev == nil {
			return nil, fmt.Errorf("%w: %s already holds a session", ErrBadConfig, dir)
		}
		if err := s.checkpoint(); err != nil {
			return nil, err
		}
	}
	if s.files && interval > 0 {
		s.stopTicker = make(chan struct{})
		s.tickerDone = make(chan struct{})
		go s.runTicker()
	}
	s.log.Debug("session started", "dir", dir)
	return s, nil
}

// continueStart returns the clock start of a session continuing prev:
// prev's started_at, which must lie before now.
func continueStart(prev *manifest.Session, now time.Time) (time.Time, error) {
	if err := prev.Validate(); err != nil {
		return time.Time{}, fmt.Errorf("%w: continue: %w", ErrBadConfig, err)
	}
	start, err := time.Parse(time.RFC3339Nano, prev.StartedAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: continue session %q: started_at %q: %w", ErrBadConfig, prev.SessionID, prev.StartedAt, err)
	}
	if start.After(now) {
		return time.Time{}, fmt.Errorf("%w: continue session %q: started_at %v is after now (%v): clocks disagree", ErrBadConfig, prev.SessionID, start, now)
	}
	return start, nil
}

// continued returns a copy of prev whose paths inside dir are relative
// to it (as this session writes its own) and the base names of its files.
func continued(prev *manifest.Session, dir string) (*manifest.Session, map[string]bool) {
	m := prev.Clone()
	taken := map[string]bool{}
	rel := func(p string) string {
		if p == "" {
			return p
		}
		taken[filepath.Base(p)] = true
		if filepath.IsAbs(p) {
			if r, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(r, "..") {
				return r
			}
		}
		return p
	}
	for i := range m.Participants {
		p := &m.Participants[i]
		p.VideoPath, p.AudioPath = rel(p.VideoPath), rel(p.AudioPath)
		for k := range p.Tracks {
			t := &p.Tracks[k]
			t.Path = rel(t.Path)
			for g := range t.Segments {
				t.Segments[g].Path = rel(t.Segments[g].Path)
			}
		}
	}
	return m, taken
}

// ID returns the session ID.
func (s *Session) ID() string { return s.id }

// Dir returns the absolute session directory (where files would go even
// with DisableFiles).
func (s *Session) Dir() string { return s.dir }

// ManifestPath returns the path of session.json.
func (s *Session) ManifestPath() string { return filepath.Join(s.dir, ManifestName) }

// StartedAt returns the wall-clock time of session time 0.
func (s *Session) StartedAt() time.Time { return s.start }

// Elapsed returns the session clock now.
func (s *Session) Elapsed() time.Duration { return s.SessionTime(s.now()) }

// SessionTime maps a wall-clock instant onto the session clock; instants
// before the session started map to negative durations.
func (s *Session) SessionTime(wall time.Time) time.Duration { return wall.Sub(s.start) }

// Present returns the number of participants present now.
func (s *Session) Present() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.present
}

// Participant returns the participant with that ID if it ever joined.
func (s *Session) Participant(id string) (*Participant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.participants[id]
	return p, ok
}

// Participants returns everyone who ever joined, in order of first join.
func (s *Session) Participants() []*Participant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Participant(nil), s.order...)
}

// TimelineEvents returns the joins and leaves so far, in order, ready for
// timeline.Windows.
func (s *Session) TimelineEvents() []timeline.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]timeline.Event(nil), s.tl...)
}

// WaitEmpty blocks until someone has joined and everybody has left, or
// the session is closed; it returns ctx.Err() if ctx is done first.
func (s *Session) WaitEmpty(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.closed || (s.everJoined && s.present == 0) {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Join starts a presence interval for participant id, shown as name. A
// participant who left may join again with the same id: the same
// *Participant is returned with a new presence interval (and the new name).
// It fails with ErrAlreadyPresent if id is present, ErrInvalidID for an
// empty or non-UTF-8 id, ErrSessionClosed after Close.
func (s *Session) Join(id, name string) (*Participant, error) {
	if id == "" || !utf8.ValidString(id) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("join %q: %w", id, ErrSessionClosed)
	}
	at := s.Elapsed()
	p, ok := s.participants[id]
	switch {
	case !ok:
		p = &Participant{s: s, id: id, stem: s.stemFor(id), seq: map[Source]int{}}
		s.participants[id] = p
		s.order = append(s.order, p)
	case p.present:
		s.mu.Unlock()
		return nil, fmt.Errorf("join %q: %w", id, ErrAlreadyPresent)
	}
	p.name = name
	p.present = true
	p.intervals = append(p.intervals, interval{join: at, leave: -1})
	s.present++
	s.everJoined = true
	s.broadcastLocked()
	s.tl = append(s.tl, timeline.Event{Kind: timeline.Join, At: at, ParticipantID: id, Name: name})
	s.pending = append(s.pending, Event{Kind: ParticipantJoined, At: at, ParticipantID: id, Name: name})
	s.mu.Unlock()
	s.log.Debug("participant joined", "participant", id, "at", at)
	err := s.afterChange()
	return p, err
}

// broadcastLocked wakes WaitEmpty callers; s.mu must be held.
func (s *Session) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// afterChange delivers pending events and rewrites session.json.
func (s *Session) afterChange() error {
	s.flushEvents()
	if !s.files {
		return nil
	}
	err := s.checkpoint()
	if err != nil {
		s.flushEvents() // StorageFailed
	}
	return err
}

// failLocked records a storage failure of participant p's track ti (both
// nil for session.json) and queues its StorageFailed event; s.mu must be
// held.
func (s *Session) failLocked(p *Participant, ti *TrackInfo, err error) {
	if s.storageErr == nil {
		s.storageErr = err
	}
	e := Event{Kind: StorageFailed, At: s.Elapsed(), Track: ti, Err: err}
	if p != nil {
		e.ParticipantID, e.Name = p.id, p.name
	}
	s.emitLocked(e)
}

// Err returns the session's first storage failure (wrapping ErrStorage and
// its cause, e.g. syscall.ENOSPC), nil if every write so far succeeded. A
// host can poll it, or watch for StorageFailed events, to end a recording
// whose disk is full; Close returns it too.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storageErr
}

// emitLocked queues an event for delivery; s.mu must be held.
func (s *Session) emitLocked(e Event) { s.pending = append(s.pending, e) }

// flushEvents delivers queued events in order. On return every event queued
// before the call has been delivered.
func (s *Session) flushEvents() {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	for {
		s.mu.Lock()
		evs := s.pending
		s.pending = nil
		s.mu.Unlock()
		if len(evs) == 0 {
			return
		}
		for _, e := range evs {
			for _, sk := range s.sinks {
				sk.OnEvent(e)
			}
		}
	}
}

// Close leaves everyone, stops all tracks, finishes the files, writes the
// final session.json with end_time_s and closes the sinks. Its error
// includes the session's first storage failure (see [Session.Err]): a
// recording whose files stopped early is not reported as complete. It is
// idempotent: later calls wait for the first to finish and return its
// error. Closing is bounded by file I/O; ctx is only checked before it
// starts, and the session is closed even if ctx is done.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		select {
		case <-s.closeDone:
			return s.closeErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.closed = true
	s.broadcastLocked()
	order := append([]*Participant(nil), s.order...)
	s.mu.Unlock()

	var errs []error
	for _, p := range order {
		errs = append(errs, p.leave(false, -1))
	}
	if s.stopTicker != nil {
		close(s.stopTicker)
		<-s.tickerDone
	}
	s.closeHints()
	s.mu.Lock()
	s.ended = true
	s.endAt = s.Elapsed()
	s.emitLocked(Event{Kind: SessionEnded, At: s.endAt})
	s.mu.Unlock()
	errs = append(errs, s.afterChange())
	if err := s.Err(); err != nil {
		errs = append(errs, fmt.Errorf("recorder: session %q is incomplete: %w", s.id, err))
	}
	for i, sk := range s.sinks {
		if err := sk.Close(); err != nil {
			errs = append(errs, fmt.Errorf("recorder: close sink %d: %w", i, err))
		}
	}
	s.closeErr = errors.Join(errs...)
	close(s.closeDone)
	s.log.Debug("session closed", "end", s.endAt)
	return s.closeErr
}

// notifyFile tells Config.OnFile that the file at path is finished; no
// lock may be held.
func (s *Session) notifyFile(path string) {
	if s.onFile != nil && path != "" {
		s.onFile(path)
	}
}

// runTicker flushes open files and rewrites session.json periodically.
func (s *Session) runTicker() {
	defer close(s.tickerDone)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopTicker:
			return
		case <-t.C:
			s.flushTracks()
			// Failures are logged, recorded and announced by checkpoint
			// and failLocked.
			_ = s.checkpoint()
			s.flushEvents()
		}
	}
}

// flushTracks makes every open file write out what it buffers.
func (s *Session) flushTracks() {
	s.mu.Lock()
	var open []*Track
	for _, p := range s.order {
		open = append(open, p.active...)
	}
	s.mu.Unlock()
	for _, t := range open {
		t.flush()
	}
}

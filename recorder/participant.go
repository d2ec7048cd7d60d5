package recorder

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/roomtape/roomtape/timeline"
)

// Participant is someone in the session, identified by a stable ID across
// rejoins. Its methods are safe for concurrent use.
type Participant struct {
	s    *Session
	id   string
	stem string // file name prefix derived from id

	// Guarded by s.mu.
	name      string
	present   bool
	intervals []interval
	active    []*Track
	tracks    []*Track // every track that wrote a file, in start order
	seq       map[Source]int
}

// interval is a presence interval; leave < 0 while present.
type interval struct {
	join, leave time.Duration
}

// ID returns the participant's ID.
func (p *Participant) ID() string { return p.id }

// Session returns the session the participant belongs to.
func (p *Participant) Session() *Session { return p.s }

// Name returns the display name given at the latest join.
func (p *Participant) Name() string {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.name
}

// Present reports whether the participant is present now.
func (p *Participant) Present() bool {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.present
}

// AddTrack starts a track. Each call starts a new file, named
// <sanitised id>-<hash>_<source>_<n>.mkv with n counting the participant's
// starts of that source from 1 (a camera restarted after a stop gets
// ..._camera_2.mkv), or with Config.SegmentDuration a series of files
// <...>_<n>-s0001.mkv, -s0002.mkv and so on; the file is created when the first frame is written
// (the first keyframe for video), and session time of its first frame is
// the track's start_s in session.json.
//
// It fails with ErrUnknownCodec, ErrInvalidTrack (inconsistent info, or
// an ID already active for this participant), ErrNotPresent after the
// participant left and ErrSessionClosed after Close.
func (p *Participant) AddTrack(info TrackInfo) (*Track, error) {
	info, err := normalizeTrackInfo(info)
	if err != nil {
		return nil, fmt.Errorf("participant %q: %w", p.id, err)
	}
	s := p.s
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, fmt.Errorf("participant %q add track %q: %w", p.id, info.ID, ErrSessionClosed)
	case !p.present:
		s.mu.Unlock()
		return nil, fmt.Errorf("participant %q add track %q: %w", p.id, info.ID, ErrNotPresent)
	}
	for _, t := range p.active {
		if t.info.ID == info.ID {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: participant %q already has an active track %q", ErrInvalidTrack, p.id, info.ID)
		}
	}
	base := ""
	for base == "" || s.taken[base+".mkv"] || s.taken[segmentName(base, 1)] {
		// A continued session's earlier part may use the first numbers.
		p.seq[info.Source]++
		base = p.stem + "_" + string(info.Source) + "_" + strconv.Itoa(p.seq[info.Source])
	}
	name := base + ".mkv"
	if s.segment > 0 {
		name = segmentName(base, 1)
	}
	t := &Track{p: p, s: s, info: info, name: name, path: filepath.Join(s.dir, name), base: base, segDur: s.segment}
	p.active = append(p.active, t)
	at := s.Elapsed()
	ti := info
	s.emitLocked(Event{Kind: TrackStarted, At: at, ParticipantID: p.id, Name: p.name, Track: &ti})
	s.mu.Unlock()
	s.log.Debug("track started", "participant", p.id, "track", info.ID, "codec", info.Codec, "file", name)
	s.flushEvents()
	return t, nil
}

// normalizeTrackInfo validates info and fills its defaults.
func normalizeTrackInfo(info TrackInfo) (TrackInfo, error) {
	kind := info.Codec.Kind()
	if kind == 0 {
		return info, fmt.Errorf("%w %q", ErrUnknownCodec, info.Codec)
	}
	if info.Kind == 0 {
		info.Kind = kind
	}
	if info.Kind != kind {
		return info, fmt.Errorf("%w: kind %v does not match codec %s", ErrInvalidTrack, info.Kind, info.Codec)
	}
	switch info.Source {
	case "":
		info.Source = Camera
		if kind == Audio {
			info.Source = Microphone
		}
	case Camera, ScreenShare:
		if kind != Video {
			return info, fmt.Errorf("%w: source %s needs a video codec, got %s", ErrInvalidTrack, info.Source, info.Codec)
		}
	case Microphone, ScreenShareAudio:
		if kind != Audio {
			return info, fmt.Errorf("%w: source %s needs an audio codec, got %s", ErrInvalidTrack, info.Source, info.Codec)
		}
	default:
		return info, fmt.Errorf("%w: unknown source %q", ErrInvalidTrack, info.Source)
	}
	if info.ID == "" {
		info.ID = string(info.Source)
	}
	if info.ClockRate == 0 {
		info.ClockRate = 90000
		if kind == Audio {
			info.ClockRate = 48000
		}
	}
	if kind == Audio {
		if info.Channels == 0 {
			info.Channels = 2
		}
		if info.Channels != 1 && info.Channels != 2 {
			return info, fmt.Errorf("%w: %d channels", ErrInvalidTrack, info.Channels)
		}
	}
	if info.Width < 0 || info.Height < 0 || info.Width > maxDimension || info.Height > maxDimension {
		return info, fmt.Errorf("%w: size %dx%d", ErrInvalidTrack, info.Width, info.Height)
	}
	return info, nil
}

// maxDimension bounds picture sizes taken from callers and bitstreams.
const maxDimension = 16384

// Leave ends the participant's presence interval and stops its tracks
// (finishing their files). It is idempotent: leaving when not present
// returns nil.
func (p *Participant) Leave() error { return p.leave(true, -1) }

// LeaveAt is Leave with the presence ending at session time at, for a host
// that first lets the participant's tracks write what they still hold and
// stop (as pionrec does when its context ends), then leaves: at is when
// the participant went, taken before that drain. It is clamped between
// the latest join and now, and tracks of this presence that stopped after
// it end at it in session.json (their TrackStopped events keep the time
// they stopped).
func (p *Participant) LeaveAt(at time.Duration) error { return p.leave(true, max(at, 0)) }

// leave implements Leave and LeaveAt (at < 0: now); checkpoint is false
// when Session.Close leaves everyone (it writes session.json once at the
// end).
func (p *Participant) leave(checkpoint bool, at time.Duration) error {
	s := p.s
	s.mu.Lock()
	if !p.present {
		s.mu.Unlock()
		return nil
	}
	now := s.Elapsed()
	if at < 0 || at > now {
		at = now
	}
	join := p.intervals[len(p.intervals)-1].join
	at = max(at, join)
	for _, t := range p.tracks {
		if t.rec != nil && t.rec.end > at && t.rec.start >= join {
			t.rec.end = max(at, t.rec.start)
		}
	}
	tracks := p.active
	p.active = nil
	for _, t := range tracks {
		t.endLocked(at)
	}
	p.present = false
	p.intervals[len(p.intervals)-1].leave = at
	s.present--
	s.broadcastLocked()
	s.tl = append(s.tl, timeline.Event{Kind: timeline.Leave, At: at, ParticipantID: p.id})
	s.emitLocked(Event{Kind: ParticipantLeft, At: at, ParticipantID: p.id, Name: p.name})
	s.mu.Unlock()
	s.log.Debug("participant left", "participant", p.id, "at", at)
	var errs []error
	var closed []string
	for _, t := range tracks {
		c, err := t.closeFile()
		errs = append(errs, err)
		closed = append(closed, c)
	}
	if checkpoint {
		errs = append(errs, s.afterChange())
	} else {
		s.flushEvents()
	}
	for _, c := range closed { // after the session.json that says so
		s.notifyFile(c)
	}
	return errors.Join(errs...)
}

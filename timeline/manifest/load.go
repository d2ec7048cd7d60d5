package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Manifest format versions (Session.Format). A writer sets the oldest
// version that holds what it writes ([Session.NeededFormat]), so that
// readers of an older roomtape read every session they can.
const (
	// FormatTracks is roomtape's first format: ids, presence intervals,
	// tracks, resolutions, started_at and end_time_s.
	FormatTracks = 1
	// FormatSegments adds tracks[].segments: tracks recorded as a series
	// of files.
	FormatSegments = 2
	// FormatVersion is the newest format this package reads.
	FormatVersion = FormatSegments
)

// NeededFormat returns the oldest format version that holds s:
// FormatSegments when a track has segments, else FormatTracks.
func (s *Session) NeededFormat() int {
	for _, p := range s.Participants {
		for _, t := range p.Tracks {
			if len(t.Segments) > 0 {
				return FormatSegments
			}
		}
	}
	return FormatTracks
}

// Track kinds (Track.Kind).
const (
	// KindVideo is a video track.
	KindVideo = "video"
	// KindAudio is an audio track.
	KindAudio = "audio"
)

// Track sources (Track.Source).
const (
	// SourceCamera is the main video of a participant.
	SourceCamera = "camera"
	// SourceMicrophone is the main audio of a participant.
	SourceMicrophone = "microphone"
	// SourceScreen is a screen share's video.
	SourceScreen = "screen"
	// SourceScreenAudio is a screen share's audio.
	SourceScreenAudio = "screen_audio"
)

// Errors returned by [Load], [Parse] and [Session.Validate]; test for them
// with errors.Is.
var (
	// ErrMalformed is a session.json that is not valid JSON of the expected
	// shape; it wraps the encoding/json error.
	ErrMalformed = errors.New("malformed session.json")
	// ErrInvalid is a well-formed session.json whose content is
	// inconsistent; the message names the participant and the field.
	ErrInvalid = errors.New("invalid session.json")
	// ErrUnsupportedFormat is a roomtape_format newer than FormatVersion.
	ErrUnsupportedFormat = errors.New("unsupported session.json format")
)

// FromSeconds converts float seconds from session.json to a Duration,
// rounded to the nanosecond.
func FromSeconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// ToSeconds converts a Duration to the float seconds of session.json.
func ToSeconds(d time.Duration) float64 {
	return d.Seconds()
}

// Load reads, validates and returns the session.json at path. Relative
// media paths in it are resolved against the directory of path.
func Load(path string) (*Session, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only file
	s, err := Parse(f, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse reads and validates a session.json from r. Relative paths
// (session_dir, video_path, audio_path, tracks[].path) are resolved against
// dir; an empty dir leaves them relative. Unknown fields are ignored so that
// the prototype's files and those of newer writers load.
func Parse(r io.Reader, dir string) (*Session, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("manifest: read: %w", err)
	}
	var s Session
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("manifest: %w: %w", ErrMalformed, err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.normalize()
	if dir != "" {
		s.resolve(dir)
	}
	return &s, nil
}

// normalize makes empty lists nil, as they are written (omitempty).
func (s *Session) normalize() {
	for i := range s.Participants {
		p := &s.Participants[i]
		if len(p.Presence) == 0 {
			p.Presence = nil
		}
		if len(p.Tracks) == 0 {
			p.Tracks = nil
		}
		for j := range p.Tracks {
			if len(p.Tracks[j].Resolutions) == 0 {
				p.Tracks[j].Resolutions = nil
			}
			if len(p.Tracks[j].Segments) == 0 {
				p.Tracks[j].Segments = nil
			}
		}
	}
}

// Resolve makes the relative paths of s (media files, hints, SessionDir)
// relative to dir, as [Load] does with the manifest's directory; e.g. for
// a recorder's in-memory manifest, Resolve(s.SessionDir).
func (s *Session) Resolve(dir string) { s.resolve(dir) }

// resolve makes the relative paths of s relative to dir.
func (s *Session) resolve(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	s.SessionDir = abs(s.SessionDir)
	s.Hints = abs(s.Hints)
	for i := range s.Participants {
		p := &s.Participants[i]
		p.VideoPath = abs(p.VideoPath)
		p.AudioPath = abs(p.AudioPath)
		for j := range p.Tracks {
			t := &p.Tracks[j]
			t.Path = abs(t.Path)
			for k := range t.Segments {
				t.Segments[k].Path = abs(t.Segments[k].Path)
			}
		}
	}
}

// invalid returns an ErrInvalid error naming participant i and the field.
func (s *Session) invalid(i int, field, format string, args ...any) error {
	who := ""
	if i >= 0 {
		who = fmt.Sprintf("participant %d (%q) ", i, s.Participants[i].Key())
	}
	return fmt.Errorf("manifest: %s%s: %s: %w", who, field, fmt.Sprintf(format, args...), ErrInvalid)
}

// Validate checks s: every participant has a name or ID, unique keys,
// finite times (within ±MaxSeconds) with 0 <= join_time_s <= leave_time_s, presence intervals
// in order, not overlapping and spanning join_time_s to leave_time_s,
// tracks with a kind and a path, and end_time_s not before any leave.
// Errors wrap ErrInvalid (or ErrUnsupportedFormat).
func (s *Session) Validate() error {
	if s.Format < 0 || s.Format > FormatVersion {
		return fmt.Errorf("manifest: roomtape_format %d (newest known %d): %w",
			s.Format, FormatVersion, ErrUnsupportedFormat)
	}
	seen := make(map[string]int, len(s.Participants))
	var lastLeave float64
	for i := range s.Participants {
		p := &s.Participants[i]
		key := p.Key()
		if key == "" {
			return s.invalid(i, "name", "empty name and id")
		}
		if j, dup := seen[key]; dup {
			return s.invalid(i, "id", "same key as participant %d", j)
		}
		seen[key] = i
		if err := s.checkSpan(i, "join_time_s", "leave_time_s", p.JoinTimeS, p.LeaveTimeS); err != nil {
			return err
		}
		if err := s.checkPresence(i); err != nil {
			return err
		}
		if err := s.checkTracks(i); err != nil {
			return err
		}
		lastLeave = max(lastLeave, p.LeaveTimeS)
	}
	if s.EndTimeS != nil {
		end := *s.EndTimeS
		if !finite(end) || end < lastLeave {
			return s.invalid(-1, "end_time_s", "%v is not a time at or after the last leave %v", end, lastLeave)
		}
	}
	return nil
}

// checkSpan checks 0 <= from <= to, both finite.
func (s *Session) checkSpan(i int, fromField, toField string, from, to float64) error {
	if !finite(from) || from < 0 {
		return s.invalid(i, fromField, "%v is not a time >= 0", from)
	}
	if !finite(to) || to < from {
		return s.invalid(i, toField, "%v is before %s %v", to, fromField, from)
	}
	return nil
}

// checkPresence checks participant i's presence intervals.
func (s *Session) checkPresence(i int) error {
	p := &s.Participants[i]
	if len(p.Presence) == 0 {
		return nil
	}
	prev := p.JoinTimeS
	for k, iv := range p.Presence {
		from, to := fmt.Sprintf("presence[%d].join_s", k), fmt.Sprintf("presence[%d].leave_s", k)
		if err := s.checkSpan(i, from, to, iv.JoinS, iv.LeaveS); err != nil {
			return err
		}
		if k == 0 && iv.JoinS != p.JoinTimeS {
			return s.invalid(i, from, "%v is not join_time_s %v", iv.JoinS, p.JoinTimeS)
		}
		if iv.JoinS < prev {
			return s.invalid(i, from, "%v overlaps the previous interval ending at %v", iv.JoinS, prev)
		}
		prev = iv.LeaveS
	}
	if prev != p.LeaveTimeS {
		return s.invalid(i, fmt.Sprintf("presence[%d].leave_s", len(p.Presence)-1),
			"%v is not leave_time_s %v", prev, p.LeaveTimeS)
	}
	return nil
}

// checkTracks checks participant i's tracks.
func (s *Session) checkTracks(i int) error {
	for k, t := range s.Participants[i].Tracks {
		field := fmt.Sprintf("tracks[%d]", k)
		switch {
		case t.Kind != KindVideo && t.Kind != KindAudio:
			return s.invalid(i, field+".kind", "%q is neither %q nor %q", t.Kind, KindVideo, KindAudio)
		case t.Path == "":
			return s.invalid(i, field+".path", "empty")
		case !finite(t.StartS):
			return s.invalid(i, field+".start_s", "%v is not a time", t.StartS)
		case t.EndS != nil && (!finite(*t.EndS) || *t.EndS < t.StartS):
			return s.invalid(i, field+".end_s", "%v is before start_s %v", *t.EndS, t.StartS)
		case t.Width < 0 || t.Height < 0:
			return s.invalid(i, field+".width", "negative size %dx%d", t.Width, t.Height)
		}
		if err := s.checkSegments(i, field, t); err != nil {
			return err
		}
	}
	return nil
}

// checkSegments checks the segments of participant i's track t: each has
// a path, finite times with end_s not before start_s, and they follow
// each other from the track's start without overlapping (a hole between
// two is allowed: segments lost with a worker).
func (s *Session) checkSegments(i int, field string, t Track) error {
	prev := t.StartS
	for k, sg := range t.Segments {
		f := fmt.Sprintf("%s.segments[%d]", field, k)
		switch {
		case sg.Path == "":
			return s.invalid(i, f+".path", "empty")
		case !finite(sg.StartS) || sg.StartS < prev:
			return s.invalid(i, f+".start_s", "%v is before %v, where the previous segment (or the track) ends", sg.StartS, prev)
		case sg.EndS != nil && (!finite(*sg.EndS) || *sg.EndS < sg.StartS):
			return s.invalid(i, f+".end_s", "%v is before start_s %v", *sg.EndS, sg.StartS)
		case sg.EndS == nil && k < len(t.Segments)-1:
			return s.invalid(i, f+".end_s", "absent, but a later segment follows")
		case sg.Bytes < 0:
			return s.invalid(i, f+".bytes", "negative size %d", sg.Bytes)
		}
		prev = sg.StartS
		if sg.EndS != nil {
			prev = *sg.EndS
		}
	}
	return nil
}

// MaxSeconds bounds every time in session.json (about 31 years), far
// inside what a time.Duration holds.
const MaxSeconds = 1e9

// finite reports whether f is a usable time: a number within ±MaxSeconds.
func finite(f float64) bool {
	return !math.IsNaN(f) && math.Abs(f) <= MaxSeconds
}

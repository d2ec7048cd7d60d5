package manifest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/roomtape/roomtape/timeline"
)

// Key is the participant's stable identity: ID, or Name when ID is empty
// (prototype manifests have no IDs).
func (p Participant) Key() string {
	if p.ID != "" {
		return p.ID
	}
	return p.Name
}

// Intervals returns the participant's presence intervals: Presence, or the
// single interval [JoinTimeS, LeaveTimeS) when Presence is absent.
func (p Participant) Intervals() []Interval {
	if len(p.Presence) > 0 {
		return p.Presence
	}
	return []Interval{{JoinS: p.JoinTimeS, LeaveS: p.LeaveTimeS}}
}

// SetPresence sets Presence to intervals and JoinTimeS and LeaveTimeS to
// the first join and the last leave. A single interval is stored in the
// prototype's form (no Presence).
func (p *Participant) SetPresence(intervals []Interval) {
	p.Presence = nil
	if len(intervals) == 0 {
		return
	}
	p.JoinTimeS = intervals[0].JoinS
	p.LeaveTimeS = intervals[len(intervals)-1].LeaveS
	if len(intervals) > 1 {
		p.Presence = append([]Interval(nil), intervals...)
	}
}

// Join is the session time of the interval's start.
func (iv Interval) Join() time.Duration { return FromSeconds(iv.JoinS) }

// Leave is the session time of the interval's end.
func (iv Interval) Leave() time.Duration { return FromSeconds(iv.LeaveS) }

// Start is the session time of the file's timestamp zero.
func (t Track) Start() time.Duration { return FromSeconds(t.StartS) }

// End is the session time the track stopped; ok is false when EndS is
// absent.
func (t Track) End() (end time.Duration, ok bool) {
	if t.EndS == nil {
		return 0, false
	}
	return FromSeconds(*t.EndS), true
}

// Start is the session time of the segment's timestamp zero.
func (sg Segment) Start() time.Duration { return FromSeconds(sg.StartS) }

// End is the session time the segment ends; ok is false when EndS is
// absent.
func (sg Segment) End() (end time.Duration, ok bool) {
	if sg.EndS == nil {
		return 0, false
	}
	return FromSeconds(*sg.EndS), true
}

// Files returns the track as the files to decode one after the other: the
// track itself when it has no segments, else one Track per segment with
// the segment's path, times and completeness and the track's kind,
// source, codec and sizes (the resolution changes within the segment).
// The last segment's end is the track's end when it has one.
func (t Track) Files() []Track {
	if len(t.Segments) == 0 {
		return []Track{t}
	}
	out := make([]Track, 0, len(t.Segments))
	for k, sg := range t.Segments {
		f := Track{
			Kind: t.Kind, Source: t.Source, Codec: t.Codec, Path: sg.Path,
			StartS: sg.StartS, EndS: sg.EndS, Width: t.Width, Height: t.Height,
			Complete: sg.Complete,
		}
		if k == len(t.Segments)-1 {
			if f.EndS == nil && t.EndS != nil {
				f.EndS = t.EndS
			}
			f.Complete = f.Complete || t.Complete
		}
		if f.EndS != nil {
			end := *f.EndS
			f.EndS = &end
		}
		for _, r := range t.Resolutions {
			switch {
			case r.AtS <= sg.StartS:
				// The size at the segment's start.
				f.Width, f.Height = r.Width, r.Height
			case sg.EndS == nil || r.AtS < *sg.EndS:
				f.Resolutions = append(f.Resolutions, r)
			}
		}
		out = append(out, f)
	}
	return out
}

// VideoTrack returns the participant's main camera track: the first video
// track whose Source is camera or empty, else one synthesised from
// VideoPath starting at JoinTimeS (the prototype's convention: media time 0
// is the join). ok is false when there is neither.
func (p Participant) VideoTrack() (Track, bool) {
	return p.mainTrack(KindVideo, SourceCamera, p.VideoPath)
}

// AudioTrack returns the participant's main microphone track, like
// [Participant.VideoTrack] with AudioPath.
func (p Participant) AudioTrack() (Track, bool) {
	return p.mainTrack(KindAudio, SourceMicrophone, p.AudioPath)
}

// VideoTracks returns every camera file of the participant in the order
// they started: a participant who left and rejoined, or restarted their
// camera, has one file per start, and a segmented track one per segment
// (see [Track.Files]). Prototype manifests give at most one, as
// [Participant.VideoTrack] does.
func (p Participant) VideoTracks() []Track {
	return p.mainTracks(KindVideo, SourceCamera, p.VideoPath)
}

// AudioTracks returns every microphone track in the order they started,
// like [Participant.VideoTracks].
func (p Participant) AudioTracks() []Track {
	return p.mainTracks(KindAudio, SourceMicrophone, p.AudioPath)
}

func (p Participant) mainTracks(kind, source, legacyPath string) []Track {
	var ts []Track
	for _, t := range p.Tracks {
		if t.Kind == kind && (t.Source == source || t.Source == "") {
			ts = append(ts, t.Files()...)
		}
	}
	if len(ts) == 0 {
		if t, ok := p.mainTrack(kind, source, legacyPath); ok {
			ts = append(ts, t)
		}
	}
	slices.SortStableFunc(ts, func(a, b Track) int { return cmp.Compare(a.StartS, b.StartS) })
	return ts
}

func (p Participant) mainTrack(kind, source, legacyPath string) (Track, bool) {
	for _, t := range p.Tracks {
		if t.Kind == kind && (t.Source == source || t.Source == "") {
			return t, true
		}
	}
	if legacyPath == "" {
		return Track{}, false
	}
	return Track{Kind: kind, Source: source, Path: legacyPath, StartS: p.JoinTimeS}, true
}

// Events returns the join and leave events of every presence interval,
// sorted by time, for [timeline.Windows]. The participant's Key is the
// event's ParticipantID. It validates s first.
func (s *Session) Events() ([]timeline.Event, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var evs []timeline.Event
	for _, p := range s.Participants {
		for _, iv := range p.Intervals() {
			evs = append(evs,
				timeline.Event{Kind: timeline.Join, At: iv.Join(), ParticipantID: p.Key(), Name: p.Name},
				timeline.Event{Kind: timeline.Leave, At: iv.Leave(), ParticipantID: p.Key()})
		}
	}
	return evs, nil
}

// End is the session's length: EndTimeS when set, else the last leave.
func (s *Session) End() time.Duration {
	if s.EndTimeS != nil {
		return FromSeconds(*s.EndTimeS)
	}
	var end float64
	for _, p := range s.Participants {
		for _, iv := range p.Intervals() {
			end = max(end, iv.LeaveS)
		}
	}
	return FromSeconds(end)
}

// Windows is [timeline.Windows] of the session's events and end.
func (s *Session) Windows(opts timeline.Options) ([]timeline.Window, error) {
	evs, err := s.Events()
	if err != nil {
		return nil, err
	}
	ws, err := timeline.Windows(evs, s.End(), opts)
	if err != nil {
		return nil, fmt.Errorf("manifest: session %q: %w", s.SessionID, err)
	}
	return ws, nil
}

// Encode writes s as indented JSON to w. Participants is written as a list
// even when nil, as the prototype expects.
func (s *Session) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	out := *s
	if out.Participants == nil {
		out.Participants = []Participant{}
	}
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("manifest: encode: %w", err)
	}
	return nil
}

// WriteFile writes s to path atomically: to a temporary file in the same
// directory, synced, then renamed over path, so that a reader sees the old
// or the new file, never a partial one. Paths are written as they are in s.
func (s *Session) WriteFile(path string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(tmp))
		}
	}()
	if err := s.Encode(f); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Chmod(0o644); err != nil {
		return errors.Join(fmt.Errorf("manifest: %w", err), f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(fmt.Errorf("manifest: %w", err), f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	// Make the rename durable; not all systems can sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

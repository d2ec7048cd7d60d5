package recorder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// maxStemRunes bounds the readable part of file names.
const maxStemRunes = 40

// shortHashHexDigits is the length of the ID hash in file names.
const shortHashHexDigits = 8

// stemFor returns the file name prefix of participant id: a sanitised,
// readable form of the id (ASCII letters, digits, '-' and '_') and a hash
// of the raw id, lengthened if two ids would share a prefix. s.mu must be
// held.
func (s *Session) stemFor(id string) string {
	sum := sha256.Sum256([]byte(id))
	hash := hex.EncodeToString(sum[:])
	stem := sanitize(id) + "-" + hash[:shortHashHexDigits]
	if other, taken := s.stems[stem]; taken && other != id {
		stem = sanitize(id) + "-" + hash
	}
	for n := 2; ; n++ {
		other, taken := s.stems[stem]
		if !taken || other == id {
			break
		}
		stem = sanitize(id) + "-" + hash + "-" + fmt.Sprint(n)
	}
	s.stems[stem] = id
	return stem
}

// sanitize keeps the ASCII letters, digits, '-' and '_' of id, replacing
// runs of anything else by one '_', and bounds the length. Dots are
// replaced too, so the result can never be "." or "..".
func sanitize(id string) string {
	var b strings.Builder
	n := 0
	under := false
	for _, r := range id {
		if n == maxStemRunes {
			break
		}
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		if !ok {
			if under {
				continue
			}
			r = '_'
		}
		under = r == '_'
		b.WriteRune(r)
		n++
	}
	if b.Len() == 0 {
		return "p"
	}
	return b.String()
}

// seconds converts a session time to JSON seconds, rounded to the
// microsecond so that files stay readable.
func seconds(d time.Duration) float64 {
	return d.Round(time.Microsecond).Seconds()
}

// Manifest returns what session.json says now. Present participants have
// leave_time_s and their open presence interval ending now; tracks still
// recording have no end_s; end_time_s is set once the session is closed.
// A continued session's (Config.Continue) includes the earlier part.
func (s *Session) Manifest() *manifest.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Elapsed()
	if s.ended {
		now = s.endAt
	}
	m := &manifest.Session{
		SessionID:    s.id,
		SessionDir:   s.dir,
		Participants: make([]manifest.Participant, 0, len(s.order)),
		StartedAt:    s.start.UTC().Format(time.RFC3339Nano),
	}
	if s.ended {
		end := seconds(s.endAt)
		m.EndTimeS = &end
	}
	if s.hints != nil {
		m.Hints = manifest.HintsName
	}
	for _, p := range s.order {
		mp := manifest.Participant{ID: p.id, Name: p.name}
		for _, iv := range p.intervals {
			leave := iv.leave
			if leave < 0 {
				leave = now
			}
			mp.Presence = append(mp.Presence, manifest.Interval{JoinS: seconds(iv.join), LeaveS: seconds(leave)})
		}
		mp.JoinTimeS = mp.Presence[0].JoinS
		mp.LeaveTimeS = mp.Presence[len(mp.Presence)-1].LeaveS
		for _, t := range p.tracks {
			mp.Tracks = append(mp.Tracks, t.manifestTrack())
			switch {
			case t.info.Source == Camera && mp.VideoPath == "":
				mp.VideoPath = t.name
			case t.info.Source == Microphone && mp.AudioPath == "":
				mp.AudioPath = t.name
			}
		}
		m.Participants = append(m.Participants, mp)
	}
	m.Format = m.NeededFormat()
	if s.prev == nil {
		return m
	}
	merged, err := manifest.Merge([]*manifest.Session{s.prev, m}, []time.Duration{0, 0})
	if err != nil {
		// Not expected: both parts are valid and on one clock.
		s.log.Error("cannot merge the continued session; session.json holds this part only", "err", err)
		return m
	}
	merged.SessionID, merged.SessionDir, merged.StartedAt = m.SessionID, m.SessionDir, m.StartedAt
	if !s.ended {
		merged.EndTimeS = nil // still recording
	}
	return merged
}

// manifestTrack describes t for session.json; s.mu must be held.
func (t *Track) manifestTrack() manifest.Track {
	r := t.rec
	mt := manifest.Track{
		Kind:     t.info.Kind.String(),
		Source:   string(t.info.Source),
		Path:     t.name,
		Codec:    string(t.info.Codec),
		StartS:   seconds(r.start),
		Width:    r.width,
		Height:   r.height,
		Complete: r.complete,
	}
	if r.end >= 0 {
		end := seconds(r.end)
		mt.EndS = &end
	}
	for _, c := range r.changes {
		mt.Resolutions = append(mt.Resolutions, manifest.Resolution{AtS: seconds(c.at), Width: c.width, Height: c.height})
	}
	for k, sg := range r.segments {
		ms := manifest.Segment{Path: sg.name, StartS: seconds(sg.start), Bytes: sg.bytes, Complete: sg.complete}
		end := sg.end
		if k == len(r.segments)-1 && r.end >= 0 {
			end = max(r.end, sg.start)
		}
		if end >= 0 {
			e := seconds(end)
			ms.EndS = &e
		}
		mt.Segments = append(mt.Segments, ms)
	}
	return mt
}

// checkpoint rewrites session.json from the current state, atomically: a
// failed write (a full disk) leaves the previous version in place. The
// first of a run of failures is recorded as a storage failure (queuing a
// StorageFailed event the caller delivers) and logged as an error; the
// next success ends the run.
func (s *Session) checkpoint() error {
	err := s.writeManifest()
	if err == nil {
		s.notifyFile(s.ManifestPath())
	}
	return err
}

// writeManifest implements checkpoint under manifestMu.
func (s *Session) writeManifest() error {
	s.manifestMu.Lock()
	defer s.manifestMu.Unlock()
	err := s.Manifest().WriteFile(s.ManifestPath())
	if err == nil {
		if s.manifestFailed {
			s.log.Info("session.json written again", "file", s.ManifestPath())
		}
		s.manifestFailed = false
		return nil
	}
	err = fmt.Errorf("%w: session %q: %w", ErrStorage, s.id, err)
	if !s.manifestFailed {
		s.manifestFailed = true
		s.mu.Lock()
		s.failLocked(nil, nil, err)
		s.mu.Unlock()
		s.log.Error("cannot write session.json; its last version stays", "file", s.ManifestPath(), "err", err)
	}
	return err
}

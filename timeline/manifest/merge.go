package manifest

import (
	"fmt"
	"slices"
	"time"
)

// Merge merges the manifests of a recording's parts (each already loaded,
// paths absolute or relative to one directory) into one session on the
// first part's clock: part k's times move by offsets[k] (its start after
// the first's), a participant present in several parts keeps one entry
// (by Key) with every presence interval and track, and the time between
// parts is a gap nobody is present in. offsets must be ascending, the
// first 0; intervals that would overlap an earlier part's (a clock step)
// are cut at the earlier part's end. The result has end_time_s (the
// latest end or leave) when there are several parts or the first has
// one. The parts are not changed.
//
// A recording is in parts when its recorder restarted (recorder/service's
// resumed jobs) or another process continued it (recorder.Config.Continue).
func Merge(parts []*Session, offsets []time.Duration) (*Session, error) {
	if len(parts) == 0 || len(parts) != len(offsets) {
		return nil, fmt.Errorf("manifest: merge %d manifests with %d offsets", len(parts), len(offsets))
	}
	out := parts[0].Clone()
	out.Participants = nil
	byKey := map[string]int{}
	var end float64
	for k, part := range parts {
		off := offsets[k].Seconds()
		if k > 0 && offsets[k] < offsets[k-1] {
			return nil, fmt.Errorf("manifest: merge: part %d starts %v before part %d", k, offsets[k-1]-offsets[k], k-1)
		}
		floor := end // nothing of this part before the previous one's end
		for _, p := range part.Participants {
			ivs := make([]Interval, 0, len(p.Intervals()))
			for _, iv := range p.Intervals() {
				iv.JoinS = max(iv.JoinS+off, floor)
				iv.LeaveS = max(iv.LeaveS+off, iv.JoinS)
				ivs = append(ivs, iv)
			}
			tracks := make([]Track, 0, len(p.Tracks))
			for _, t := range p.Tracks {
				tracks = append(tracks, t.shifted(off))
			}
			if len(p.Tracks) == 0 { // prototype form: files start at the join
				if p.VideoPath != "" {
					tracks = append(tracks, Track{Kind: KindVideo, Source: SourceCamera, Path: p.VideoPath, StartS: p.JoinTimeS + off})
				}
				if p.AudioPath != "" {
					tracks = append(tracks, Track{Kind: KindAudio, Source: SourceMicrophone, Path: p.AudioPath, StartS: p.JoinTimeS + off})
				}
			}
			for _, iv := range ivs {
				end = max(end, iv.LeaveS)
			}
			i, ok := byKey[p.Key()]
			if !ok {
				q := p
				q.Tracks = tracks
				q.SetPresence(ivs)
				if q.Presence == nil && len(ivs) == 1 {
					q.JoinTimeS, q.LeaveTimeS = ivs[0].JoinS, ivs[0].LeaveS
				}
				byKey[p.Key()] = len(out.Participants)
				out.Participants = append(out.Participants, q)
				continue
			}
			q := &out.Participants[i]
			q.Tracks = append(q.Tracks, tracks...)
			q.SetPresence(append(slices.Clone(q.Intervals()), ivs...))
			if q.VideoPath == "" {
				q.VideoPath = p.VideoPath
			}
			if q.AudioPath == "" {
				q.AudioPath = p.AudioPath
			}
		}
		if part.EndTimeS != nil {
			end = max(end, *part.EndTimeS+off)
		}
	}
	if len(parts) > 1 || parts[0].EndTimeS != nil {
		out.EndTimeS = &end
	}
	out.Format = max(out.Format, out.NeededFormat())
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: merged manifest: %w", err)
	}
	return out, nil
}

// shifted returns a deep copy of t with every time moved by off seconds.
func (t Track) shifted(off float64) Track {
	t.StartS += off
	if t.EndS != nil {
		e := *t.EndS + off
		t.EndS = &e
	}
	t.Resolutions = slices.Clone(t.Resolutions)
	for i := range t.Resolutions {
		t.Resolutions[i].AtS += off
	}
	t.Segments = cloneSegments(t.Segments)
	for i := range t.Segments {
		sg := &t.Segments[i]
		sg.StartS += off
		if sg.EndS != nil {
			*sg.EndS += off
		}
	}
	return t
}

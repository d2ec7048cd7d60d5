package service

import (
	"fmt"
	"slices"
	"time"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// mergeParts merges the manifests of a job's recording parts (each already
// loaded, paths absolute) into one session on the first part's clock:
// part k's times move by offsets[k] (its start after the first's), a
// participant present in several parts keeps one entry (by Key) with
// every presence interval and track, and the time between parts is a gap
// nobody is present in. offsets must be ascending, the first 0; intervals
// that would overlap an earlier part's (a clock step) are cut at the
// earlier part's end.
func mergeParts(parts []*manifest.Session, offsets []time.Duration) (*manifest.Session, error) {
	if len(parts) == 0 || len(parts) != len(offsets) {
		return nil, fmt.Errorf("service: merge %d manifests with %d offsets", len(parts), len(offsets))
	}
	out := parts[0].Clone()
	out.Participants = nil
	byKey := map[string]int{}
	var end float64
	for k, part := range parts {
		off := offsets[k].Seconds()
		if k > 0 && offsets[k] < offsets[k-1] {
			return nil, fmt.Errorf("service: merge: part %d starts %v before part %d", k, offsets[k-1]-offsets[k], k-1)
		}
		floor := end // nothing of this part before the previous one's end
		for _, p := range part.Participants {
			ivs := make([]manifest.Interval, 0, len(p.Intervals()))
			for _, iv := range p.Intervals() {
				iv.JoinS = max(iv.JoinS+off, floor)
				iv.LeaveS = max(iv.LeaveS+off, iv.JoinS)
				ivs = append(ivs, iv)
			}
			tracks := make([]manifest.Track, 0, len(p.Tracks))
			for _, t := range p.Tracks {
				t.StartS += off
				if t.EndS != nil {
					e := *t.EndS + off
					t.EndS = &e
				}
				t.Resolutions = slices.Clone(t.Resolutions)
				for i := range t.Resolutions {
					t.Resolutions[i].AtS += off
				}
				tracks = append(tracks, t)
			}
			if len(p.Tracks) == 0 { // prototype form: files start at the join
				if p.VideoPath != "" {
					tracks = append(tracks, manifest.Track{Kind: manifest.KindVideo, Source: manifest.SourceCamera, Path: p.VideoPath, StartS: p.JoinTimeS + off})
				}
				if p.AudioPath != "" {
					tracks = append(tracks, manifest.Track{Kind: manifest.KindAudio, Source: manifest.SourceMicrophone, Path: p.AudioPath, StartS: p.JoinTimeS + off})
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
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("service: merged manifest: %w", err)
	}
	return out, nil
}

package speaker_test

import (
	"fmt"
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// truncate keeps the levels and speech before cut.
func truncate(tracks []speaker.Track, cut time.Duration) []speaker.Track {
	out := make([]speaker.Track, len(tracks))
	for i, t := range tracks {
		out[i].ID = t.ID
		for _, l := range t.Levels {
			if l.At < cut {
				out[i].Levels = append(out[i].Levels, l)
			}
		}
		for _, iv := range t.Speech {
			if iv.Start < cut {
				iv.End = min(iv.End, cut)
				out[i].Speech = append(out[i].Speech, iv)
			}
		}
	}
	return out
}

// holder is who holds the main area at t, "" for nobody.
func holder(turns []speaker.Interval, t time.Duration) string {
	for _, iv := range turns {
		if t >= iv.Start && t < iv.End {
			return iv.ID
		}
	}
	return ""
}

// samePrefix checks that part and full agree on [0, upTo), at every
// boundary of either.
func samePrefix(part, full []speaker.Interval, upTo time.Duration) error {
	var probes []time.Duration
	for _, ts := range [][]speaker.Interval{part, full} {
		for _, iv := range ts {
			probes = append(probes, iv.Start, iv.End-1, iv.End)
		}
	}
	probes = append(probes, 0)
	for _, p := range probes {
		if p < 0 || p >= upTo {
			continue
		}
		if a, b := holder(part, p), holder(full, p); a != b {
			return fmt.Errorf("at %v: %q with the levels cut, %q with all of them", p, a, b)
		}
	}
	return nil
}

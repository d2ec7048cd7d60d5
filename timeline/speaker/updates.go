package speaker

import (
	"fmt"
	"time"
)

// Update is a transport's list of active speakers from At on, as LiveKit
// sends them (OnActiveSpeakersChanged): every participant speaking, an
// empty list when nobody is.
type Update struct {
	At  time.Duration
	IDs []string
}

// FromUpdates turns updates, in time order, into each participant's
// [Track.Speech]: a participant speaks from an update that lists them to
// the next one that does not, or to end. Tracks come in the order their
// participant is first listed; updates at or after end are ignored. It
// fails with ErrLevels for a negative or decreasing At, an empty ID or a
// negative end.
func FromUpdates(ups []Update, end time.Duration) ([]Track, error) {
	if end < 0 {
		return nil, fmt.Errorf("%w: end %v", ErrLevels, end)
	}
	index := map[string]int{}
	var tracks []Track
	since := map[string]time.Duration{} // speaking now, from when
	var prev time.Duration
	stop := func(id string, at time.Duration) {
		if s := since[id]; at > s {
			t := &tracks[index[id]]
			t.Speech = append(t.Speech, Interval{Start: s, End: at, ID: id})
		}
		delete(since, id)
	}
	for k, u := range ups {
		if u.At < prev {
			return nil, fmt.Errorf("%w: update %d: time %v before the previous update's %v", ErrLevels, k, u.At, prev)
		}
		prev = u.At
		if u.At >= end {
			break
		}
		now := make(map[string]bool, len(u.IDs))
		for _, id := range u.IDs {
			if id == "" {
				return nil, fmt.Errorf("%w: update %d: empty ID", ErrLevels, k)
			}
			now[id] = true
			if _, ok := index[id]; !ok {
				index[id] = len(tracks)
				tracks = append(tracks, Track{ID: id})
			}
			if _, on := since[id]; !on {
				since[id] = u.At
				// Listed again at the instant they were dropped: one
				// interval.
				t := &tracks[index[id]]
				if n := len(t.Speech); n > 0 && t.Speech[n-1].End == u.At {
					since[id] = t.Speech[n-1].Start
					t.Speech = t.Speech[:n-1]
				}
			}
		}
		for _, t := range tracks {
			if _, on := since[t.ID]; on && !now[t.ID] {
				stop(t.ID, u.At)
			}
		}
	}
	for _, t := range tracks {
		if _, on := since[t.ID]; on {
			stop(t.ID, end)
		}
	}
	return tracks, nil
}

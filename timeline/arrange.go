package timeline

import (
	"fmt"
	"slices"
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// defaultAspect is the picture aspect of a participant without one.
const defaultAspect = 16.0 / 9.0

// checkTurns validates Options.Turns: each non-empty, not negative, in
// time order without overlaps, with an ID.
func checkTurns(turns []speaker.Interval) error {
	for i, t := range turns {
		switch {
		case t.ID == "":
			return fmt.Errorf("timeline: Options.Turns[%d]: empty ID: %w", i, ErrInvalidOptions)
		case t.Start < 0 || t.End <= t.Start:
			return fmt.Errorf("timeline: Options.Turns[%d] %q: span [%v, %v): %w", i, t.ID, t.Start, t.End, ErrInvalidOptions)
		case i > 0 && t.Start < turns[i-1].End:
			return fmt.Errorf("timeline: Options.Turns[%d] %q starts at %v, before the previous turn's end %v: %w", i, t.ID, t.Start, turns[i-1].End, ErrInvalidOptions)
		}
	}
	return nil
}

// arrange applies the main-area rule (5) documented on Windows.
func arrange(ws []Window, opts Options) []Window {
	speakerLayout := opts.Layout == Speaker || opts.Layout == SingleSpeaker
	if len(opts.Screens) == 0 && (!speakerLayout || len(opts.Turns) == 0) && opts.Layout != Auto {
		if speakerLayout {
			for i := range ws {
				ws[i].Layout = Columns
			}
		}
		return ws
	}
	var out []Window
	for _, w := range ws {
		cuts := []time.Duration{w.Start}
		if speakerLayout {
			for _, t := range opts.Turns {
				for _, at := range []time.Duration{t.Start, t.End} {
					if at > w.Start && at < w.End {
						cuts = append(cuts, at)
					}
				}
			}
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		for i, start := range cuts {
			end := w.End
			if i+1 < len(cuts) {
				end = cuts[i+1]
			}
			piece := place(w, start, end, opts)
			if n := len(out); n > 0 && alike(out[n-1], piece) {
				out[n-1].End = piece.End
				continue
			}
			out = append(out, piece)
		}
	}
	return out
}

// place lays out w's participants in [start, end).
func place(w Window, start, end time.Duration, opts Options) Window {
	all := append(slices.Clip(w.Participants), w.Hidden...)
	p := Window{Start: start, End: end, Layout: opts.Layout}
	main := -1
	for i, part := range all {
		if slices.Contains(opts.Screens, part.ID) {
			main = i
			break
		}
	}
	if main >= 0 && opts.Layout != SingleSpeaker {
		p.Layout = Speaker
	}
	if main < 0 && (opts.Layout == Speaker || opts.Layout == SingleSpeaker) {
		if id := holder(opts.Turns, start); id != "" {
			main = slices.IndexFunc(all, func(q Participant) bool { return q.ID == id })
		}
		if main < 0 {
			p.Layout = Columns
		}
	}
	order := all
	if main >= 0 {
		order = append([]Participant{all[main]}, slices.Delete(slices.Clone(all), main, main+1)...)
	}
	limit := opts.MaxTiles
	if p.Layout == SingleSpeaker {
		limit = 1
	}
	if limit > 0 && len(order) > limit {
		p.Participants, p.Hidden = order[:limit], order[limit:]
	} else {
		p.Participants = order
	}
	if p.Layout == Auto {
		for _, q := range p.Participants {
			a := opts.Aspects[q.ID]
			if !(a > 0 && a < 100) {
				a = defaultAspect
			}
			p.Aspects = append(p.Aspects, a)
		}
	}
	return p
}

// holder is who holds the main area at t.
func holder(turns []speaker.Interval, t time.Duration) string {
	i, found := slices.BinarySearchFunc(turns, t, func(iv speaker.Interval, t time.Duration) int {
		switch {
		case iv.End <= t:
			return -1
		case iv.Start > t:
			return 1
		}
		return 0
	})
	if !found {
		return ""
	}
	return turns[i].ID
}

// alike reports whether two windows draw the same picture.
func alike(a, b Window) bool {
	return a.Layout == b.Layout && a.End == b.Start &&
		slices.Equal(a.Participants, b.Participants) && slices.Equal(a.Hidden, b.Hidden) &&
		slices.Equal(a.Aspects, b.Aspects)
}

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/synth"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Tolerances of the output check, each with its reason.
const (
	// durationTolerance bounds the output's length against the call's:
	// one video frame or one AAC frame plus the encoder's priming.
	durationTolerance = 100 * time.Millisecond
	// edgeMargin keeps probes away from window edges, where a layout
	// change or a track's first frame falls.
	edgeMargin = time.Second
	// maxFreeze is the longest a tile's picture may stand still: the test
	// pattern moves every frame, so a second without motion is a freeze.
	maxFreeze = time.Second
	// minTint is the cosine similarity a tile's colour must have with its
	// participant's tint (as in the bot's checks).
	minTint = 0.93
)

// avTolerance is the A/V bound of an output at fps frames a second: a
// flash is seen at the first output frame at or after it (up to a frame
// late), a beep to within mediacheck's onset resolution.
func avTolerance(fps int) time.Duration {
	return time.Second/time.Duration(fps) + 2*mediacheck.ToneHop
}

// markerTolerance bounds how far a flash may be from when its participant
// sent it: the A/V bound, since recording keeps media times exactly and
// nothing may drift over a long call.
func markerTolerance(fps int) time.Duration { return avTolerance(fps) }

// CheckReport is what Check measured.
type CheckReport struct {
	Windows, Pairs, Sent int
	// MaxAV is the largest |A/V| among the pairs; MaxDrift the largest
	// distance of a flash from its sent time.
	MaxAV, MaxDrift time.Duration
}

// ErrCheck is returned (wrapped) by Check for an output that fails.
var ErrCheck = errors.New("longcall: output check failed")

// Check decodes the composition out of m (composed at w x h, fps) and
// checks it: its duration, and in every layout window, each tile's tint,
// motion, and flash/beep pairs for all but one of the markers its
// participant sent there (mediacheck.MinPairs), each pair within
// avTolerance and each flash within markerTolerance of its sent time.
func Check(m *manifest.Session, out string, w, h, fps int) (*CheckReport, error) {
	ws, err := m.Windows(timeline.Options{})
	if err != nil {
		return nil, err
	}
	type region struct {
		win   timeline.Window
		id    string
		index int
	}
	byID := map[string]step{}
	for _, s := range plan(m.End().Truncate(8 * time.Second)) {
		byID[s.ID] = s
	}
	var regions []region
	var rects []timeline.Rect
	for _, win := range ws {
		for i, r := range win.Tiles(w, h) {
			id := win.Participants[i].ID
			s, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("%w: unknown participant %q in window %v-%v", ErrCheck, id, win.Start, win.End)
			}
			dst, _ := timeline.Place(r, 16, 9, timeline.Letterbox)
			dx, dy := dst.W/8&^1, dst.H/8&^1
			rects = append(rects, timeline.Rect{X: dst.X + dx, Y: dst.Y + dy, W: dst.W - 2*dx, H: dst.H - 2*dy})
			regions = append(regions, region{win, id, s.Index})
		}
	}
	var freqs []float64
	for _, s := range byID {
		freqs = append(freqs, synth.Freq(s.Index))
	}
	rep, err := mediacheck.Analyze(out, mediacheck.Options{Regions: rects, Freqs: freqs})
	if err != nil {
		return nil, err
	}
	var errs []error
	if d := rep.Duration - m.End(); d.Abs() > durationTolerance {
		errs = append(errs, fmt.Errorf("output lasts %v, the call %v", rep.Duration, m.End()))
	}
	palette := testmedia.Palette()
	cr := &CheckReport{Windows: len(ws)}
	for i, r := range regions {
		s := byID[r.id]
		from, to := r.win.Start+edgeMargin, r.win.End-edgeMargin
		if to <= from {
			continue
		}
		var sent []time.Duration
		for at := s.join; at < s.leave; at += synth.MarkerPeriod {
			if at >= from && at < to {
				sent = append(sent, at)
			}
		}
		flashes := within(rep.FlashOnsets(i), from, to)
		beeps := within(rep.BeepOnsets(synth.Freq(s.Index)), from, to)
		offs, err := mediacheck.CheckAV(flashes, beeps, mediacheck.MinPairs(len(sent)), avTolerance(fps))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s in [%v, %v), %d markers sent: %w", s.Name, from, to, len(sent), err))
		}
		cr.Pairs += len(offs)
		cr.Sent += len(sent)
		cr.MaxAV = max(cr.MaxAV, mediacheck.MaxAbsAV(offs))
		for _, f := range flashes {
			d := nearest(sent, f) - f
			cr.MaxDrift = max(cr.MaxDrift, d.Abs())
			if d.Abs() > markerTolerance(fps) {
				errs = append(errs, fmt.Errorf("%s: flash at %v, sent at %v", s.Name, f, f+d))
			}
		}
		for _, fz := range rep.Freezes(i, maxFreeze) {
			if fz.End > from && fz.Start < to {
				errs = append(errs, fmt.Errorf("%s's picture frozen from %v to %v", s.Name, fz.Start, fz.End))
			}
		}
		at := (from + to) / 2
		at = at.Truncate(synth.MarkerPeriod) + synth.MarkerPeriod/2 + s.join%synth.MarkerPeriod
		if c, ok := rep.MeanAt(i, at); !ok {
			errs = append(errs, fmt.Errorf("%s: no frame at %v", s.Name, at))
		} else if k, sim := mediacheck.Nearest(c, palette); k != s.Index || sim < minTint {
			errs = append(errs, fmt.Errorf("%s's tile at %v is %+v: tint %d (similarity %.3f), want %d", s.Name, at, c, k, sim, s.Index))
		}
	}
	if cr.Pairs == 0 {
		errs = append(errs, errors.New("no flash/beep pair in the whole output"))
	}
	if err := errors.Join(errs...); err != nil {
		return cr, fmt.Errorf("%w: %w", ErrCheck, err)
	}
	return cr, nil
}

// within returns the times of ts in [from, to).
func within(ts []time.Duration, from, to time.Duration) []time.Duration {
	var out []time.Duration
	for _, t := range ts {
		if t >= from && t < to {
			out = append(out, t)
		}
	}
	return out
}

// nearest returns the time of ts nearest to t (t itself if ts is empty).
func nearest(ts []time.Duration, t time.Duration) time.Duration {
	best := t
	for i, s := range ts {
		if i == 0 || (s-t).Abs() < (best-t).Abs() {
			best = s
		}
	}
	return best
}

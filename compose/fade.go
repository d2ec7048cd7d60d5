package compose

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/timeline"
)

// MaxCrossFade bounds Config.CrossFade: a fade is a transition, not a
// second layout.
const MaxCrossFade = time.Second

// speakerSwitch reports whether the change from window prev to next is a
// speaker switch, which Config.CrossFade fades: the same speaker layout
// and the same people on screen, another one in the main area. Joins,
// leaves, screen shares and layout changes cut.
func speakerSwitch(prev, next *timeline.Window) bool {
	if prev == nil || next == nil || prev.Layout != next.Layout || !usesSpeakers(next.Layout) {
		return false
	}
	if len(prev.Participants) == 0 || len(prev.Participants) != len(next.Participants) ||
		prev.Participants[0].ID == next.Participants[0].ID {
		return false
	}
	ids := func(w *timeline.Window) []string {
		var out []string
		for _, p := range w.Participants {
			out = append(out, p.ID)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(ids(prev), ids(next))
}

// fadeWeight is the weight (0 to 256) of the new picture in output frame
// n of a fade that starts at frame start and lasts frames frames: it
// rises linearly, reaching 256 at the fade's end; ok is false outside the
// fade.
func fadeWeight(n, start, frames int64) (w int, ok bool) {
	if frames <= 0 || n < start || n >= start+frames {
		return 256, false
	}
	return int((n - start + 1) * 256 / (frames + 1)), true
}

// blend mixes from into to in place: to = (w*to + (256-w)*from) / 256,
// byte by byte (the packed planes of two pictures of one size and
// format); w is clamped to 0..256.
func blend(to, from []byte, w int) {
	w = min(max(w, 0), 256)
	n := min(len(to), len(from))
	to, from = to[:n], from[:n]
	a, c := uint32(w), uint32(256-w)
	for i, v := range to {
		to[i] = byte((a*uint32(v) + c*uint32(from[i]) + 128) >> 8)
	}
}

// fade is the state of the cross-fades of a composition; the owner
// goroutine owns it (composed frames are blended before they are queued
// for the encoder, in output order).
type fade struct {
	frames  int64         // frames per fade, 0 when fading is off
	last    *astiav.Frame // a reference to the last composed frame, as composed
	from    []byte        // packed planes of the picture the current fade starts from
	start   int64         // first frame of the current fade
	pending bool          // from is to be taken from the frame before start
}

// begin starts a fade at output frame n, from the picture composed just
// before it.
func (f *fade) begin(n int64) {
	if f.frames > 0 {
		f.start, f.pending = n, true
	}
}

// apply blends composed frame fr (output frame fr.Pts(), a frame of its
// own that may share its buffer) with the fade's starting picture while a
// fade runs, and keeps a reference to fr's picture as the last one.
// Outside fades it costs a reference.
func (f *fade) apply(fr *astiav.Frame) error {
	if f.frames == 0 {
		return nil
	}
	if f.pending && fr.Pts() >= f.start {
		// The graph of the old layout was drained before this frame:
		// last is the frame before the switch.
		f.pending = false
		f.from = f.from[:0]
		if f.last != nil {
			b, err := f.last.Data().Bytes(1)
			if err != nil {
				return fmt.Errorf("compose: cross-fade: %w", err)
			}
			f.from = append(f.from, b...)
		}
	}
	f.free()
	if f.last = fr.Clone(); f.last == nil {
		return errors.New("compose: cross-fade: cloning a frame failed")
	}
	w, ok := fadeWeight(fr.Pts(), f.start, f.frames)
	if !ok || f.pending || len(f.from) == 0 {
		return nil
	}
	// The buffer is shared (with the graph, and with last): blend into a
	// copy of its own.
	if err := fr.MakeWritable(); err != nil {
		return fmt.Errorf("compose: cross-fade: %w", err)
	}
	b, err := fr.Data().Bytes(1)
	if err != nil {
		return fmt.Errorf("compose: cross-fade: %w", err)
	}
	if len(b) != len(f.from) {
		return nil // another picture size: no fade
	}
	blend(b, f.from, w) // b is a copy of the picture
	if err := fr.Data().SetBytes(b, 1); err != nil {
		return fmt.Errorf("compose: cross-fade: %w", err)
	}
	return nil
}

// free drops the reference to the last frame.
func (f *fade) free() {
	if f.last != nil {
		f.last.Free()
		f.last = nil
	}
}

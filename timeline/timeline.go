// Package timeline turns participants' join and leave events into layout
// windows: contiguous, non-overlapping spans of the session, each with the
// participants on screen in a stable order and the tile geometry to draw them.
//
// It is pure Go (no cgo) so that hosts can call [Windows] in their own unit
// tests. The session clock is a [time.Duration] since the session started.
package timeline

import (
	"fmt"
	"time"
)

// EventKind says what happened to a participant.
type EventKind int

// Event kinds.
const (
	// Join marks the start of a presence interval.
	Join EventKind = iota + 1
	// Leave marks the end of a presence interval.
	Leave
)

// Event is one join or leave of a participant on the session clock.
type Event struct {
	Kind EventKind
	// At is the time on the session clock; it must not be negative.
	At time.Duration
	// ParticipantID identifies the participant across rejoins; required.
	ParticipantID string
	// Name is the display name. On a Join it sets the name shown from then
	// on; on a Leave it is ignored.
	Name string
}

// Participant is someone shown in a window.
type Participant struct {
	// ID is the Event.ParticipantID.
	ID string
	// Name is the display name at the window's start (the ID when no Join
	// carried a name).
	Name string
}

// LayoutKind is the rule that places tiles on the canvas.
type LayoutKind int

// Layout kinds.
const (
	// Columns is the prototype's rule: one participant fills the frame, two
	// sit side by side, three or more share the width in equal columns.
	Columns LayoutKind = iota
	// Grid is a near-square grid whose last row is centred.
	Grid
	// Speaker shows the active speaker (Options.Turns) large with the
	// others in a strip below, in the order of their first join; before
	// anyone has spoken, or while the speaker is away, it is Columns.
	Speaker
	// SingleSpeaker shows only the active speaker, the others listed in
	// Window.Hidden; before anyone has spoken it is Columns.
	SingleSpeaker
	// Auto is an aspect-aware arrangement in rows: each tile gets its
	// participant's picture aspect (Options.Aspects), and the rows are
	// chosen to show the largest picture area; see [AutoTiles].
	Auto
)

// String returns the layout's name as --layout spells it: "columns",
// "grid", "speaker", "single-speaker" or "auto".
func (k LayoutKind) String() string {
	switch k {
	case Columns:
		return "columns"
	case Grid:
		return "grid"
	case Speaker:
		return "speaker"
	case SingleSpeaker:
		return "single-speaker"
	case Auto:
		return "auto"
	}
	return fmt.Sprintf("LayoutKind(%d)", int(k))
}

// ParseLayout is the LayoutKind named s (see [LayoutKind.String]); ok is
// false for an unknown name.
func ParseLayout(s string) (k LayoutKind, ok bool) {
	for k := Columns; k <= Auto; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return Columns, false
}

// Fit is a tile's aspect policy: how a picture whose aspect ratio differs
// from its tile's is placed in it.
type Fit int

// Aspect policies.
const (
	// Letterbox scales the picture to fit inside the tile and pads the rest.
	Letterbox Fit = iota
	// Crop scales the picture to cover the tile and crops what sticks out.
	Crop
)

// Window is a span [Start, End) of the session in which the same
// participants are on screen.
type Window struct {
	// Start and End bound the window on the session clock.
	Start, End time.Duration
	// Participants are on screen, in the order of their first join; in
	// the Speaker and SingleSpeaker layouts the one in the main area (the
	// active speaker or a screen share) comes first. Empty for a span in
	// which nobody is present.
	Participants []Participant
	// Hidden are present but not on screen because the layout has no room
	// for them (see Options.MaxTiles); they are still heard.
	Hidden []Participant
	// Layout is the layout drawn in this window: Options.Layout, or
	// Speaker (SingleSpeaker) while a screen share takes the main area, or
	// Columns while a speaker layout has no speaker; see [Window.Tiles].
	Layout LayoutKind
	// Aspects are the Participants' picture aspect ratios (width/height)
	// in the Auto layout, from Options.Aspects.
	Aspects []float64
}

// Rect is an integer rectangle on the canvas; X, Y, W and H are even so that
// it can be drawn in a 4:2:0 picture.
type Rect struct {
	// X and Y are the top-left corner; W and H the size, in pixels.
	X, Y, W, H int
}

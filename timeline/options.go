package timeline

import (
	"time"

	"github.com/roomtape/roomtape/timeline/speaker"
)

// DefaultMinWindow is the minimum window length used when
// Options.MinWindow is zero.
const DefaultMinWindow = 2 * time.Second

// DefaultMaxTiles is the most tiles the Grid and Auto layouts show when
// Options.MaxTiles is zero.
const DefaultMaxTiles = 9

// Options tune [Windows]. The zero value is the prototype's behaviour with
// a 2 s minimum window.
type Options struct {
	// Layout (optional) defaults to Columns.
	Layout LayoutKind
	// MaxTiles (optional) caps the tiles on screen; defaults to
	// DefaultMaxTiles for Grid and Auto and no cap for the others.
	// Participants beyond the cap are listed in Window.Hidden (overflow
	// rule documented on Windows).
	MaxTiles int
	// MinWindow (optional) defaults to DefaultMinWindow; negative disables
	// it. Absences and windows shorter than it do not change the layout
	// (the exact rule is documented on Windows).
	MinWindow time.Duration
	// TrimEmpty (optional) drops spans in which nobody is present instead
	// of returning windows with no participants.
	TrimEmpty bool
	// Turns (optional) say who holds the main area of the Speaker and
	// SingleSpeaker layouts when, as speaker.Detect returns them (IDs
	// are ParticipantIDs). Ignored by the other layouts.
	Turns []speaker.Interval
	// Screens (optional) are the ParticipantIDs that are screen shares:
	// while one is on screen it takes the main area in every layout
	// (see Windows).
	Screens []string
	// Aspects (optional) are participants' picture aspect ratios
	// (width/height) by ParticipantID, for the Auto layout; a participant
	// without one (or with one out of (0, 100)) counts as 16:9.
	Aspects map[string]float64
}

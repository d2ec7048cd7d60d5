package timeline

import "time"

// DefaultMinWindow is the minimum window length used when
// Options.MinWindow is zero.
const DefaultMinWindow = 2 * time.Second

// DefaultMaxTiles is the most tiles the Grid layout shows when
// Options.MaxTiles is zero.
const DefaultMaxTiles = 9

// Options tune [Windows]. The zero value is the prototype's behaviour with
// a 2 s minimum window.
type Options struct {
	// Layout (optional) defaults to Columns.
	Layout LayoutKind
	// MaxTiles (optional) caps the tiles on screen; defaults to
	// DefaultMaxTiles for Grid and no cap for Columns. Participants beyond
	// the cap are listed in Window.Hidden (overflow rule documented on
	// Windows).
	MaxTiles int
	// MinWindow (optional) defaults to DefaultMinWindow; negative disables
	// it. Absences and windows shorter than it do not change the layout
	// (the exact rule is documented on Windows).
	MinWindow time.Duration
	// TrimEmpty (optional) drops spans in which nobody is present instead
	// of returning windows with no participants.
	TrimEmpty bool
}

// Package speaker finds who is speaking in a session from per-participant
// audio levels (or a transport's speaker reports), and who should hold the
// main area of a speaker layout.
//
// It is pure Go (no cgo), like package timeline: levels in, intervals out,
// so that hosts can unit-test it. The levels are short-term RMS levels in
// dBFS, one per block of about 20 ms (compose measures them by decoding
// each microphone file, or takes them from the RTP audio-level header
// extension, RFC 6464, which carries the same RMS level relative to a
// full-scale square wave: DBFS = -level). A transport that reports who
// speaks instead of levels (LiveKit's active-speaker updates) gives
// [Track.Speech]; [FromUpdates] turns its updates into it.
//
// Two steps:
//
//   - [Activity] turns one participant's levels into speech intervals:
//     the level is smoothed, compared with the participant's own noise
//     floor (so a noisy room does not count as speech) with hysteresis
//     (it starts above floor + Config.OnAbove, stops below floor +
//     Config.OffAbove) and a hangover that bridges the pauses between
//     words.
//   - [Detect] turns everyone's activity into turns: the intervals in which
//     one participant holds the main area. Its stability rules are
//     documented on Detect.
//
// Both are causal with a bounded look-ahead ([Config.Lookahead]): what
// Detect returns before time T - Lookahead does not change when levels after
// T are added, which is what a live composer, drawing its output a fixed
// delay behind the live edge, needs.
package speaker

import (
	"errors"
	"time"
)

// Level is the RMS level of one block of a participant's audio.
type Level struct {
	// At is the block's start on the session clock.
	At time.Duration
	// DBFS is the block's RMS level in dB relative to full scale (0 is a
	// full-scale square wave, a sine peaking at full scale is about -3).
	// Levels below Silence (including -Inf) count as Silence.
	DBFS float64
}

// Silence is the lowest level the package distinguishes, in dBFS.
const Silence = -100.0

// Track is one participant's levels, in time order, or their speech as a
// transport reported it.
type Track struct {
	// ID identifies the participant; required and unique.
	ID string
	// Levels are in increasing At order. A gap longer than a block (no
	// audio: muted, not publishing, not present) is silence.
	Levels []Level
	// Speech (optional) is the participant's speech as a transport found
	// it (e.g. LiveKit's active-speaker updates, see [FromUpdates]):
	// intervals in time order, not overlapping. When it is not empty,
	// Levels are ignored: the intervals are the participant's
	// [Activity], and [Detect] applies its stability rules to them.
	Speech []Interval
}

// Interval is a span [Start, End) of the session attributed to one
// participant: speech for [Activity], a turn in the main area for
// [Detect].
type Interval struct {
	Start, End time.Duration
	// ID is the Track's ID.
	ID string
}

// Errors returned (wrapped) by [Activity] and [Detect]; the message names
// the field, participant or level at fault. Test with errors.Is.
var (
	// ErrConfig is a Config field out of range.
	ErrConfig = errors.New("speaker: bad config")
	// ErrLevels is input that cannot be levels: an empty or duplicate
	// ID, a negative or decreasing At, a NaN level, a negative end.
	ErrLevels = errors.New("speaker: bad levels")
)

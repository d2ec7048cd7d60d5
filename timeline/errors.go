package timeline

import (
	"errors"
	"fmt"
)

// Errors returned by [Windows], wrapped in an [*EventError] when one event
// is at fault. Test for them with errors.Is.
var (
	// ErrEmptyID is an event without a ParticipantID.
	ErrEmptyID = errors.New("empty participant ID")
	// ErrBadKind is an event whose Kind is neither Join nor Leave.
	ErrBadKind = errors.New("unknown event kind")
	// ErrNegativeTime is an event (or a session end) before time 0.
	ErrNegativeTime = errors.New("negative time")
	// ErrLeaveWithoutJoin is a Leave of a participant who is not present.
	ErrLeaveWithoutJoin = errors.New("leave without join")
	// ErrDuplicateJoin is a Join of a participant who is already present.
	ErrDuplicateJoin = errors.New("duplicate join")
	// ErrEndBeforeLastEvent is a session end earlier than an event.
	ErrEndBeforeLastEvent = errors.New("session end before last event")
	// ErrNoParticipants is a list of events without any Join.
	ErrNoParticipants = errors.New("no participants")
	// ErrEmptySession is a session end of zero: there is nothing to lay out.
	ErrEmptySession = errors.New("empty session")
	// ErrInvalidOptions is an [Options] value out of range.
	ErrInvalidOptions = errors.New("invalid options")
)

// EventError is the error [Windows] returns for a bad event. It names the
// event by its index in the input slice, the participant and the field.
type EventError struct {
	// Index is the position of the event in the slice given to Windows.
	Index int
	// ParticipantID is the event's participant (may be empty).
	ParticipantID string
	// Field is the Event field at fault: "ParticipantID", "Kind" or "At".
	Field string
	// Err is one of the package's sentinel errors.
	Err error
}

// Error implements error.
func (e *EventError) Error() string {
	return fmt.Sprintf("timeline: event %d (participant %q) field %s: %v",
		e.Index, e.ParticipantID, e.Field, e.Err)
}

// Unwrap returns the sentinel error, for errors.Is.
func (e *EventError) Unwrap() error {
	return e.Err
}

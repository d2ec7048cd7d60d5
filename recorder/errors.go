package recorder

import "errors"

// Errors returned by the recorder, wrapped with the participant, track or
// file at fault; test them with errors.Is.
var (
	// ErrSessionClosed is returned by calls on a closed session.
	ErrSessionClosed = errors.New("recorder: session closed")
	// ErrAlreadyPresent is returned by Join for a participant who is
	// present.
	ErrAlreadyPresent = errors.New("recorder: participant already present")
	// ErrNotPresent is returned by AddTrack for a participant who left.
	ErrNotPresent = errors.New("recorder: participant not present")
	// ErrInvalidID is returned for an empty participant ID or an ID that is
	// not valid UTF-8.
	ErrInvalidID = errors.New("recorder: invalid participant id")
	// ErrUnknownCodec is returned by AddTrack for a codec the recorder does
	// not store.
	ErrUnknownCodec = errors.New("recorder: unknown codec")
	// ErrInvalidTrack is returned by AddTrack for inconsistent track info
	// (a kind that does not match the codec, a bad channel count) or a
	// track ID already active for the participant.
	ErrInvalidTrack = errors.New("recorder: invalid track")
	// ErrTrackStopped is returned by WriteFrame on a stopped track.
	ErrTrackStopped = errors.New("recorder: track stopped")
	// ErrEmptyFrame is returned by WriteFrame for a frame without payload.
	ErrEmptyFrame = errors.New("recorder: empty frame")
	// ErrBadConfig is returned by NewSession for an unusable Config.
	ErrBadConfig = errors.New("recorder: bad config")
	// ErrStorage wraps the error of a file or session.json that could not
	// be written (a full disk: test the cause with errors.Is(err,
	// syscall.ENOSPC)). A track whose file failed stops writing it: the
	// file stays playable up to the failure, its frames still reach the
	// sinks, and WriteFrame returns this error. See [Session.Err].
	ErrStorage = errors.New("recorder: storage failed")
)

// Package recorder records a WebRTC room without transcoding: a [Session]
// with a clock, [Participant]s that join and leave any number of times, and
// [Track]s whose encoded frames are stored as received.
//
// The package is transport-agnostic: an adapter (recorder/pionrec for pion
// tracks, recorder/whip for WHIP ingest) depacketises RTP into [Frame]s and
// calls [Track.WriteFrame] with presentation times on the session clock.
//
// For every track start the session writes one Matroska file in its
// directory (see [Config.Dir]), muxed as received through FFmpeg and flushed
// at least once a second so that a file cut by a crash plays up to about
// 1 s before it; with [Config.SegmentDuration] the file is a series of
// standalone segments, each handed to [Config.OnFile] as it closes (to
// upload it while the call goes on), and [Config.Continue] continues a
// session another process recorded. session.json (the timeline/manifest format, a superset of
// the Python prototype's) is rewritten atomically on every join, leave,
// track start and stop, resolution change, and once per checkpoint
// interval. Hosts can also attach their own [Sink]s, which receive the same
// frames and the session's [Event]s ([EventFunc] adapts a plain function).
//
// A typical host:
//
//	s, err := recorder.NewSession(recorder.Config{Dir: "recordings"})
//	p, err := s.Join(id, displayName)           // again after a Leave to rejoin
//	cam, err := p.AddTrack(recorder.TrackInfo{Codec: recorder.VP8})
//	err = cam.WriteFrame(recorder.Frame{Payload: au, PTS: s.SessionTime(captured)})
//	err = p.Leave()                             // stops its tracks
//	err = s.WaitEmpty(ctx)                      // until everyone has left
//	err = s.Close(ctx)                          // final session.json
//
// [Session.TimelineEvents] gives the joins and leaves for timeline.Windows;
// compose reads the same from session.json with timeline/manifest.
package recorder

import (
	"fmt"
	"time"
)

// MediaKind is audio or video.
type MediaKind int

// Media kinds. The zero value means "derive it from the codec".
const (
	// Audio is a sound track.
	Audio MediaKind = iota + 1
	// Video is a picture track.
	Video
)

// String returns "audio", "video" or "unknown".
func (k MediaKind) String() string {
	switch k {
	case Audio:
		return "audio"
	case Video:
		return "video"
	default:
		return "unknown"
	}
}

// Codec is the codec a track is received in, named as in session.json.
type Codec string

// Codecs the recorder stores.
const (
	VP8  Codec = "vp8"
	VP9  Codec = "vp9"
	H264 Codec = "h264"
	AV1  Codec = "av1"
	Opus Codec = "opus"
)

// Kind returns the media kind of a known codec, 0 for an unknown one.
func (c Codec) Kind() MediaKind {
	switch c {
	case VP8, VP9, H264, AV1:
		return Video
	case Opus:
		return Audio
	default:
		return 0
	}
}

// Source says what a track carries: a participant's camera, microphone or
// screen share.
type Source string

// Track sources.
const (
	Camera           Source = "camera"
	Microphone       Source = "microphone"
	ScreenShare      Source = "screen"
	ScreenShareAudio Source = "screen_audio"
)

// TrackInfo describes a track when it starts.
type TrackInfo struct {
	// ID identifies the track within its participant (e.g. the WebRTC
	// track id). (optional) defaults to the source name.
	ID string
	// Kind (optional) defaults to the codec's kind.
	Kind MediaKind
	// Codec is required.
	Codec Codec
	// Source (optional) defaults to Camera for video and Microphone for
	// audio.
	Source Source
	// ClockRate is the RTP clock rate; informative. (optional) defaults to
	// 90000 for video and 48000 for Opus.
	ClockRate uint32
	// Channels is the Opus channel count, 1 or 2. (optional) defaults to 2,
	// what WebRTC's opus/48000/2 announces.
	Channels int
	// Width and Height are the picture size if known, else 0; the size
	// found in keyframes takes precedence.
	Width, Height int
}

// Frame is one encoded access unit of a track.
type Frame struct {
	// Payload is one access unit: a VP8/VP9/AV1 frame, an H.264 access unit
	// in Annex-B, an Opus packet. Sinks must not retain it after WriteFrame
	// returns.
	Payload []byte
	// PTS is the presentation time on the session clock.
	PTS time.Duration
	// Duration is 0 if unknown.
	Duration time.Duration
	// Keyframe marks a frame decodable on its own. For VP8, VP9, H.264 and
	// AV1 the recorder also detects keyframes itself from the payload;
	// audio frames are always keyframes.
	Keyframe bool
	// Width and Height are the picture size when known, else 0. When 0
	// the recorder parses them from VP8 and H.264 keyframes, from every
	// VP9 frame (inter frames may change the size) and from AV1 sequence
	// headers.
	Width, Height int
}

// EventKind says what happened in the session.
type EventKind int

// Event kinds.
const (
	// ParticipantJoined starts a presence interval.
	ParticipantJoined EventKind = iota + 1
	// ParticipantLeft ends a presence interval.
	ParticipantLeft
	// TrackStarted is emitted when a participant adds a track.
	TrackStarted
	// TrackStopped is emitted when a track stops (explicitly, on leave or
	// on session close).
	TrackStopped
	// ResolutionChanged is emitted when a video track's first picture
	// size becomes known and whenever it changes; Width and Height are the
	// new size.
	ResolutionChanged
	// SessionEnded is the last event of a session.
	SessionEnded
	// StorageFailed is emitted when a track's file (Track set) or
	// session.json (Track nil) cannot be written; Err says why (it wraps
	// ErrStorage). A track's file stops there, once; session.json keeps
	// its last good version and is retried at every change, this event
	// being emitted for its first failure only.
	StorageFailed
)

// String returns the kind's name, e.g. "participant_joined".
func (k EventKind) String() string {
	switch k {
	case ParticipantJoined:
		return "participant_joined"
	case ParticipantLeft:
		return "participant_left"
	case TrackStarted:
		return "track_started"
	case TrackStopped:
		return "track_stopped"
	case ResolutionChanged:
		return "resolution_changed"
	case SessionEnded:
		return "session_ended"
	case StorageFailed:
		return "storage_failed"
	default:
		return fmt.Sprintf("event_kind(%d)", int(k))
	}
}

// Event is something that happened at session time At.
type Event struct {
	Kind EventKind
	// At is the session time of the event.
	At time.Duration
	// ParticipantID and Name identify the participant; empty for
	// SessionEnded.
	ParticipantID, Name string
	// Track is set for track events and ResolutionChanged.
	Track *TrackInfo
	// Width and Height are set for ResolutionChanged.
	Width, Height int
	// Err is set for StorageFailed.
	Err error
}

// Sink receives a session's events and frames, e.g. to forward them to a
// live stream or to the host's own storage.
//
// Contract: OnEvent is called in event order from whichever goroutine
// caused the event; it must not call Session, Participant or Track methods
// that change state (Join, Leave, AddTrack, Stop, Close), which would
// deadlock. WriteFrame is called from the goroutine writing the track,
// frames of one track in PTS order (H.264 with B-frames: decode order),
// video starting with a keyframe; calls
// for different tracks may be concurrent. Neither may block long, since
// they hold up recording. An error from WriteFrame is logged and does not
// stop the recording. Close is called once by [Session.Close]; an
// implementation must make it idempotent anyway.
type Sink interface {
	OnEvent(e Event)
	WriteFrame(participantID string, track TrackInfo, f Frame) error
	Close() error
}

// EventFunc adapts a function to a [Sink] that only receives events.
type EventFunc func(Event)

// OnEvent calls f(e).
func (f EventFunc) OnEvent(e Event) { f(e) }

// WriteFrame does nothing.
func (EventFunc) WriteFrame(string, TrackInfo, Frame) error { return nil }

// Close does nothing.
func (EventFunc) Close() error { return nil }

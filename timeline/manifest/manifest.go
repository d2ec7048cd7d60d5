// Package manifest reads and writes session.json, the description of a
// recorded session: who was present when, and where their media is.
//
// The format is a superset of the Python prototype's: session_id,
// session_dir and participants[] with name, join_time_s, leave_time_s,
// video_path and audio_path are read and written as the prototype did; the
// other fields are roomtape's additions and are optional when reading.
// Times are float seconds on the session clock in JSON only; the Go API
// speaks time.Duration.
package manifest

// ScreenSuffix and ScreenNameSuffix make the participant key and name under
// which a participant's screen share is recorded and composed as a
// participant of its own: "<key>#screen", "<name> (screen)". recorder/livekit
// and recorder/browser record shares so; compose shows a WHIP publisher's
// screen tracks so; a composer gives such a participant the main area.
const (
	ScreenSuffix     = "#screen"
	ScreenNameSuffix = " (screen)"
)

// Session is the whole of session.json.
type Session struct {
	SessionID    string        `json:"session_id"`
	SessionDir   string        `json:"session_dir"`
	Participants []Participant `json:"participants"`

	// Roomtape additions.

	// Format is the manifest format version; 0 (absent) is the prototype's.
	Format int `json:"roomtape_format,omitempty"`
	// StartedAt is the wall-clock time of session time 0 (RFC 3339).
	StartedAt string `json:"started_at,omitempty"`
	// EndTimeS is when the session ended; when absent it is the last leave.
	EndTimeS *float64 `json:"end_time_s,omitempty"`
	// Hints is the transport hints file (HintsName: audio levels, active
	// speakers; see [LoadHints]), relative to the manifest's directory;
	// absent when the transports gave none.
	Hints string `json:"hints,omitempty"`
}

// Participant is one person (or one screen share) in the session.
type Participant struct {
	// ID is the stable identity across rejoins; when absent the name is used.
	ID string `json:"id,omitempty"`
	// Name is the display name (and, in the prototype, the file prefix).
	Name string `json:"name"`
	// JoinTimeS and LeaveTimeS are the first join and the last leave.
	JoinTimeS  float64 `json:"join_time_s"`
	LeaveTimeS float64 `json:"leave_time_s"`
	// VideoPath and AudioPath are the participant's main camera and
	// microphone files; empty when they never published one. Relative paths
	// are relative to the manifest's directory.
	VideoPath string `json:"video_path"`
	AudioPath string `json:"audio_path"`

	// Presence lists every presence interval when the participant left and
	// rejoined; absent means one interval [JoinTimeS, LeaveTimeS).
	Presence []Interval `json:"presence,omitempty"`
	// Tracks describe the media files; absent means VideoPath and AudioPath
	// each start at JoinTimeS.
	Tracks []Track `json:"tracks,omitempty"`
}

// Interval is one presence interval [JoinS, LeaveS) in seconds.
type Interval struct {
	// JoinS is the join, in seconds on the session clock.
	JoinS float64 `json:"join_s"`
	// LeaveS is the leave, in seconds on the session clock.
	LeaveS float64 `json:"leave_s"`
}

// Track is one recorded media file of a participant.
type Track struct {
	// Kind is "video" or "audio".
	Kind string `json:"kind"`
	// Source is "camera", "microphone", "screen" or "screen_audio".
	Source string `json:"source,omitempty"`
	Path   string `json:"path"`
	// Codec is the codec as received: "vp8", "vp9", "h264", "av1", "opus".
	Codec string `json:"codec,omitempty"`
	// StartS is the session time of the file's timestamp zero.
	StartS float64 `json:"start_s"`
	// EndS is the session time the track stopped; absent while recording.
	EndS *float64 `json:"end_s,omitempty"`
	// Width and Height are the first resolution; Resolutions lists changes.
	Width       int          `json:"width,omitempty"`
	Height      int          `json:"height,omitempty"`
	Resolutions []Resolution `json:"resolutions,omitempty"`
	// Complete says the recorder finished the file (its trailer is
	// written): nothing more will be appended. It is false while the track
	// records and for a file cut by a crash; a live composer reads a file
	// until it is complete. For a segmented track it says the last
	// segment is finished.
	Complete bool `json:"complete,omitempty"`
	// Segments (format 2) list the files of a track recorded in segments,
	// in order: each is a standalone Matroska file whose timestamp zero is
	// its StartS on the session clock. Path is then the first segment's
	// file. Absent means the track is the single file at Path.
	Segments []Segment `json:"segments,omitempty"`
}

// Segment is one file of a segmented track (format 2).
type Segment struct {
	// Path is the segment's file, relative to the manifest's directory
	// like Track.Path.
	Path string `json:"path"`
	// StartS is the session time of the file's timestamp zero: its first
	// frame. It is the previous segment's EndS when the track was cut
	// there, later when segments are missing (a hole, e.g. lost with a
	// worker).
	StartS float64 `json:"start_s"`
	// EndS is the session time the segment ends: the next segment's
	// start, or the track's end for the last one; absent while it is
	// recorded.
	EndS *float64 `json:"end_s,omitempty"`
	// Bytes is the file's size once it is complete, 0 before.
	Bytes int64 `json:"bytes,omitempty"`
	// Complete says the file is finished: nothing more is appended.
	Complete bool `json:"complete,omitempty"`
}

// Resolution is a change of a video track's picture size at AtS seconds.
type Resolution struct {
	AtS    float64 `json:"at_s"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
}

package service

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Kind is what a job does.
type Kind string

// Job kinds.
const (
	// KindRecord records a room, then composes and stores it.
	KindRecord Kind = "record"
	// KindCompose recomposes a saved recording with other settings.
	KindCompose Kind = "compose"
	// KindUpload uploads a saved recording to the configured S3 bucket.
	KindUpload Kind = "upload"
)

// State is where a job is.
type State string

// Job states. Done, Failed and Stopped are final.
const (
	StateQueued    State = "queued"
	StateRecording State = "recording"
	StateComposing State = "composing"
	StateUploading State = "uploading"
	StateDone      State = "done"
	StateFailed    State = "failed"
	// StateStopped is a job stopped before it recorded anything.
	StateStopped State = "stopped"
)

// States lists every state, in order (metrics, the web page).
var States = []State{StateQueued, StateRecording, StateComposing, StateUploading, StateDone, StateFailed, StateStopped}

// Final reports whether s is a final state.
func (s State) Final() bool { return s == StateDone || s == StateFailed || s == StateStopped }

// RoomType is the kind of room a record job joins.
type RoomType string

// Room types.
const (
	// RoomWHIP is a WHIP room hosted by the service: publishers POST
	// to the job's WHIP URL with their per-participant token.
	RoomWHIP RoomType = "whip"
	// RoomLiveKit is a LiveKit room the recorder joins as a hidden
	// participant.
	RoomLiveKit RoomType = "livekit"
	// RoomDaily is a Daily room (https://DOMAIN.daily.co/ROOM) the
	// recorder joins through the browser bridge (recorder/browser:
	// daily-js in headless Chromium on the worker).
	RoomDaily RoomType = "daily"
)

// Room says what a record job records.
type Room struct {
	Type RoomType `json:"type"`
	// Name identifies the room: at most one unfinished record job per
	// room type and name (409 otherwise). For WHIP it defaults to the
	// job ID; for LiveKit it is the room name.
	Name string `json:"name,omitempty"`
	// URL is the LiveKit server (ws:// or wss://; empty uses the
	// service's configured one), or the Daily room
	// (https://DOMAIN.daily.co/ROOM).
	URL string `json:"url,omitempty"`
	// Token (Daily) is the bot's meeting token; without it the service
	// mints one with its Daily API key. A secret: the job keeps it apart
	// (streams.go), the API never shows it.
	Token string `json:"token,omitempty"`
	// Participants are the WHIP room's publishers, each given a token.
	Participants []Grant `json:"participants,omitempty"`
	// IdleTimeout ends the recording once everyone has left for this
	// long (JSON: seconds).
	IdleTimeoutS float64 `json:"idle_timeout_s,omitempty"`
}

// Grant is a WHIP participant of a service-hosted room. The token itself
// is returned once, in the create response; the job keeps its SHA-256.
type Grant struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// TokenSHA256 is the hex SHA-256 of the participant's bearer token.
	TokenSHA256 string `json:"token_sha256,omitempty"`
}

// ComposeMode says when a record job composes.
type ComposeMode string

// Compose modes.
const (
	// ComposeLive composes while the call runs (the default).
	ComposeLive ComposeMode = "live"
	// ComposeOffline composes after the call.
	ComposeOffline ComposeMode = "offline"
	// ComposeNone only records.
	ComposeNone ComposeMode = "none"
)

// Output is the composition and storage a job asks for.
type Output struct {
	// Layout is "columns" (default), "grid", "speaker", "single-speaker"
	// or "auto".
	Layout string `json:"layout,omitempty"`
	// Width, Height and FPS default to the compose package's defaults.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	FPS    int `json:"fps,omitempty"`
	// Compose is live (default), offline or none (record jobs).
	Compose ComposeMode `json:"compose,omitempty"`
	// Preset is the libx264 preset (default the compose package's).
	Preset string `json:"preset,omitempty"`
	// Upload uploads the results to the service's S3 bucket.
	Upload bool `json:"upload,omitempty"`
	// RTMP (record jobs composed live) are rtmp:// or rtmps:// URLs
	// (rtmp://host[:port]/app/key) the composed call is pushed to while
	// it runs. The keys are secrets: the job shows them REDACTED
	// (streams.go).
	RTMP []string `json:"rtmp,omitempty"`
	// HLS (record jobs composed live) writes the composed call as HLS,
	// served at /v1/recordings/{id}/hls/live.m3u8 while it runs.
	HLS bool `json:"hls,omitempty"`
}

// Progress is a job's live progress.
type Progress struct {
	// Participants is how many are present now; Joined how many ever
	// joined.
	Participants int `json:"participants"`
	Joined       int `json:"joined"`
	// RecordedS is the session time recorded so far.
	RecordedS float64 `json:"recorded_s"`
	// ComposedS is the composed length; LagS how far the live
	// composition runs behind the call.
	ComposedS float64 `json:"composed_s,omitempty"`
	LagS      float64 `json:"lag_s,omitempty"`
	// Percent is the offline composition's progress.
	Percent float64 `json:"percent,omitempty"`
}

// Part is one stretch of a record job's recording: one recorder session.
// A job resumed after a crash has several.
type Part struct {
	SessionID string    `json:"session_id"`
	Dir       string    `json:"dir"`
	Manifest  string    `json:"manifest"`
	StartedAt time.Time `json:"started_at"`
}

// File is a result of a job.
type File struct {
	// Name is "recording.mp4", "session.json", ...
	Name string `json:"name"`
	// Path is the local file (on the worker's disk).
	Path string `json:"path,omitempty"`
	// URL is where it was uploaded, if it was.
	URL   string `json:"url,omitempty"`
	Bytes int64  `json:"bytes,omitempty"`
}

// Job is one unit of work and its state, stored as JSON in the KV bucket.
type Job struct {
	ID    string `json:"id"`
	Kind  Kind   `json:"kind"`
	State State  `json:"state"`
	// Room is what a record job records.
	Room *Room `json:"room,omitempty"`
	// Source is the recording job a compose or upload job works on.
	Source string `json:"source,omitempty"`
	Output Output `json:"output"`

	Progress Progress `json:"progress"`
	Parts    []Part   `json:"parts,omitempty"`
	Files    []File   `json:"files,omitempty"`
	// Streams are the stream outputs' state (output.rtmp, output.hls).
	Streams []StreamState `json:"streams,omitempty"`
	// Error says why the job failed; ErrorKind is its class (metrics).
	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`

	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	RecordedAt  *time.Time `json:"recorded_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	StopRequest bool       `json:"stop_requested,omitempty"`

	// Worker runs the job; Attempt is the delivery of its queue message
	// that claimed it (a redelivery takes it over with a higher one).
	Worker  string `json:"worker,omitempty"`
	Attempt uint64 `json:"attempt,omitempty"`
	// Claims counts the workers that claimed the job (a job that keeps
	// killing its workers fails after maxDeliveries).
	Claims int `json:"claims,omitempty"`
}

// File returns the job's file named name.
func (j *Job) File(name string) (File, bool) {
	for _, f := range j.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// setFile adds or replaces the file named f.Name.
func (j *Job) setFile(f File) {
	for i := range j.Files {
		if j.Files[i].Name == f.Name {
			j.Files[i] = f
			return
		}
	}
	j.Files = append(j.Files, f)
}

// File names of a record job's results.
const (
	FileRecording = "recording.mp4"
	FileManifest  = "session.json"
)

// newID returns a job ID: "j" and 16 random hex digits (a KV key, a path
// element and a URL segment as it is).
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

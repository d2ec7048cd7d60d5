// Package testmedia makes synthetic recording sessions for tests: a Go port
// of ../shared/bench/mksession.py that runs in-process through go-astiav
// (FFmpeg's lavfi sources, real encoders and muxers; no ffmpeg CLI).
//
// Participant i (0-based) has the tint [Tints][i%8] and the tone
// [Freqs][i%8]. Its picture is a moving test pattern (testsrc2) tinted with
// its colour that flashes white for 100 ms every 2 s of participant-local
// time (t mod 2 < 0.1); its audio carries a 50 ms sine tone at its frequency
// at the same instants (t mod 2 < 0.05) and silence elsewhere. Local time 0
// is the participant's join, so in a session the markers sit at join + 2k s.
// internal/mediacheck finds them again in a composed or recorded file.
//
// Files follow the prototype's layout (<name>_video.<ext>,
// <name>_audio.<ext>) and session.json is written with timeline/manifest.
// By default video is H.264 in MP4 with a variable frame rate and a 1/90000
// time base (an irregular subset of non-flash frames is dropped, as a
// real-time encoder would), audio is 48 kHz mono s16 WAV, and pictures are
// 320x180 to keep tests fast.
//
//	s, path, err := testmedia.Make(ctx, t.TempDir(), []testmedia.Participant{
//		{Name: "A", Join: 0, Leave: 14 * time.Second},
//		{Name: "B", Join: 6 * time.Second, Leave: 11 * time.Second, Width: 180, Height: 320},
//	}, testmedia.Options{})
package testmedia

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// Tints are the participants' colour gains (r, g, b), as in mksession.py.
var Tints = [8][3]float64{
	{1, .25, .25},
	{.25, 1, .25},
	{.25, .25, 1},
	{1, 1, .2},
	{1, .2, 1},
	{.2, 1, 1},
	{1, .6, .2},
	{.6, .3, 1},
}

// Palette is Tints as mediacheck colours, for mediacheck.Nearest: the
// index of the nearest entry is the participant's index modulo 8.
func Palette() []mediacheck.RGB {
	out := make([]mediacheck.RGB, len(Tints))
	for i, t := range Tints {
		out[i] = mediacheck.RGB{R: t[0], G: t[1], B: t[2]}
	}
	return out
}

// Freqs are the participants' tone frequencies in Hz, as in mksession.py.
var Freqs = [8]float64{500, 800, 1100, 1400, 1700, 2000, 2300, 2600}

// Marker timing, in participant-local time.
const (
	// MarkerPeriod is the time between two flashes (and two beeps).
	MarkerPeriod = 2 * time.Second
	// FlashDuration is how long the picture stays white.
	FlashDuration = 100 * time.Millisecond
	// BeepDuration is how long the tone sounds.
	BeepDuration = 50 * time.Millisecond
	// BeepAmplitude is the tone's peak, full scale 1.0.
	BeepAmplitude = 0.5
	// FrameRate is the frame rate the pattern is generated at before frames
	// are dropped for VFR.
	FrameRate = 30
	// SampleRate is the audio sample rate.
	SampleRate = 48000
)

// VideoFormat is a container and codec for a participant's video.
type VideoFormat int

// Video formats.
const (
	// H264MP4 is H.264 in MP4 with a 1/90000 time base (the prototype's).
	H264MP4 VideoFormat = iota
	// VP8WebM is VP8 in WebM.
	VP8WebM
	// VP8MKV is VP8 in Matroska (what the recorder writes).
	VP8MKV
	// H264MKV is H.264 in Matroska.
	H264MKV
	// VP9WebM is VP9 in WebM.
	VP9WebM
	// NoVideo means the participant published no video.
	NoVideo
)

// AudioFormat is a container and codec for a participant's audio.
type AudioFormat int

// Audio formats.
const (
	// WAV is 48 kHz mono PCM s16 (the prototype's).
	WAV AudioFormat = iota
	// OpusOgg is Opus in Ogg.
	OpusOgg
	// OpusMKV is Opus in Matroska (what the recorder writes).
	OpusMKV
	// OpusWebM is Opus in WebM.
	OpusWebM
	// NoAudio means the participant published no audio.
	NoAudio
)

// Participant describes one synthetic participant.
type Participant struct {
	// Name is the display name and the file name prefix; required.
	Name string
	// Join and Leave bound the media (and, without Presence, the presence).
	Join, Leave time.Duration
	// Presence (optional) lists presence intervals for a participant who
	// left and rejoined; defaults to [Join, Leave). The media still covers
	// [Join, Leave) continuously.
	Presence []manifest.Interval
	// Width and Height (optional) default to 320x180.
	Width, Height int
	// ResizeAt (optional) switches the picture to ResizeWidth x
	// ResizeHeight at this participant-local time; VP8 and VP9 formats
	// only.
	ResizeAt                  time.Duration
	ResizeWidth, ResizeHeight int
	// Video (optional) defaults to H264MP4.
	Video VideoFormat
	// Audio (optional) defaults to WAV.
	Audio AudioFormat
	// CFR (optional) keeps every frame (constant 30 fps) instead of
	// dropping some.
	CFR bool
	// StartOffset (optional) makes the files' timestamps start at this value
	// instead of 0, as a recorder that stamps media with a running clock
	// does; the manifest's track StartS is then Join - StartOffset.
	StartOffset time.Duration
	// TruncateVideo (optional) cuts the video file to this fraction of its
	// size (0 < f < 1), as when the bot was killed mid-write.
	TruncateVideo float64
	// Talk (optional) are spans of participant-local time in which the
	// participant talks: a continuous tone at its frequency, TalkAmplitude
	// peak, under the beeps (the speaker layouts' tests).
	Talk []Span
}

// Span is a span [From, To) of time.
type Span struct{ From, To time.Duration }

// TalkAmplitude is the peak of a talking participant's tone (about -17
// dBFS RMS), full scale 1.0.
const TalkAmplitude = 0.2

// Options tune [Make].
type Options struct {
	// SessionID (optional) defaults to "synthetic".
	SessionID string
	// End (optional) is the session end; defaults to the last leave.
	End time.Duration
}

// ErrBadParticipant is returned (wrapped) by [Make] for a participant
// description it cannot produce.
var ErrBadParticipant = errors.New("testmedia: bad participant")

// Make writes the participants' media files and session.json into dir and
// returns the session and the path of session.json. The manifest uses the
// prototype's format (video_path, audio_path, join/leave) when every file is
// a prototype one (H264MP4, WAV, no offset, one presence interval) and
// roomtape's richer one (tracks with codecs and start offsets) otherwise.
func Make(ctx context.Context, dir string, parts []Participant, opts Options) (*manifest.Session, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("testmedia: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", fmt.Errorf("testmedia: %w", err)
	}
	s := &manifest.Session{SessionID: opts.SessionID, SessionDir: abs}
	if s.SessionID == "" {
		s.SessionID = "synthetic"
	}
	rich := false
	for i, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, "", fmt.Errorf("testmedia: %w", err)
		}
		mp, r, err := makeParticipant(abs, i, p)
		if err != nil {
			return nil, "", err
		}
		rich = rich || r
		s.Participants = append(s.Participants, mp)
	}
	if opts.End > 0 {
		end := manifest.ToSeconds(opts.End)
		s.EndTimeS = &end
		rich = true
	}
	if rich {
		s.Format = manifest.FormatVersion
	} else {
		for i := range s.Participants {
			s.Participants[i].Tracks = nil
		}
	}
	path := filepath.Join(abs, "session.json")
	if err := s.WriteFile(path); err != nil {
		return nil, "", fmt.Errorf("testmedia: %w", err)
	}
	return s, path, nil
}

func makeParticipant(dir string, i int, p Participant) (manifest.Participant, bool, error) {
	mp := manifest.Participant{
		Name:       p.Name,
		JoinTimeS:  manifest.ToSeconds(p.Join),
		LeaveTimeS: manifest.ToSeconds(p.Leave),
	}
	if p.Name == "" || p.Leave <= p.Join || p.Join < 0 {
		return mp, false, fmt.Errorf("%w: %q: needs a name and 0 <= join < leave", ErrBadParticipant, p.Name)
	}
	if p.Width == 0 || p.Height == 0 {
		p.Width, p.Height = 320, 180
	}
	rich := p.Video != H264MP4 || p.Audio != WAV || p.StartOffset != 0 || len(p.Presence) > 0
	if len(p.Presence) > 0 {
		mp.SetPresence(p.Presence)
	}
	start := manifest.ToSeconds(p.Join - p.StartOffset)
	dur := p.Leave - p.Join
	if p.Video != NoVideo {
		path, codec, err := writeVideo(dir, i, p, dur)
		if err != nil {
			return mp, false, err
		}
		mp.VideoPath = path
		mp.Tracks = append(mp.Tracks, manifest.Track{
			Kind: manifest.KindVideo, Source: manifest.SourceCamera, Path: path, Codec: codec,
			StartS: start, Width: p.Width, Height: p.Height,
		})
	}
	if p.Audio != NoAudio {
		path, codec, err := writeAudio(dir, i, p, dur)
		if err != nil {
			return mp, false, err
		}
		mp.AudioPath = path
		mp.Tracks = append(mp.Tracks, manifest.Track{
			Kind: manifest.KindAudio, Source: manifest.SourceMicrophone, Path: path, Codec: codec, StartS: start,
		})
	}
	return mp, rich, nil
}

// FlashTimes are the session times of participant p's flashes (and beeps)
// that fall inside [from, to): join + 2k s.
func FlashTimes(p Participant, from, to time.Duration) []time.Duration {
	var out []time.Duration
	for t := p.Join; t < p.Leave; t += MarkerPeriod {
		if t >= from && t < to {
			out = append(out, t)
		}
	}
	return out
}

func init() {
	// Encoder statistics and lavfi notices would drown test output.
	astiav.SetLogLevel(astiav.LogLevelError)
}

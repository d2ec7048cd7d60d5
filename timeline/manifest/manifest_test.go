package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomtape/roomtape/timeline"
)

func ptr(f float64) *float64 { return &f }

// renderWindows writes windows as "start-end name|name" lines.
func renderWindows(ws []timeline.Window) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		names := make([]string, 0, len(w.Participants))
		for _, p := range w.Participants {
			names = append(names, p.Name)
		}
		out = append(out, fmt.Sprintf("%v-%v %s", w.Start, w.End, strings.Join(names, "|")))
	}
	return out
}

func TestLoadPrototype(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "prototype_session.json"))
	require.NoError(t, err)
	require.Equal(t, "20260318_132416", s.SessionID)
	require.Equal(t, "/path/to/recordings/20260318_132416", s.SessionDir)
	require.Zero(t, s.Format)
	require.Len(t, s.Participants, 2)
	require.Equal(t, "iPhone", s.Participants[1].Key())
	require.Equal(t, 54270*time.Millisecond, s.End())

	video, ok := s.Participants[1].VideoTrack()
	require.True(t, ok)
	require.Equal(t, Track{Kind: KindVideo, Source: SourceCamera, Path: filepath.Join("testdata", "..."), StartS: 39.01}, video)
	require.Equal(t, 39010*time.Millisecond, video.Start())
	audio, ok := s.Participants[0].AudioTrack()
	require.True(t, ok)
	require.Equal(t, 4460*time.Millisecond, audio.Start())
	_, ok = audio.End()
	require.False(t, ok)

	ws, err := s.Windows(timeline.Options{})
	require.NoError(t, err)
	require.Equal(t, []string{
		"0s-4.46s ",
		"4.46s-39.01s Aditya",
		"39.01s-51.49s Aditya|iPhone",
		"51.49s-54.27s Aditya",
	}, renderWindows(ws))
}

func TestLoadRoomtape(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	require.NoError(t, err)
	s, err := Load(filepath.Join(dir, "roomtape_session.json"))
	require.NoError(t, err)
	require.Equal(t, FormatTracks, s.Format)
	require.Equal(t, dir, s.SessionDir)
	require.Equal(t, 70*time.Second, s.End())

	ann, bo := s.Participants[0], s.Participants[1]
	require.Equal(t, "PA_1", ann.Key())
	require.Equal(t, []Interval{{0, 20}, {21, 60}}, ann.Intervals())
	require.Equal(t, 21*time.Second, ann.Intervals()[1].Join())
	require.Equal(t, 60*time.Second, ann.Intervals()[1].Leave())

	video, ok := ann.VideoTrack()
	require.True(t, ok)
	require.Equal(t, filepath.Join(dir, "Ann_video.mkv"), video.Path)
	require.Equal(t, SourceCamera, video.Source)
	require.Equal(t, 125*time.Millisecond, video.Start())
	end, ok := video.End()
	require.True(t, ok)
	require.Equal(t, 60*time.Second, end)
	require.Equal(t, []Resolution{{AtS: 10, Width: 1280, Height: 720}}, video.Resolutions)
	audio, ok := ann.AudioTrack()
	require.True(t, ok)
	require.Equal(t, "/abs/Ann_audio.ogg", audio.Path)

	_, ok = bo.VideoTrack()
	require.False(t, ok, "Bo published no video")
	audio, ok = bo.AudioTrack()
	require.True(t, ok)
	require.Equal(t, Track{Kind: KindAudio, Source: SourceMicrophone, Path: filepath.Join(dir, "Bo_audio.ogg"), StartS: 40}, audio)

	evs, err := s.Events()
	require.NoError(t, err)
	require.Equal(t, []timeline.Event{
		{Kind: timeline.Join, At: 0, ParticipantID: "PA_1", Name: "Ann"},
		{Kind: timeline.Leave, At: 20 * time.Second, ParticipantID: "PA_1"},
		{Kind: timeline.Join, At: 21 * time.Second, ParticipantID: "PA_1", Name: "Ann"},
		{Kind: timeline.Leave, At: 60 * time.Second, ParticipantID: "PA_1"},
		{Kind: timeline.Join, At: 40 * time.Second, ParticipantID: "PA_2", Name: "Bo"},
		{Kind: timeline.Leave, At: 70 * time.Second, ParticipantID: "PA_2"},
	}, evs)

	ws, err := s.Windows(timeline.Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"0s-40s Ann", "40s-1m0s Ann|Bo", "1m0s-1m10s Bo"}, renderWindows(ws))
	ws, err = s.Windows(timeline.Options{MinWindow: -1})
	require.NoError(t, err)
	require.Equal(t, []string{"0s-20s Ann", "20s-21s ", "21s-40s Ann", "40s-1m0s Ann|Bo", "1m0s-1m10s Bo"}, renderWindows(ws))
}

func TestParseRelativeDir(t *testing.T) {
	const doc = `{"session_id":"s","session_dir":"rec","participants":[
		{"name":"a","join_time_s":0,"leave_time_s":1,"video_path":"v.mp4","audio_path":"/x/a.wav",
		 "tracks":[{"kind":"audio","path":"t.ogg","start_s":0}]}]}`
	s, err := Parse(strings.NewReader(doc), "")
	require.NoError(t, err)
	require.Equal(t, "rec", s.SessionDir)
	require.Equal(t, "v.mp4", s.Participants[0].VideoPath)

	s, err = Parse(strings.NewReader(doc), "/data/sess")
	require.NoError(t, err)
	require.Equal(t, "/data/sess/rec", s.SessionDir)
	require.Equal(t, "/data/sess/v.mp4", s.Participants[0].VideoPath)
	require.Equal(t, "/x/a.wav", s.Participants[0].AudioPath)
	require.Equal(t, "/data/sess/t.ogg", s.Participants[0].Tracks[0].Path)
}

// sample is a valid roomtape session used by the round-trip and
// validation tests.
func sample() *Session {
	s := &Session{
		SessionID: "room-7",
		Format:    FormatVersion,
		StartedAt: "2026-11-25T17:00:00Z",
		EndTimeS:  ptr(30),
		Participants: []Participant{
			{ID: "p1", Name: "Ann", VideoPath: "/r/ann.mkv", AudioPath: "/r/ann.ogg", Tracks: []Track{
				{Kind: KindVideo, Source: SourceCamera, Path: "/r/ann.mkv", Codec: "vp8", StartS: 0.5, EndS: ptr(25), Width: 640, Height: 480},
				{Kind: KindAudio, Source: SourceMicrophone, Path: "/r/ann.ogg", Codec: "opus", StartS: 0.25},
			}},
			{Name: "Bo", JoinTimeS: 3.5, LeaveTimeS: 30, VideoPath: "/r/bo.mp4", AudioPath: "/r/bo.wav"},
		},
	}
	s.Participants[0].SetPresence([]Interval{{0.5, 10}, {12.25, 25}})
	return s
}

func TestWriteFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "session.json")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))

	want := sample()
	require.NoError(t, want.WriteFile(path))
	got, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, want, got)

	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o644), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary file left behind")

	// A prototype manifest keeps the prototype's keys only.
	proto, err := Load(filepath.Join("testdata", "prototype_session.json"))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, proto.Encode(&buf))
	var keys map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &keys))
	require.ElementsMatch(t, []string{"session_id", "session_dir", "participants"}, mapKeys(keys))
	part := keys["participants"].([]any)[0].(map[string]any)
	require.ElementsMatch(t, []string{"name", "join_time_s", "leave_time_s", "video_path", "audio_path"}, mapKeys(part))
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWriteFileErrors(t *testing.T) {
	err := sample().WriteFile(filepath.Join(t.TempDir(), "missing", "session.json"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	// Rename onto a directory fails and removes the temporary file.
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "session.json"), 0o755))
	require.Error(t, sample().WriteFile(filepath.Join(dir, "session.json")))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary file left behind")

	bad := sample()
	bad.Participants[0].JoinTimeS = math.NaN()
	require.Error(t, bad.WriteFile(filepath.Join(t.TempDir(), "session.json")), "NaN is not JSON")
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.json"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	path := filepath.Join(t.TempDir(), "session.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"participants":[{"name":""}]}`), 0o600))
	_, err = Load(path)
	require.ErrorIs(t, err, ErrInvalid)
	require.Contains(t, err.Error(), path)
}

func TestParseMalformed(t *testing.T) {
	for _, c := range []struct {
		name, doc string
	}{
		{"empty", ``},
		{"truncated", `{"session_id": "x", "participants": [`},
		{"not an object", `[1, 2]`},
		{"string time", `{"participants":[{"name":"a","join_time_s":"4.46"}]}`},
		{"participants not a list", `{"participants":{"name":"a"}}`},
		{"bad number", `{"participants":[{"name":"a","join_time_s":1e999}]}`},
		{"trailing data", `{"participants":[]} {"participants":[]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.doc), "")
			require.ErrorIs(t, err, ErrMalformed)
			require.NotErrorIs(t, err, ErrInvalid)
		})
	}
	_, err := Parse(strings.NewReader(`{"session_id": }`), "")
	var syn *json.SyntaxError
	require.ErrorAs(t, err, &syn)
	require.Equal(t, int64(16), syn.Offset)

	_, err = Parse(iotest.ErrReader(io.ErrClosedPipe), "")
	require.ErrorIs(t, err, io.ErrClosedPipe)
	require.NotErrorIs(t, err, ErrMalformed)
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		modify func(s *Session)
		err    error
		words  []string // the message names the participant and field
	}{
		{"empty name and id", func(s *Session) { s.Participants[1].Name = "" }, ErrInvalid, []string{"participant 1", "name"}},
		{"duplicate key", func(s *Session) { s.Participants[1].ID = "p1" }, ErrInvalid, []string{`participant 1 ("p1")`, "id", "participant 0"}},
		{"negative join", func(s *Session) { s.Participants[1].JoinTimeS = -1 }, ErrInvalid, []string{`"Bo"`, "join_time_s"}},
		{"NaN join", func(s *Session) { s.Participants[1].JoinTimeS = math.NaN() }, ErrInvalid, []string{`"Bo"`, "join_time_s"}},
		{"leave before join", func(s *Session) { s.Participants[1].LeaveTimeS = 3 }, ErrInvalid, []string{`"Bo"`, "leave_time_s"}},
		{"infinite leave", func(s *Session) { s.Participants[1].LeaveTimeS = math.Inf(1) }, ErrInvalid, []string{`"Bo"`, "leave_time_s"}},
		{"huge leave", func(s *Session) { s.Participants[1].LeaveTimeS = 1e300 }, ErrInvalid, []string{`"Bo"`, "leave_time_s"}},
		{"huge track start", func(s *Session) { s.Participants[0].Tracks[1].StartS = -2e9 }, ErrInvalid, []string{"tracks[1].start_s"}},
		{"presence first join", func(s *Session) { s.Participants[0].Presence[0].JoinS = 1 }, ErrInvalid, []string{`"p1"`, "presence[0].join_s"}},
		{"presence overlap", func(s *Session) { s.Participants[0].Presence[1].JoinS = 9 }, ErrInvalid, []string{`"p1"`, "presence[1].join_s"}},
		{"presence inverted", func(s *Session) { s.Participants[0].Presence[1].LeaveS = 12 }, ErrInvalid, []string{`"p1"`, "presence[1].leave_s"}},
		{"presence last leave", func(s *Session) { s.Participants[0].LeaveTimeS = 26 }, ErrInvalid, []string{`"p1"`, "presence[1].leave_s"}},
		{"track kind", func(s *Session) { s.Participants[0].Tracks[1].Kind = "data" }, ErrInvalid, []string{`"p1"`, "tracks[1].kind"}},
		{"track path", func(s *Session) { s.Participants[0].Tracks[0].Path = "" }, ErrInvalid, []string{`"p1"`, "tracks[0].path"}},
		{"track start", func(s *Session) { s.Participants[0].Tracks[0].StartS = math.NaN() }, ErrInvalid, []string{"tracks[0].start_s"}},
		{"track end", func(s *Session) { s.Participants[0].Tracks[0].EndS = ptr(0.1) }, ErrInvalid, []string{"tracks[0].end_s"}},
		{"track size", func(s *Session) { s.Participants[0].Tracks[0].Height = -2 }, ErrInvalid, []string{"tracks[0].width"}},
		{"end before last leave", func(s *Session) { s.EndTimeS = ptr(29) }, ErrInvalid, []string{"end_time_s"}},
		{"NaN end", func(s *Session) { s.EndTimeS = ptr(math.NaN()) }, ErrInvalid, []string{"end_time_s"}},
		{"newer format", func(s *Session) { s.Format = FormatVersion + 1 }, ErrUnsupportedFormat, []string{"roomtape_format"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := sample()
			require.NoError(t, s.Validate())
			c.modify(s)
			err := s.Validate()
			require.ErrorIs(t, err, c.err)
			for _, w := range c.words {
				require.Contains(t, err.Error(), w)
			}
			_, err = s.Events()
			require.ErrorIs(t, err, c.err)
			_, err = s.Windows(timeline.Options{})
			require.ErrorIs(t, err, c.err)
		})
	}
}

func TestWindowsErrors(t *testing.T) {
	s := &Session{SessionID: "empty"}
	_, err := s.Windows(timeline.Options{})
	require.ErrorIs(t, err, timeline.ErrNoParticipants)
	require.Contains(t, err.Error(), `"empty"`)

	s = &Session{Participants: []Participant{{Name: "a"}}}
	_, err = s.Windows(timeline.Options{})
	require.ErrorIs(t, err, timeline.ErrEmptySession)
}

func TestEnd(t *testing.T) {
	s := sample()
	require.Equal(t, 30*time.Second, s.End())
	s.EndTimeS = nil
	s.Participants[1].LeaveTimeS = 20
	require.Equal(t, 25*time.Second, s.End(), "last presence interval")
	require.Zero(t, (&Session{}).End())
}

func TestSetPresence(t *testing.T) {
	var p Participant
	p.SetPresence([]Interval{{1, 2}})
	require.Equal(t, Participant{JoinTimeS: 1, LeaveTimeS: 2}, p)
	p.SetPresence([]Interval{{1, 2}, {3, 4}})
	require.Equal(t, 1.0, p.JoinTimeS)
	require.Equal(t, 4.0, p.LeaveTimeS)
	require.Len(t, p.Presence, 2)
	require.Equal(t, p.Presence, p.Intervals())
	p.SetPresence(nil)
	require.Nil(t, p.Presence)
}

func TestSeconds(t *testing.T) {
	for _, c := range []struct {
		s float64
		d time.Duration
	}{
		{0, 0},
		{4.46, 4460 * time.Millisecond},
		{39.01, 39010 * time.Millisecond},
		{0.1 + 0.2, 300 * time.Millisecond},
		{7200.000001, 2*time.Hour + time.Microsecond},
	} {
		require.Equal(t, c.d, FromSeconds(c.s), "%v", c.s)
		require.InDelta(t, c.s, ToSeconds(c.d), 1e-9)
	}
}

func TestMainTrackPrefersCamera(t *testing.T) {
	p := Participant{Name: "a", JoinTimeS: 2, VideoPath: "legacy.mp4", Tracks: []Track{
		{Kind: KindVideo, Source: SourceScreen, Path: "screen.mkv"},
	}}
	v, ok := p.VideoTrack()
	require.True(t, ok)
	require.Equal(t, "legacy.mp4", v.Path, "a screen share is not the camera")
	p.Tracks = append(p.Tracks, Track{Kind: KindVideo, Path: "cam.mkv", StartS: 2.5})
	v, ok = p.VideoTrack()
	require.True(t, ok)
	require.Equal(t, "cam.mkv", v.Path, "a track without source is the camera")
	_, ok = p.AudioTrack()
	require.False(t, ok)
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"prototype_session.json", "roomtape_session.json", "segmented_session.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(b)
	}
	var buf bytes.Buffer
	require.NoError(f, sample().Encode(&buf))
	f.Add(buf.Bytes())
	f.Add([]byte(`{"participants":[{"name":"a","join_time_s":1,"leave_time_s":0.5}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(bytes.NewReader(data), "")
		if err != nil {
			require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnsupportedFormat), "%v", err)
			return
		}
		// A valid manifest turns into events without error and survives a
		// round trip unchanged.
		_, err = s.Events()
		require.NoError(t, err)
		// Its tracks' files follow each other, one per segment.
		for _, p := range s.Participants {
			for _, tr := range p.Tracks {
				files := tr.Files()
				require.Len(t, files, max(1, len(tr.Segments)))
				for k, f := range files {
					require.NotEmpty(t, f.Path)
					if k > 0 {
						require.GreaterOrEqual(t, f.StartS, files[k-1].StartS)
					}
				}
			}
		}
		if s.NeededFormat() > s.Format && s.Format != 0 {
			require.Equal(t, FormatSegments, s.NeededFormat(), "only segments need format 2")
		}
		var out bytes.Buffer
		require.NoError(t, s.Encode(&out))
		first := out.String()
		again, err := Parse(&out, "")
		require.NoError(t, err)
		if len(s.Participants) > 0 {
			require.Equal(t, s, again)
		}
		out.Reset()
		require.NoError(t, again.Encode(&out))
		require.Equal(t, first, out.String())
		if ws, err := s.Windows(timeline.Options{}); err == nil {
			require.NotEmpty(t, ws)
			require.Equal(t, s.End(), ws[len(ws)-1].End)
		}
	})
}

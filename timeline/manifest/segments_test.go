package manifest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func loadSegmented(t *testing.T) *Session {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	require.NoError(t, err)
	s, err := Load(filepath.Join(dir, "segmented_session.json"))
	require.NoError(t, err)
	return s
}

func TestLoadSegmented(t *testing.T) {
	s := loadSegmented(t)
	require.Equal(t, FormatSegments, s.Format)
	require.Equal(t, FormatSegments, s.NeededFormat())
	ann := s.Participants[0]
	cam := ann.Tracks[0]
	require.Len(t, cam.Segments, 2)
	require.True(t, filepath.IsAbs(cam.Segments[1].Path), "segment paths resolve like track paths")

	// Each segment is a file of its own on the session clock, one after
	// the other across both camera starts.
	files := ann.VideoTracks()
	type span struct {
		base       string
		start, end float64
		complete   bool
		w, h       int
		changes    int
	}
	var got []span
	for _, f := range files {
		sp := span{base: filepath.Base(f.Path), start: f.StartS, end: -1, complete: f.Complete, w: f.Width, h: f.Height, changes: len(f.Resolutions)}
		if f.EndS != nil {
			sp.end = *f.EndS
		}
		got = append(got, sp)
	}
	require.Equal(t, []span{
		{"ann_camera_1-s0001.mkv", 0.6, 10.46, true, 320, 240, 0},
		{"ann_camera_1-s0002.mkv", 10.46, 14.2, true, 320, 240, 1},
		{"ann_camera_2-s0001.mkv", 21.1, 31, true, 0, 0, 0},
		{"ann_camera_2-s0002.mkv", 31, -1, false, 0, 0, 0},
	}, got)
	audio := ann.AudioTracks()
	require.Len(t, audio, 2)
	require.Equal(t, 12.52, audio[1].StartS, "a hole between segments (one lost) is kept")
}

func TestFilesWithoutSegments(t *testing.T) {
	end := 3.0
	tr := Track{Kind: KindAudio, Path: "a.mkv", StartS: 1, EndS: &end, Complete: true}
	require.Equal(t, []Track{tr}, tr.Files())
	s := &Session{Participants: []Participant{{Name: "a", Tracks: []Track{tr}}}}
	require.Equal(t, FormatTracks, s.NeededFormat())
}

func TestSegmentsInvalid(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name  string
		edit  func(tr *Track)
		field string
	}{
		{"empty path", func(tr *Track) { tr.Segments[1].Path = "" }, "segments[1].path"},
		{"before the track", func(tr *Track) { tr.Segments[0].StartS = 0.1 }, "segments[0].start_s"},
		{"overlap", func(tr *Track) { tr.Segments[1].StartS = 10 }, "segments[1].start_s"},
		{"end before start", func(tr *Track) { tr.Segments[1].EndS = f(10) }, "segments[1].end_s"},
		{"open in the middle", func(tr *Track) { tr.Segments[0].EndS = nil }, "segments[0].end_s"},
		{"negative bytes", func(tr *Track) { tr.Segments[0].Bytes = -1 }, "segments[0].bytes"},
		{"NaN", func(tr *Track) { tr.Segments[1].StartS = nan() }, "segments[1].start_s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := loadSegmented(t)
			tc.edit(&s.Participants[0].Tracks[0])
			err := s.Validate()
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tc.field)
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestMergeSegments(t *testing.T) {
	a := loadSegmented(t)
	b := loadSegmented(t)
	b.EndTimeS = nil
	m, err := Merge([]*Session{a, b}, []time.Duration{0, 50 * time.Second})
	require.NoError(t, err)
	tracks := m.Participants[0].Tracks
	require.Len(t, tracks, 6)
	require.InDelta(t, 50.6, tracks[3].StartS, 1e-9)
	require.InDelta(t, 60.46, *tracks[3].Segments[0].EndS, 1e-9)
	require.InDelta(t, 60.46, tracks[3].Segments[1].StartS, 1e-9)
	require.Equal(t, 10.46, *a.Participants[0].Tracks[0].Segments[0].EndS, "the parts are not changed")
	require.Equal(t, FormatSegments, m.Format)
}

func TestTrimSegments(t *testing.T) {
	s := loadSegmented(t)
	out, off, err := s.Trim()
	require.NoError(t, err)
	require.Equal(t, 500*time.Millisecond, off)
	sg := out.Participants[0].Tracks[0].Segments[1]
	require.InDelta(t, 9.96, sg.StartS, 1e-9)
	require.InDelta(t, 13.7, *sg.EndS, 1e-9)
	require.Equal(t, 10.46, s.Participants[0].Tracks[0].Segments[1].StartS, "s is not changed")
}

package testmedia_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// markerTolerance is how far a found flash or beep may be from its nominal
// local time: one frame at 30 fps, the resolution of a flash (the frame
// grid of testsrc2 starts at 0, so flashes sit on frames exactly; the slack
// is for the beep detector's half-window estimate).
const markerTolerance = 34 * time.Millisecond

func TestMakeFormats(t *testing.T) {
	cases := []struct {
		name string
		p    testmedia.Participant
		// video and audio codec names FFmpeg reports.
		vcodec, acodec string
	}{
		{"prototype", testmedia.Participant{Name: "A", Leave: 5 * time.Second}, "h264", "pcm_s16le"},
		{"vp8-webm-opus-ogg", testmedia.Participant{Name: "B", Leave: 5 * time.Second, Video: testmedia.VP8WebM, Audio: testmedia.OpusOgg}, "vp8", "opus"},
		{"vp8-mkv-opus-mkv-offset", testmedia.Participant{Name: "C", Join: time.Second, Leave: 6 * time.Second, Video: testmedia.VP8MKV, Audio: testmedia.OpusMKV, StartOffset: 3 * time.Second}, "vp8", "opus"},
		{"vp9-webm-opus-webm", testmedia.Participant{Name: "E", Leave: 5 * time.Second, Video: testmedia.VP9WebM, Audio: testmedia.OpusWebM}, "vp9", "opus"},
		{"h264-mkv-portrait-cfr", testmedia.Participant{Name: "D", Leave: 5 * time.Second, Video: testmedia.H264MKV, Width: 180, Height: 320, CFR: true, Audio: testmedia.NoAudio}, "h264", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, path, err := testmedia.Make(context.Background(), t.TempDir(), []testmedia.Participant{tc.p}, testmedia.Options{})
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := manifest.Load(path)
			if err != nil {
				t.Fatalf("session.json does not load: %v", err)
			}
			if len(loaded.Participants) != 1 || loaded.Participants[0].Name != tc.p.Name {
				t.Fatalf("participants = %+v", loaded.Participants)
			}
			mp := s.Participants[0]
			vt, ok := mp.VideoTrack()
			if !ok {
				t.Fatal("no video track")
			}
			if got, want := vt.Start(), tc.p.Join-tc.p.StartOffset; got != want {
				t.Errorf("video track start = %v, want %v", got, want)
			}
			w, h := tc.p.Width, tc.p.Height
			if w == 0 {
				w, h = 320, 180
			}
			rep, err := mediacheck.Analyze(vt.Path, mediacheck.Options{Regions: []timeline.Rect{{W: w, H: h}}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Video.Codec != tc.vcodec || rep.Video.Width != w || rep.Video.Height != h {
				t.Errorf("video = %s %dx%d, want %s %dx%d", rep.Video.Codec, rep.Video.Width, rep.Video.Height, tc.vcodec, w, h)
			}
			checkMarkers(t, "flash", rep.FlashOnsets(0), tc.p)
			if c, ok := rep.MeanAt(0, tc.p.StartOffset+time.Second); !ok {
				t.Error("no frame at 1 s")
			} else if k, _ := mediacheck.Nearest(c, testmedia.Palette()); k != 0 {
				t.Errorf("tint at 1 s = %+v, nearest palette entry %d, want 0", c, k)
			}
			if tc.acodec == "" {
				return
			}
			at, _ := mp.AudioTrack()
			rep, err = mediacheck.Analyze(at.Path, mediacheck.Options{Freqs: []float64{testmedia.Freqs[0]}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Audio.Codec != tc.acodec {
				t.Errorf("audio codec = %s, want %s", rep.Audio.Codec, tc.acodec)
			}
			checkMarkers(t, "beep", rep.BeepOnsets(testmedia.Freqs[0]), tc.p)
		})
	}
}

// checkMarkers checks that got are the participant's markers on its file
// clock: StartOffset + 2k s.
func checkMarkers(t *testing.T, what string, got []time.Duration, p testmedia.Participant) {
	t.Helper()
	want := testmedia.FlashTimes(p, p.Join, p.Leave)
	if len(got) != len(want) {
		t.Fatalf("%s onsets = %v, want %d of them", what, got, len(want))
	}
	for i, g := range got {
		w := want[i] - p.Join + p.StartOffset
		if d := g - w; d < -markerTolerance || d > markerTolerance {
			t.Errorf("%s %d at %v, want %v", what, i, g, w)
		}
	}
}

func TestMakeResize(t *testing.T) {
	p := testmedia.Participant{
		Name: "R", Leave: 4 * time.Second, Video: testmedia.VP8MKV, Audio: testmedia.NoAudio,
		ResizeAt: 2 * time.Second, ResizeWidth: 160, ResizeHeight: 240,
	}
	s, _, err := testmedia.Make(context.Background(), t.TempDir(), []testmedia.Participant{p}, testmedia.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := mediacheck.Analyze(s.Participants[0].VideoPath, mediacheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Video.Frames < 100 {
		t.Errorf("only %d frames decode across the resolution change", rep.Video.Frames)
	}
}

func TestMakeErrors(t *testing.T) {
	_, _, err := testmedia.Make(context.Background(), t.TempDir(), []testmedia.Participant{{Name: "X", Join: 2 * time.Second, Leave: time.Second}}, testmedia.Options{})
	if !errors.Is(err, testmedia.ErrBadParticipant) {
		t.Errorf("inverted times: err = %v, want ErrBadParticipant", err)
	}
	_, _, err = testmedia.Make(context.Background(), t.TempDir(), []testmedia.Participant{{Name: "X", Leave: time.Second, ResizeAt: time.Second / 2}}, testmedia.Options{})
	if !errors.Is(err, testmedia.ErrBadParticipant) {
		t.Errorf("H.264 resize: err = %v, want ErrBadParticipant", err)
	}
}

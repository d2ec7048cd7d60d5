package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline/manifest"
)

func TestMain(m *testing.M) {
	astiav.SetLogLevel(astiav.LogLevelFatal)
	os.Exit(m.Run())
}

func makeSession(t *testing.T) (string, *manifest.Session) {
	t.Helper()
	dir := t.TempDir()
	s, path, err := testmedia.Make(context.Background(), dir, []testmedia.Participant{
		{Name: "A", Leave: 4 * time.Second},
		{Name: "B", Join: 2 * time.Second, Leave: 4 * time.Second, Width: 180, Height: 320},
	}, testmedia.Options{SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	return path, s
}

func TestRunSession(t *testing.T) {
	path, _ := makeSession(t)
	t.Setenv("OUTPUT_WIDTH", "320")
	t.Setenv("OUTPUT_HEIGHT", "180")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--session", path, "--preset", "ultrafast", "--labels"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "Composition done in ") {
		t.Errorf("stdout %q lacks the timing line", out.String())
	}
	if !strings.Contains(errb.String(), "progress 100%") {
		t.Errorf("stderr %q lacks plain progress lines", errb.String())
	}
	want := filepath.Join(filepath.Dir(path), "s1_composed.mp4")
	rep, err := mediacheck.Analyze(want, mediacheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Video.Width != 320 || rep.Video.Height != 180 {
		t.Errorf("output %dx%d, want OUTPUT_WIDTH x OUTPUT_HEIGHT 320x180", rep.Video.Width, rep.Video.Height)
	}
}

func TestRunParticipantFlags(t *testing.T) {
	_, s := makeSession(t)
	a, b := s.Participants[0], s.Participants[1]
	outPath := filepath.Join(t.TempDir(), "out.mp4")
	args := []string{
		"--p1-video", a.VideoPath, "--p1-name", "A", "--p1-join", "0", "--p1-leave", "4", "--p1-audio", a.AudioPath,
		"--p2-video", b.VideoPath, "--p2-name", "B", "--p2-join", "2", "--p2-leave", "4", "--p2-audio", b.AudioPath,
		"--output", outPath, "--width", "320", "--height", "180", "--fps", "25", "--preset", "ultrafast", "--crf", "30", "--layout", "grid",
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	rep, err := mediacheck.Analyze(outPath, mediacheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Video.Frames != 100 {
		t.Errorf("%d frames, want 4 s at 25 fps", rep.Video.Frames)
	}
}

func TestRunPrintGraph(t *testing.T) {
	path, _ := makeSession(t)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--session", path, "--print-graph"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	g := out.String()
	for _, want := range []string{"# window 0s - 2s: A", "# window 2s - 4s: A, B", "buffersink", "overlay="} {
		if !strings.Contains(g, want) {
			t.Errorf("graph lacks %q:\n%s", want, g)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "s1_composed.mp4")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--print-graph wrote an output (%v)", err)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "session.json")
	if err := os.WriteFile(notJSON, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"not-json", []string{"--session", notJSON}, "malformed"},
		{"missing-session", []string{"--session", filepath.Join(dir, "nope.json")}, "nope.json"},
		{"nothing", nil, "nothing to compose"},
		{"no-output", []string{"--p1-video", "a.mp4", "--p1-join", "0", "--p1-leave", "1"}, "--output"},
		{"bad-join", []string{"--p1-video", "a.mp4", "--p1-join", "x", "--p1-leave", "1", "--output", "o.mp4"}, "--join"},
		{"inverted", []string{"--p1-video", "a.mp4", "--p1-join", "2", "--p1-leave", "1", "--output", filepath.Join(dir, "o.mp4")}, "invalid"},
		{"bad-layout", []string{"--session", notJSON, "--layout", "spiral"}, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left behind: %v", entries)
	}
}

// TestRunFFmpegLog checks that FFmpeg's own messages go through the
// logger: libx264's lines show as debug records with LOG_LEVEL=DEBUG and
// not at all at the default level.
func TestRunFFmpegLog(t *testing.T) {
	path, _ := makeSession(t)
	t.Setenv("OUTPUT_WIDTH", "320")
	t.Setenv("OUTPUT_HEIGHT", "180")
	for _, level := range []string{"DEBUG", ""} {
		t.Setenv("LOG_LEVEL", level)
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"--session", path, "--preset", "ultrafast", "--output", filepath.Join(t.TempDir(), "o.mp4")}, &out, &errb); err != nil {
			t.Fatalf("%v\n%s", err, errb.String())
		}
		routed := strings.Contains(errb.String(), "level=DEBUG") && strings.Contains(errb.String(), "ffmpeg=libx264")
		if level == "DEBUG" && !routed {
			t.Errorf("LOG_LEVEL=DEBUG: no libx264 debug record in %q", errb.String())
		}
		if level == "" && strings.Contains(errb.String(), "libx264") {
			t.Errorf("default level: libx264's messages shown: %q", errb.String())
		}
	}
}

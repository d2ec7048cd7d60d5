package compose_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/mediacheck"
	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/internal/testmedia"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// x264Frames is libx264's closing statistics line per frame type
// ("frame I:1     Avg QP:...").
var x264Frames = regexp.MustCompile(`^frame [IPB]:\s*([0-9]+)\s`)

// TestFFmpegLogPerComposition runs two compositions of different lengths
// at once, each with its own logger, and checks that FFmpeg's lines about
// each one's contexts reach its logger and no other: libx264's closing
// statistics, summed per logger, count exactly the frames of that
// composition's output, and the default logger gets none of them.
func TestFFmpegLogPerComposition(t *testing.T) {
	lengths := []time.Duration{2 * time.Second, 4 * time.Second}
	sessions := make([]*manifest.Session, len(lengths))
	outs := make([]string, len(lengths))
	for i, l := range lengths {
		dir := t.TempDir()
		s, _, err := testmedia.Make(context.Background(), dir, []testmedia.Participant{{Name: "P" + strconv.Itoa(i), Leave: l}}, testmedia.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sessions[i], outs[i] = s, filepath.Join(dir, "out.mp4")
	}
	// From here on only the compositions run FFmpeg (the test media's
	// encoders logged before).
	var def syncbuf.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug} // libx264's statistics are FFmpeg info: slog debug
	prev := compose.FFmpegLogger()
	compose.SetFFmpegLogger(slog.New(slog.NewJSONHandler(&def, opts)))
	t.Cleanup(func() {
		compose.SetFFmpegLogger(prev)
		astiav.SetLogLevel(astiav.LogLevelFatal) // as TestMain
	})
	logs := make([]syncbuf.Buffer, len(lengths))
	errs := make([]error, len(lengths))
	var wg sync.WaitGroup
	for i := range lengths {
		cfg := testConfig
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs[i], opts)).With("job", fmt.Sprintf("job%d", i))
		wg.Go(func() { errs[i] = compose.Session(context.Background(), sessions[i], outs[i], cfg) })
	}
	wg.Wait()
	for i := range lengths {
		if errs[i] != nil {
			t.Fatalf("composition %d: %v", i, errs[i])
		}
		rep, err := mediacheck.Analyze(outs[i], mediacheck.Options{})
		if err != nil {
			t.Fatal(err)
		}
		frames, lines := 0, 0
		sc := bufio.NewScanner(strings.NewReader(logs[i].String()))
		for sc.Scan() {
			var rec struct {
				Msg, FFmpeg, Job string
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("log line %q: %v", sc.Text(), err)
			}
			if rec.FFmpeg == "" {
				continue
			}
			lines++
			if rec.Job != fmt.Sprintf("job%d", i) {
				t.Errorf("composition %d's logger has a line of job %q", i, rec.Job)
			}
			if m := x264Frames.FindStringSubmatch(rec.Msg); m != nil && rec.FFmpeg == "libx264" {
				n, _ := strconv.Atoi(m[1])
				frames += n
			}
		}
		t.Logf("composition %d: %d FFmpeg lines, libx264 counted %d frames, the output has %d", i, lines, frames, rep.Video.Frames)
		if frames == 0 || frames != rep.Video.Frames {
			t.Errorf("composition %d: libx264's statistics in its log count %d frames, its output has %d", i, frames, rep.Video.Frames)
		}
	}
	if strings.Contains(def.String(), `"ffmpeg":"libx264"`) {
		t.Errorf("the default logger got libx264's lines of a composition:\n%.2000s", def.String())
	}
}

package compose

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/asticode/go-astiav"

	"github.com/roomtape/roomtape/compose/internal/avlog"
)

func TestFFmpegLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := FFmpegLogger()
	SetFFmpegLogger(logger)
	t.Cleanup(func() { SetFFmpegLogger(prev) })
	if got := astiav.GetLogLevel(); got != astiav.LogLevelInfo {
		t.Errorf("FFmpeg log level %v for a debug logger, want info", got)
	}
	astiav.Log(nil, astiav.LogLevelWarning, "%s", "first half ")
	astiav.Log(nil, astiav.LogLevelWarning, "%s", "second half\n")
	astiav.Log(nil, astiav.LogLevelError, "%s", "broken\n")
	astiav.Log(nil, astiav.LogLevelInfo, "%s", "stats\n")
	astiav.Log(nil, astiav.LogLevelDebug, "%s", "not formatted\n")
	long := strings.Repeat("x", 5000) + "\n" // past go-astiav's own 1 kB buffer
	astiav.Log(nil, astiav.LogLevelWarning, "%s", long)
	out := buf.String()
	for _, want := range []string{
		`level=INFO msg="first half second half" ffmpeg=""`,
		`level=WARN msg=broken`,
		`level=DEBUG msg=stats`,
		`msg=` + strings.Repeat("x", 2046) + ` `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%.600s", want, out)
		}
	}
	if strings.Contains(out, "not formatted") {
		t.Error("a debug message below the logger's level was logged")
	}
	if strings.Contains(out, strings.Repeat("x", 2047)) {
		t.Error("a message longer than the callback's buffer was not cut")
	}
}

func TestFFmpegLogQuiet(t *testing.T) {
	prev := FFmpegLogger()
	SetFFmpegLogger(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { SetFFmpegLogger(prev) })
	if got := astiav.GetLogLevel(); got != astiav.LogLevelError {
		t.Errorf("FFmpeg log level %v for a logger that enables nothing below info, want error", got)
	}
}

func FuzzFFmpegLogLines(f *testing.F) {
	f.Add("a\nb", "c\n")
	f.Add("", "\n\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
		key := partialKey{component: "fuzz"}
		logFFmpegLine(logger, key, avLogWarning, a)
		logFFmpegLine(logger, key, avLogWarning, b)
		partialMu.Lock()
		rest := partial[key]
		delete(partial, key)
		partialMu.Unlock()
		if len(rest) >= maxPartial {
			t.Fatalf("kept %d bytes of an unfinished line, bound %d", len(rest), maxPartial)
		}
		if strings.Contains(rest, "\n") {
			t.Fatalf("kept a complete line: %q", rest)
		}
	})
}

// TestFFmpegLogRouting: a line about a registered context (a format or
// codec context, a filter of a registered graph) goes to its owner's
// logger; a line about an unregistered or released context, or none, to
// the default logger.
func TestFFmpegLogRouting(t *testing.T) {
	var def, ja, jb bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	prev := FFmpegLogger()
	SetFFmpegLogger(slog.New(slog.NewTextHandler(&def, opts)))
	t.Cleanup(func() { SetFFmpegLogger(prev) })
	a := slog.New(slog.NewTextHandler(&ja, opts)).With("job", "A")
	b := slog.New(slog.NewTextHandler(&jb, opts)).With("job", "B")

	fc := astiav.AllocFormatContext()
	defer fc.Free()
	other := astiav.AllocFormatContext()
	defer other.Free()
	cc := astiav.AllocCodecContext(nil)
	defer cc.Free()
	fg := astiav.AllocFilterGraph()
	defer fg.Free()
	var sa, sb avlog.Set
	sa.Add(fc, a)
	sa.Add(fg, a)
	sb.Add(cc, b)
	sink, err := fg.NewBuffersinkFilterContext(astiav.FindFilterByName("buffersink"), "sink")
	if err != nil {
		t.Fatal(err)
	}
	astiav.Log(fc, astiav.LogLevelWarning, "%s", "from the demuxer\n")
	astiav.Log(sink.FilterContext(), astiav.LogLevelWarning, "%s", "from a filter\n")
	astiav.Log(cc, astiav.LogLevelWarning, "%s", "from the decoder\n")
	astiav.Log(other, astiav.LogLevelWarning, "%s", "from an unregistered muxer\n")
	astiav.Log(nil, astiav.LogLevelWarning, "%s", "from nobody\n")
	sa.Release()
	astiav.Log(fc, astiav.LogLevelWarning, "%s", "after the release\n")
	sb.Release()
	for _, c := range []struct {
		name      string
		buf       *bytes.Buffer
		want, not []string
	}{
		{"A", &ja, []string{"from the demuxer", "from a filter", "job=A"}, []string{"decoder", "nobody", "unregistered", "after the release"}},
		{"B", &jb, []string{"from the decoder", "job=B"}, []string{"demuxer", "filter", "nobody", "unregistered"}},
		{"default", &def, []string{"from nobody", "from an unregistered muxer", "after the release"}, []string{"demuxer", "filter", "decoder", "job="}},
	} {
		out := c.buf.String()
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("logger %s lacks %q:\n%s", c.name, w, out)
			}
		}
		for _, n := range c.not {
			if strings.Contains(out, n) {
				t.Errorf("logger %s has %q:\n%s", c.name, n, out)
			}
		}
	}
}

package compose

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/asticode/go-astiav"
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
		logFFmpegLine(logger, "fuzz", avLogWarning, a)
		logFFmpegLine(logger, "fuzz", avLogWarning, b)
		partialMu.Lock()
		rest := partial["fuzz"]
		delete(partial, "fuzz")
		partialMu.Unlock()
		if len(rest) >= maxPartial {
			t.Fatalf("kept %d bytes of an unfinished line, bound %d", len(rest), maxPartial)
		}
		if strings.Contains(rest, "\n") {
			t.Fatalf("kept a complete line: %q", rest)
		}
	})
}

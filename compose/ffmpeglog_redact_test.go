package compose

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestFFmpegLogRedacted: FFmpeg's RTMP client lines reach the log with
// the stream key redacted.
func TestFFmpegLogRedacted(t *testing.T) {
	var b bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
	logFFmpegLine(logger, partialKey{component: "rtmp"}, avLogDebug, "Proto = rtmp, path = /live/s3cr3tk3y, app = live, fname = s3cr3tk3y\n")
	logFFmpegLine(logger, partialKey{component: "rtmp"}, avLogError, "Cannot open connection rtmp://127.0.0.1:1935/live/s3cr3tk3y?sig=abc\n")
	if strings.Contains(b.String(), "s3cr3tk3y") || strings.Contains(b.String(), "sig=abc") {
		t.Errorf("the key reached the log:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "app = live") || !strings.Contains(b.String(), "rtmp://127.0.0.1:1935/live/REDACTED") {
		t.Errorf("the lines lost more than the key:\n%s", b.String())
	}
}

package bot

import (
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/roomtape/roomtape/internal/redact"
)

// NewLogger returns the bot's logger: text lines on w, or JSON lines when
// json is set, at level.
func NewLogger(w io.Writer, level slog.Level, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// printer writes the user-facing lines; the first write error is kept
// (a closed stdout must not stop a recording). It is safe for concurrent
// use: Run's goroutine and the live composer's progress callback both
// print; mu guards w and err and serialises whole lines.
type printer struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format, args...)
}

// RedactURL returns raw fit for logs (redact.URL): user info and query
// are replaced by "REDACTED", the fragment dropped, and an RTMP URL's
// stream key replaced; a value that does not parse as an absolute URL is
// replaced whole. Empty stays empty.
func RedactURL(raw string) string { return redact.URL(raw) }

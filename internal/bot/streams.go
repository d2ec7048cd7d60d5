package bot

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/internal/redact"
)

// HLSDir is where --hls writes a session's HLS stream.
func HLSDir(sessionDir string) string { return filepath.Join(sessionDir, "hls") }

// streamsConfig is the live composition's stream outputs cfg asks for;
// failures and reconnections are printed to out as they happen (and told
// to onEvent when set), and closed HLS files handed to hlsUp (when set)
// for upload.
func streamsConfig(cfg Config, sessionDir string, out *printer, hlsUp *hlsUploader, onEvent func(compose.StreamEvent)) compose.Streams {
	s := compose.Streams{RTMP: cfg.RTMP}
	if cfg.HLS {
		s.HLS = HLSDir(sessionDir)
	}
	s.OnEvent = func(e compose.StreamEvent) {
		if onEvent != nil {
			onEvent(e)
		}
		switch e.Kind {
		case compose.StreamFailed:
			if e.Retry > 0 {
				out.printf("  stream %s failed (%v); retrying in %v\n", e.Target, e.Err, e.Retry)
			} else {
				out.printf("  stream %s failed (%v); stopped\n", e.Target, e.Err)
			}
		case compose.StreamConnected:
			out.printf("  stream %s connected\n", e.Target)
		case compose.StreamFileClosed:
			if hlsUp != nil {
				hlsUp.closed(e.Path)
			}
		}
	}
	return s
}

// streamTargets lists s's outputs for logs (RTMP URLs redacted).
func streamTargets(s compose.Streams) []string {
	var t []string
	for _, u := range s.RTMP {
		t = append(t, redact.StreamTarget(u))
	}
	if s.HLS != "" {
		t = append(t, "hls")
	}
	return t
}

// streamsLine is the progress line's part on the stream outputs.
func streamsLine(st []compose.StreamStatus) string {
	var b strings.Builder
	for _, s := range st {
		state := "down"
		if s.Connected {
			state = "up"
		}
		fmt.Fprintf(&b, "  [%s %s, %d sent, %d dropped, %d failures]", s.Target, state, s.Packets, s.Dropped, s.Failures)
	}
	return b.String()
}

package compose_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/roomtape/roomtape/compose"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// TestStreamsConfig: bad stream targets are refused with ErrConfig, and
// the error never shows the stream key or query.
func TestStreamsConfig(t *testing.T) {
	const key = "s3cr3t-key"
	for name, s := range map[string]compose.Streams{
		"http":         {RTMP: []string{"http://example.com/app/" + key}},
		"no app":       {RTMP: []string{"rtmp://127.0.0.1:1935/"}},
		"not a url":    {RTMP: []string{key}},
		"short buffer": {RTMP: []string{"rtmp://127.0.0.1/live/" + key}, Buffer: 1},
		"segment":      {HLS: t.TempDir(), HLSSegment: 1},
		"list":         {HLS: t.TempDir(), HLSListSize: 1},
	} {
		err := s.Validate()
		if !errors.Is(err, compose.ErrConfig) {
			t.Errorf("%s: Validate = %v, want ErrConfig", name, err)
		}
		if err != nil && strings.Contains(err.Error(), key) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
	if err := (compose.Streams{RTMP: []string{"rtmp://127.0.0.1:1935/live/" + key + "?token=x", "rtmps://live.example.com/app/" + key}}).Validate(); err != nil {
		t.Errorf("a good target: %v", err)
	}
	// Streams follow a live composition only.
	m := &manifest.Session{Participants: []manifest.Participant{{ID: "a"}}}
	err := compose.Session(t.Context(), m, t.TempDir()+"/out.mp4", compose.Config{Streams: compose.Streams{HLS: t.TempDir()}})
	if !errors.Is(err, compose.ErrConfig) {
		t.Errorf("Session with streams: %v, want ErrConfig", err)
	}
}

package bot

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestStreamFlags(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "RTMP_URLS" {
			return "rtmp://127.0.0.1/live/envkey1 rtmp://127.0.0.1/live/envkey2", true
		}
		return "", false
	}
	var usage bytes.Buffer
	c, err := ParseArgs([]string{"--env-file", "", "--hls"}, env, &usage)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.RTMP) != 2 || !c.HLS {
		t.Errorf("RTMP_URLS and --hls: %v %v", c.RTMP, c.HLS)
	}
	// Flags win over the environment, and warn: the key shows in ps.
	c, err = ParseArgs([]string{"--env-file", "", "--rtmp", "rtmp://127.0.0.1/live/a", "--rtmp", "rtmp://127.0.0.1/live/b"}, env, &usage)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.RTMP, []string{"rtmp://127.0.0.1/live/a", "rtmp://127.0.0.1/live/b"}) {
		t.Errorf("--rtmp twice: %v", c.RTMP)
	}
	if !strings.Contains(usage.String(), "--rtmp on the command line") {
		t.Errorf("no warning for a stream key on the command line: %q", usage.String())
	}
	for _, args := range [][]string{
		{"--rtmp", "srt://example.com/app/topsecret"},
		{"--rtmp", "http://example.com/app/topsecret"},
		{"--rtmp", "rtmp://127.0.0.1/live/topsecret", "--offline"},
		{"--hls", "--no-compose"},
	} {
		_, err := ParseArgs(append([]string{"--env-file", ""}, args...), noEnv, &usage)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%v: %v, want ErrConfig", args, err)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%v: the error shows the key: %v", args, err)
		}
	}
}

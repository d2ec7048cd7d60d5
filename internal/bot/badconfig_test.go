package bot

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// badConfigTimeout bounds a bad-configuration run: each must fail fast,
// before recording anything (the S3 check retries a refused connection
// uploadAttempts times with sub-second backoff).
const badConfigTimeout = 20 * time.Second

// TestBadConfig runs the bot as the binary does (Main with arguments and
// an environment) with bad configurations: each must fail with a clear
// message naming the problem, an error callers can test, and keep what
// was recorded.
func TestBadConfig(t *testing.T) {
	// A port in use.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Close() }()
	// A closed port: nothing listens there.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()

	base := t.TempDir()
	notADir := filepath.Join(base, "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		is   error
		msg  []string
		// recorded reports whether a session directory was created (and
		// must be kept, with its session.json).
		recorded bool
	}{
		{
			name: "unwritable recordings dir",
			env:  map[string]string{"RECORDINGS_DIR": filepath.Join(notADir, "recordings")},
			is:   ErrRecordingsDir, msg: []string{"recordings directory not writable", notADir},
		},
		{
			name: "unknown layout",
			args: []string{"--layout", "diagonal"},
			is:   ErrConfig, msg: []string{`unknown layout "diagonal"`},
		},
		{
			name: "port in use",
			args: []string{"--whip-listen", busy.Addr().String(), "--ice-loopback"},
			is:   ErrListen, msg: []string{"cannot listen", busy.Addr().String(), "address already in use"},
			recorded: true,
		},
		{
			name: "bucket unreachable",
			env: map[string]string{
				"S3_BUCKET": "recordings", "S3_ENDPOINT": "http://" + closedAddr, "AWS_REGION": "us-east-1",
				"AWS_ACCESS_KEY_ID": "AKIDBADCONFIG", "AWS_SECRET_ACCESS_KEY": "s3cr3t-bad-config",
			},
			is: ErrUpload, msg: []string{`bucket "recordings"`, closedAddr},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "recordings")
			env := map[string]string{"RECORDINGS_DIR": dir}
			for k, v := range c.env {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(t.Context(), badConfigTimeout)
			defer cancel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"--env-file", ""}, c.args...)
			err := Main(ctx, args, mapEnv(env), &stdout, &stderr, nil)
			t.Logf("err: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			if !errors.Is(err, c.is) {
				t.Fatalf("err %v, want %v", err, c.is)
			}
			for _, m := range c.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
			for _, secret := range []string{env["AWS_SECRET_ACCESS_KEY"]} {
				if secret != "" && (strings.Contains(err.Error(), secret) || strings.Contains(stderr.String(), secret)) {
					t.Errorf("secret %q in the error or logs", secret)
				}
			}
			sessions, _ := filepath.Glob(filepath.Join(env["RECORDINGS_DIR"], "*", "session.json"))
			if c.recorded && len(sessions) != 1 {
				t.Errorf("session.json files %v, want the session's kept", sessions)
			}
			if !c.recorded && len(sessions) != 0 {
				t.Errorf("session.json files %v before anything was recorded", sessions)
			}
		})
	}
}

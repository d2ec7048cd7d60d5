package bot

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roomtape/roomtape/recorder/whip"
	"github.com/roomtape/roomtape/timeline"
)

// mapEnv is an environment made of m.
func mapEnv(m map[string]string) Env {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestParseArgs(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
		err   string // substring of the error; "" for success
	}{
		{
			name: "defaults are the demo",
			check: func(t *testing.T, c Config) {
				t.Helper()
				if c.Mode != ModeDemo || c.WHIPListen != "127.0.0.1:0" || c.PublicICE {
					t.Errorf("mode %v listen %q public %v", c.Mode, c.WHIPListen, c.PublicICE)
				}
				if c.RecordingsDir != DefaultRecordingsDir || c.Width != DefaultWidth || c.Height != DefaultHeight {
					t.Errorf("dir %q size %dx%d", c.RecordingsDir, c.Width, c.Height)
				}
				if c.Layout != timeline.Columns || c.LogLevel != slog.LevelInfo || c.S3.Bucket != "" {
					t.Errorf("layout %v level %v bucket %q", c.Layout, c.LogLevel, c.S3.Bucket)
				}
			},
		},
		{
			name: "environment as the prototype",
			env: map[string]string{
				"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_REGION": "ap-south-1",
				"S3_BUCKET": "b", "BASE_CDN_URL": "https://cdn.example", "RECORDINGS_DIR": "/r",
				"OUTPUT_WIDTH": "640", "OUTPUT_HEIGHT": "360", "LOG_LEVEL": "DEBUG",
			},
			check: func(t *testing.T, c Config) {
				t.Helper()
				want := S3Config{AccessKeyID: "AKID", SecretAccessKey: "SECRET", Region: "ap-south-1", Bucket: "b", BaseCDNURL: "https://cdn.example"}
				if c.S3 != want {
					t.Errorf("s3 %+v, want %+v", c.S3, want)
				}
				if c.RecordingsDir != "/r" || c.Width != 640 || c.Height != 360 || c.LogLevel != slog.LevelDebug {
					t.Errorf("dir %q size %dx%d level %v", c.RecordingsDir, c.Width, c.Height, c.LogLevel)
				}
			},
		},
		{
			name: "flags win over the environment",
			args: []string{"--width", "320", "--recordings-dir", "/flag"},
			env:  map[string]string{"OUTPUT_WIDTH": "640", "RECORDINGS_DIR": "/env"},
			check: func(t *testing.T, c Config) {
				t.Helper()
				if c.Width != 320 || c.RecordingsDir != "/flag" {
					t.Errorf("width %d dir %q", c.Width, c.RecordingsDir)
				}
			},
		},
		{
			name: "whip mode offers every interface",
			args: []string{"--whip-listen", "127.0.0.1:8080", "--layout", "grid", "--idle-timeout", "5s"},
			check: func(t *testing.T, c Config) {
				t.Helper()
				if c.Mode != ModeWHIP || !c.PublicICE || c.Layout != timeline.Grid || c.IdleTimeout != 5*time.Second {
					t.Errorf("%+v", c)
				}
			},
		},
		{
			name: "whip mode on loopback only",
			args: []string{"--whip-listen", ":8080", "--ice-loopback"},
			check: func(t *testing.T, c Config) {
				t.Helper()
				if c.Mode != ModeWHIP || c.PublicICE {
					t.Errorf("%+v", c)
				}
			},
		},
		{
			name: "livekit with a token",
			args: []string{"--room-url", "ws://127.0.0.1:7880", "--token", "tok"},
			check: func(t *testing.T, c Config) {
				t.Helper()
				if c.Mode != ModeLiveKit || c.LiveKit.Token != "tok" {
					t.Errorf("%+v", c)
				}
			},
		},
		{
			name: "whip off loopback with WHIP_TOKEN",
			args: []string{"--whip-listen", "0.0.0.0:8080", "--whip-origin", "https://a.example, https://b.example", "--whip-host", "rec.example"},
			env:  map[string]string{"WHIP_TOKEN": "0123456789abcdef0123"},
			check: func(t *testing.T, c Config) {
				t.Helper()
				if c.WHIPToken != "0123456789abcdef0123" || len(c.WHIPOrigins) != 2 || c.WHIPOrigins[1] != "https://b.example" ||
					len(c.WHIPHosts) != 1 || c.WHIPMaxPublishers != whip.DefaultMaxResources {
					t.Errorf("%+v", c)
				}
			},
		},
		{name: "whip on 0.0.0.0 without token", args: []string{"--whip-listen", "0.0.0.0:8080"}, err: "reachable from other machines: set WHIP_TOKEN"},
		{name: "whip on a LAN address without token", args: []string{"--whip-listen", "192.168.1.5:8080"}, err: "reachable from other machines"},
		{name: "whip on a host name without token", args: []string{"--whip-listen", "rec.example:8080"}, err: "reachable from other machines"},
		{name: "short whip token", args: []string{"--whip-listen", "127.0.0.1:8080"}, env: map[string]string{"WHIP_TOKEN": "short"}, err: "WHIP_TOKEN is 5 bytes"},
		{name: "no publishers", args: []string{"--whip-max-publishers", "0"}, err: "whip-max-publishers 0"},
		{name: "unknown layout", args: []string{"--layout", "diagonal"}, err: `unknown layout "diagonal"`},
		{name: "unknown fit", args: []string{"--fit", "stretch"}, err: `unknown fit "stretch"`},
		{name: "odd width", env: map[string]string{"OUTPUT_WIDTH": "641"}, err: "output width (OUTPUT_WIDTH) 641"},
		{name: "width not a number", env: map[string]string{"OUTPUT_WIDTH": "wide"}, err: `OUTPUT_WIDTH="wide" is not an integer`},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "LOUD"}, err: `LOG_LEVEL "LOUD"`},
		{name: "livekit without credentials", args: []string{"--room-url", "ws://127.0.0.1:7880"}, err: "--room-url needs --token"},
		{name: "whip and livekit", args: []string{"--room-url", "ws://x", "--token", "t", "--whip-listen", ":1"}, err: "exclusive"},
		{name: "unknown flag", args: []string{"--nope"}, err: "flag provided but not defined"},
		{name: "stray argument", args: []string{"extra"}, err: `unexpected argument "extra"`},
		{name: "demo too short", args: []string{"--demo-duration", "2s"}, err: "demo-duration 2s"},
		{name: "bad crf", args: []string{"--crf", "60"}, err: "crf 60"},
		{name: "cross-fade too long", args: []string{"--cross-fade", "2s"}, err: "cross-fade 2s"},
		{name: "upload-all without bucket", args: []string{"--upload-all"}, err: "without S3_BUCKET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--env-file", ""}, c.args...)
			cfg, err := ParseArgs(args, mapEnv(c.env), io.Discard)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrConfig) {
					t.Fatalf("err %v, want ErrConfig containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

func TestDotEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, ".env")
	content := "# prototype .env\nS3_BUCKET=from-file\nexport OUTPUT_WIDTH=640\nRECORDINGS_DIR=\"/from file\"\nLOG_LEVEL=WARN # quiet\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Variables already set win over the file.
	cfg, err := ParseArgs([]string{"--env-file", file}, mapEnv(map[string]string{"S3_BUCKET": "from-env"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.S3.Bucket != "from-env" || cfg.Width != 640 || cfg.RecordingsDir != "/from file" || cfg.LogLevel != slog.LevelWarn {
		t.Fatalf("bucket %q width %d dir %q level %v", cfg.S3.Bucket, cfg.Width, cfg.RecordingsDir, cfg.LogLevel)
	}
	// A missing file is fine; a directory in its place is not.
	if _, err := ParseArgs([]string{"--env-file", filepath.Join(dir, "missing")}, noEnv, io.Discard); err != nil {
		t.Fatalf("missing env file: %v", err)
	}
	if _, err := ParseArgs([]string{"--env-file=" + dir}, noEnv, io.Discard); !errors.Is(err, ErrConfig) {
		t.Fatalf("env file is a directory: %v, want ErrConfig", err)
	}
}

// TestSecretsNotLogged checks that the configuration's log values leave
// credentials out.
func TestSecretsNotLogged(t *testing.T) {
	secrets := []string{"AKIDSECRETVALUE", "wJalrXUtnFEMI/K7MDENG", "lk-token-value", "lk-api-secret", "urlpass", "urltok", "cdnsig"}
	c := Config{
		S3: S3Config{
			AccessKeyID: secrets[0], SecretAccessKey: secrets[1], Bucket: "b",
			Endpoint: "http://user:" + secrets[4] + "@127.0.0.1:7070", BaseCDNURL: "https://cdn.example/p?sig=" + secrets[6],
		},
		LiveKit: LiveKitConfig{URL: "ws://x/rtc?access_token=" + secrets[5], Token: secrets[2], APIKey: "key", APISecret: secrets[3]},
	}
	var b strings.Builder
	for _, json := range []bool{false, true} {
		NewLogger(&b, slog.LevelDebug, json).Info("starting", "s3", c.S3, "livekit", c.LiveKit)
	}
	for _, s := range secrets {
		if strings.Contains(b.String(), s) {
			t.Errorf("log contains secret %q: %s", s, b.String())
		}
	}
	if !strings.Contains(b.String(), "bucket=b") || !strings.Contains(b.String(), `"bucket":"b"`) {
		t.Errorf("log lacks the bucket: %s", b.String())
	}
}

// FuzzParseArgs feeds arbitrary environment values and flag values: the
// result is a valid configuration or an error wrapping ErrConfig, never a
// panic.
func FuzzParseArgs(f *testing.F) {
	f.Add("1280", "720", "columns", "INFO", "30s")
	f.Add("641", "x", "diagonal", "LOUD", "-1s")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, width, height, layout, level, idle string) {
		env := mapEnv(map[string]string{"OUTPUT_WIDTH": width, "OUTPUT_HEIGHT": height, "LOG_LEVEL": level})
		c, err := ParseArgs([]string{"--env-file", "", "--layout", layout, "--idle-timeout", idle}, env, io.Discard)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			return
		}
		if c.Width%2 != 0 || c.Height%2 != 0 || c.Width < minOutputSize || c.Height > maxOutputSize || c.IdleTimeout <= 0 {
			t.Fatalf("accepted invalid config %+v", c)
		}
	})
}

// redactCases are shared by the table test and the fuzz seeds.
var redactCases = []struct{ in, out string }{
	{"", ""},
	{"https://cdn.example/base/", "https://cdn.example/base/"},
	{"http://user:pass@127.0.0.1:7070", "http://REDACTED@127.0.0.1:7070"},
	{"https://cdn.example/p?X-Amz-Signature=abc&k=v#frag", "https://cdn.example/p?REDACTED"},
	{"ws://127.0.0.1:7880?access_token=tok", "ws://127.0.0.1:7880?REDACTED"},
	{"not a url with secret", "REDACTED-URL"},
	{"http://[::1", "REDACTED-URL"},
	{"mailto:secret@example.com", "REDACTED-URL"},
}

func TestRedactURL(t *testing.T) {
	for _, tc := range redactCases {
		if got := RedactURL(tc.in); got != tc.out {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.out)
		}
	}
}

// FuzzRedactURL: the password, the query and the fragment of a URL never
// survive redaction.
func FuzzRedactURL(f *testing.F) {
	for _, tc := range redactCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := RedactURL(raw)
		u, err := url.Parse(raw)
		if err != nil {
			if raw != "" && got != "REDACTED-URL" {
				t.Fatalf("unparseable %q gave %q", raw, got)
			}
			return
		}
		for _, secret := range []string{u.RawQuery, u.Fragment, func() string { p, _ := u.User.Password(); return p }(), u.User.Username()} {
			if len(secret) >= 4 && secret != "REDACTED" && strings.Contains(got, secret) && !strings.Contains(u.Host+u.Path+u.Scheme, secret) {
				t.Fatalf("RedactURL(%q) = %q keeps %q", raw, got, secret)
			}
		}
	})
}

// dotEnvCases are malformed files: the error names the line and never
// holds the secret.
var dotEnvCases = []struct{ content, line string }{
	{"A=1\nS3CRET-VALUE-1\n", "line 2"},
	{"A=1\nBAD-NAME=S3CRET-VALUE-2\n", "line 2"},
	{"# c\nA=\"S3CRET-VALUE-3\nB=2\n", "line 2"},
	{"WHIP_TOKEN='S3CRET-VALUE-4\n", "line 1"},
}

func TestDotEnvErrorHidesValues(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range dotEnvCases {
		file := filepath.Join(dir, fmt.Sprintf("env%d", i))
		if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ParseArgs([]string{"--env-file", file}, noEnv, io.Discard)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.line) || strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("%q: err %v, want ErrConfig naming %s without the value", tc.content, err, tc.line)
		}
	}
}

// FuzzCheckDotEnv: the error is one of the fixed reasons with a line
// number, whatever the file holds.
func FuzzCheckDotEnv(f *testing.F) {
	for _, tc := range dotEnvCases {
		f.Add(tc.content)
	}
	f.Add("A=1\nexport B=\"x\\\"y\"\n")
	re := regexp.MustCompile(`^line [0-9]+: (` + regexp.QuoteMeta(errEnvName.Error()) + `|` +
		regexp.QuoteMeta(errEnvNoEquals.Error()) + `|` + regexp.QuoteMeta(errEnvQuote.Error()) + `)$`)
	f.Fuzz(func(t *testing.T, content string) {
		err := checkDotEnv(content)
		if err != nil && !re.MatchString(err.Error()) {
			t.Fatalf("error %q", err)
		}
	})
}

// TestSecretFlagWarning: a secret on the command line is accepted with a
// warning that does not repeat it.
func TestSecretFlagWarning(t *testing.T) {
	var usage strings.Builder
	const tok = "flag-token-0123456789"
	if _, err := ParseArgs([]string{"--env-file", "", "--whip-listen", "127.0.0.1:0", "--whip-token", tok}, noEnv, &usage); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(usage.String(), "set WHIP_TOKEN in the environment") || strings.Contains(usage.String(), tok) {
		t.Errorf("usage output %q", usage.String())
	}
}

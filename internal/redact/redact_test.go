package redact

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

var cases = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"plain https", "https://s3.example.com/bucket", "https://s3.example.com/bucket"},
	{"https query", "https://cdn.example.com/x.mp4?X-Amz-Signature=abc", "https://cdn.example.com/x.mp4?REDACTED"},
	{"https user", "https://alice:secret@example.com/", "https://REDACTED@example.com/"},
	{"fragment", "https://example.com/#tok", "https://example.com/"},
	{"rtmp key", "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-1234", "rtmp://a.rtmp.youtube.com/live2/REDACTED"},
	{"rtmps key and query", "rtmps://live.example.com:443/app/key?sig=1", "rtmps://live.example.com:443/app/REDACTED?REDACTED"},
	{"rtmp app only", "rtmp://127.0.0.1:1935/live", "rtmp://127.0.0.1:1935/live"},
	{"rtmp nested key", "rtmp://h/app/inst/key", "rtmp://h/app/REDACTED"},
	{"rtmp trailing slash", "rtmp://h/app/", "rtmp://h/app/REDACTED"},
	{"rtmp upper scheme", "RTMP://h/app/key", "rtmp://h/app/REDACTED"},
	{"rtmp escaped slash", "rtmp://h/a%2Fkey", "rtmp://h/a/REDACTED"},
	{"not a url", "key-only", Invalid},
	{"no host", "rtmp:///app/key", Invalid},
	{"opaque", "mailto:x@y", Invalid},
}

func TestStreamTarget(t *testing.T) {
	for in, want := range map[string]string{
		"http://example.com/app/key": "http://example.com/app/REDACTED",
		"rtmp://h/live/key?x=1":      "rtmp://h/live/REDACTED?REDACTED",
		"https://example.com/bucket": "https://example.com/bucket",
		"srt://h:9000/app/key/more":  "srt://h:9000/app/REDACTED",
		"key":                        Invalid,
	} {
		if got := StreamTarget(in); got != want {
			t.Errorf("StreamTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestURL(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := URL(c.in); got != c.want {
				t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func FuzzURL(f *testing.F) {
	for _, c := range cases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := URL(raw)
		if raw == "" {
			if got != "" {
				t.Fatalf("URL(\"\") = %q", got)
			}
			return
		}
		if got == Invalid {
			return
		}
		// What may hold a secret is gone or replaced.
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("URL(%q) = %q does not parse: %v", raw, got, err)
		}
		if u.User != nil && u.User.String() != Mark {
			t.Fatalf("URL(%q) = %q keeps user info", raw, got)
		}
		if u.RawQuery != "" && u.RawQuery != Mark || u.Fragment != "" {
			t.Fatalf("URL(%q) = %q keeps a query or fragment", raw, got)
		}
		if IsRTMP(u.Scheme) {
			_, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
			if key != "" && key != Mark {
				t.Fatalf("URL(%q) = %q keeps the stream key %q", raw, got, key)
			}
		}
		if st := StreamTarget(raw); st != Invalid {
			su, err := url.Parse(st)
			if err != nil {
				t.Fatalf("StreamTarget(%q) = %q does not parse", raw, st)
			}
			_, key, _ := strings.Cut(strings.TrimPrefix(su.Path, "/"), "/")
			if key != "" && key != Mark || su.RawQuery != "" && su.RawQuery != Mark {
				t.Fatalf("StreamTarget(%q) = %q keeps a key or query", raw, st)
			}
		}
		// Redacting twice changes nothing more: the output is stable.
		if again := URL(got); again != got {
			t.Fatalf("URL(URL(%q)) = %q, not %q", raw, again, got)
		}
	})
}

var texts = []struct{ in, want string }{
	{"Connection to tcp://127.0.0.1:1935?tcp_nodelay=1 failed: Connection refused", "Connection to tcp://127.0.0.1:1935?REDACTED failed: Connection refused"},
	{"Proto = rtmp, path = /live/abc123, app = live, fname = abc123", "Proto = rtmp, path = REDACTED, app = live, fname = REDACTED"},
	{"Opening 'rtmp://h/live/k3y' for writing", "Opening 'rtmp://h/live/REDACTED' for writing"},
	{"Server error: Already publishing", "Server error: Already publishing"},
	{"x264 [info]: frame I:3 Avg QP:20.1", "x264 [info]: frame I:3 Avg QP:20.1"},
}

func TestText(t *testing.T) {
	for _, c := range texts {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzText: a stream URL or key field planted in any text does not
// survive, and redacting twice changes nothing more.
func FuzzText(f *testing.F) {
	for _, c := range texts {
		f.Add(c.in, "s3cr3tkey")
	}
	f.Fuzz(func(t *testing.T, text, key string) {
		// A key as services issue them: printable, no spaces or URL
		// delimiters.
		if len(key) < 6 || strings.ContainsAny(key, ",'\"<>/?#%@:=") || strings.ContainsFunc(key, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) ||
			strings.Contains(Mark, key) || strings.Contains(text, key) {
			return
		}
		for _, planted := range []string{
			text + " rtmp://example.com/live/" + key + " " + text,
			text + " fname = " + key,
			text + " 'rtmps://h/app/" + key + "?x=1'",
		} {
			got := Text(planted)
			if strings.Contains(got, key) {
				t.Fatalf("Text(%q) = %q keeps %q", planted, got, key)
			}
			if again := Text(got); again != got {
				t.Fatalf("Text(Text(%q)) = %q, not %q", planted, again, got)
			}
		}
	})
}

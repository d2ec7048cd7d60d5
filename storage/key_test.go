package storage_test

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/storagetest"
)

func TestValidKey(t *testing.T) {
	for _, key := range storagetest.HostileKeys {
		if err := storage.ValidKey(key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("ValidKey(%q) = %v, want storage.ErrInvalidKey", key, err)
		}
	}
	for _, key := range append([]string{"a", "s/id_recording.mp4"}, storagetest.OddKeys...) {
		if err := storage.ValidKey(key); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", key, err)
		}
	}
}

func TestValidKeyErrorIsShort(t *testing.T) {
	err := storage.ValidKey(strings.Repeat("x", 300) + "/y")
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error for a long segment should be short, got %q", err)
	}
}

func TestJoinURL(t *testing.T) {
	for _, tc := range []struct {
		name, base, key, want string
	}{
		{"plain", "https://cdn.example.com", "s/a.mp4", "https://cdn.example.com/s/a.mp4"},
		{"trailing slash", "https://cdn.example.com/rec/", "s/a.mp4", "https://cdn.example.com/rec/s/a.mp4"},
		{"escaped", "https://cdn.example.com", "a b/c#d?e%f", "https://cdn.example.com/a%20b/c%23d%3Fe%25f"},
		{"unicode", "http://127.0.0.1:9000/bucket", "é/視.mp4", "http://127.0.0.1:9000/bucket/%C3%A9/%E8%A6%96.mp4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := storage.JoinURL(tc.base, tc.key)
			if err != nil || got != tc.want {
				t.Fatalf("JoinURL(%q, %q) = %q, %v; want %q", tc.base, tc.key, got, err, tc.want)
			}
		})
	}
	for _, base := range []string{"", "cdn.example.com", "/relative", "::"} {
		if _, err := storage.JoinURL(base, "k"); err == nil {
			t.Errorf("JoinURL(%q) accepted a base that is not an absolute URL", base)
		}
	}
}

// FuzzValidKey checks that every accepted key is confined (a clean relative
// path that stays inside its root), within the limits, and that its URL
// form decodes back to the key.
func FuzzValidKey(f *testing.F) {
	for _, k := range storagetest.HostileKeys {
		f.Add(k)
	}
	for _, k := range storagetest.OddKeys {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if storage.ValidKey(key) != nil {
			return
		}
		if len(key) == 0 || len(key) > storage.MaxKeyLen || !utf8.ValidString(key) {
			t.Fatalf("accepted %q outside the length or UTF-8 rules", key)
		}
		if path.IsAbs(key) || path.Clean(key) != key || key == ".." || strings.HasPrefix(key, "../") {
			t.Fatalf("accepted %q, which is not a clean relative path", key)
		}
		if strings.ContainsAny(key, "\x00\\") {
			t.Fatalf("accepted %q with NUL or backslash", key)
		}
		u, err := storage.JoinURL("https://cdn.example.com/base", key)
		if err != nil {
			t.Fatalf("JoinURL(%q): %v", key, err)
		}
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("JoinURL(%q) = %q, not a URL: %v", key, u, err)
		}
		if parsed.Path != "/base/"+key || parsed.RawQuery != "" || parsed.Fragment != "" {
			t.Fatalf("JoinURL(%q) = %q decodes to path %q query %q fragment %q", key, u, parsed.Path, parsed.RawQuery, parsed.Fragment)
		}
	})
}

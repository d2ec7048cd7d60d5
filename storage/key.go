package storage

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Key limits shared by every backend, so that a key valid for one store is
// valid for all of them.
const (
	// MaxKeyLen is the longest key in bytes (S3's limit).
	MaxKeyLen = 1024
	// MaxSegmentLen is the longest slash-separated key segment in bytes
	// (NAME_MAX of common file systems).
	MaxSegmentLen = 255
)

// ValidKey reports whether key is a valid object key, and why not. A valid
// key is 1 to MaxKeyLen bytes of UTF-8, made of slash-separated segments
// that are not empty, not "." or "..", at most MaxSegmentLen bytes long and
// free of NUL, other control characters and backslashes. So a key never
// starts or ends with "/" and never names a place outside the store. The
// error wraps ErrInvalidKey.
func ValidKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key is %d bytes, longer than %d", ErrInvalidKey, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key %q is not valid UTF-8", ErrInvalidKey, key)
	}
	for _, c := range key {
		switch {
		case c == 0:
			return fmt.Errorf("%w: key %q contains a NUL byte", ErrInvalidKey, key)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: key %q contains a control character", ErrInvalidKey, key)
		case c == '\\':
			return fmt.Errorf("%w: key %q contains a backslash", ErrInvalidKey, key)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: key %q has an empty segment (leading, trailing or double slash)", ErrInvalidKey, key)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: key %q has a %q segment", ErrInvalidKey, key, seg)
		case len(seg) > MaxSegmentLen:
			return fmt.Errorf("%w: key %q has a segment of %d bytes, longer than %d", ErrInvalidKey, shorten(key), len(seg), MaxSegmentLen)
		}
	}
	return nil
}

// shorten keeps error text readable for very long keys.
func shorten(key string) string {
	const keep = 64
	if len(key) <= keep {
		return key
	}
	// Cut on a rune boundary.
	cut := keep
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	return key[:cut] + "…"
}

// JoinURL returns base followed by key, each key segment escaped for a URL
// path, with exactly one slash between them. base must be an absolute URL.
func JoinURL(base, key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" && u.Scheme != "file" {
		return "", fmt.Errorf("storage: base URL %q is not an absolute URL", base)
	}
	return strings.TrimSuffix(base, "/") + "/" + EscapeKey(key), nil
}

// EscapeKey escapes each segment of key for use in a URL path, keeping the
// slashes between segments.
func EscapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

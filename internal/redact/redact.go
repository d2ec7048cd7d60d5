// Package redact makes URLs fit for logs and errors: whatever in a URL may
// be a secret (user info, query, fragment, and an RTMP URL's stream key)
// is replaced before the URL is printed.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mark replaces a redacted part.
const Mark = "REDACTED"

// Invalid replaces a whole value that does not parse as an absolute URL:
// it cannot be told apart from a secret.
const Invalid = "REDACTED-URL"

// URL returns raw fit for logs: user info and query become [Mark] and the
// fragment is dropped (they may hold passwords, tokens or signatures). For
// rtmp, rtmps, rtmpt and rtmpe URLs the path after the application (the
// first path element) is the stream key and becomes [Mark] too:
// rtmp://host/live/KEY is printed rtmp://host/live/REDACTED. A value that
// does not parse as an absolute URL becomes [Invalid]. Empty stays empty.
func URL(raw string) string { return redactURL(raw, false) }

// StreamTarget is [URL] for a value meant as a stream target: the path
// after its first element is taken for a key whatever the scheme (a
// mistyped scheme must not print the key).
func StreamTarget(raw string) string { return redactURL(raw, true) }

func redactURL(raw string, keyed bool) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return Invalid
	}
	if u.User != nil {
		u.User = url.User(Mark)
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = Mark, false
	}
	u.Fragment, u.RawFragment = "", ""
	if keyed || IsRTMP(u.Scheme) {
		app, rest, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if rest != "" || strings.HasSuffix(u.Path, "/") && app != "" {
			u.Path = "/" + app + "/" + Mark
		} else if app != "" {
			u.Path = "/" + app
		}
		u.RawPath = ""
		// A percent-encoded application name is printed as its letters;
		// never as the original escape (which could carry the key).
		if strings.Contains(u.Path, "%") {
			u.Path = "/" + Mark
		}
	}
	return u.String()
}

// IsRTMP reports whether scheme is one of the RTMP family's (case
// insensitive).
func IsRTMP(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "rtmp", "rtmps", "rtmpt", "rtmpe", "rtmpte", "rtmpts":
		return true
	}
	return false
}

var (
	// urlInText is a URL inside free text.
	urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s'"<>]+`)
	// keyField is a "name = value" field of FFmpeg's RTMP client that
	// holds the stream key (its debug line "path = /app/KEY, app = app,
	// fname = KEY"), or a URL.
	keyField = regexp.MustCompile(`(?i)\b(path|fname|playpath|tcurl|swfurl|pageurl|stream)(\s*[=:]\s*)([^\s,]+)`)
)

// Text returns a line of free text (a library's log message) with every
// URL in it redacted as [StreamTarget] and the values of fields that name
// a stream key (path, fname, playpath, tcurl and the like) replaced by
// [Mark].
func Text(s string) string {
	s = urlInText.ReplaceAllStringFunc(s, StreamTarget)
	return keyField.ReplaceAllString(s, "${1}${2}"+Mark)
}

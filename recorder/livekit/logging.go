package livekit

import (
	"context"
	"log/slog"
	"regexp"
	"strings"

	"github.com/go-logr/logr"
	protologger "github.com/livekit/protocol/logger"
)

// redacted replaces a log value that holds a secret.
const redacted = "[redacted]"

// jwtPattern matches a JSON Web Token (the server's refreshed tokens,
// which the bot does not know in advance).
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// sdkLogger routes the SDK's logs to l under the group "lksdk", with every
// value that contains one of secrets or a JWT (the SDK logs its join
// attempts with the access token) replaced by "[redacted]".
func sdkLogger(l *slog.Logger, secrets ...string) protologger.Logger {
	h := &redactHandler{inner: l.WithGroup("lksdk").Handler()}
	for _, s := range secrets {
		if s != "" {
			h.secrets = append(h.secrets, s)
		}
	}
	return protologger.LogRLogger(logr.FromSlogHandler(h))
}

// redactHandler is a slog.Handler that redacts secrets from messages and
// attribute values before passing records on.
type redactHandler struct {
	inner   slog.Handler
	secrets []string
}

// Enabled reports whether the inner handler handles level.
func (h *redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle redacts r and passes it on.
func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.redactString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// WithAttrs returns a handler with redacted attrs.
func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redactAttr(a)
	}
	return &redactHandler{inner: h.inner.WithAttrs(red), secrets: h.secrets}
}

// WithGroup returns a handler that opens a group.
func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(name), secrets: h.secrets}
}

// redactAttr redacts an attribute's value, descending into groups.
func (h *redactHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		group := v.Group()
		red := make([]any, len(group))
		for i, g := range group {
			red[i] = h.redactAttr(g)
		}
		return slog.Group(a.Key, red...)
	}
	if h.leaks(v.String()) {
		return slog.String(a.Key, redacted)
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactString redacts every secret in s.
func (h *redactHandler) redactString(s string) string {
	for _, sec := range h.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return jwtPattern.ReplaceAllString(s, redacted)
}

// leaks reports whether s contains a secret.
func (h *redactHandler) leaks(s string) bool {
	for _, sec := range h.secrets {
		if strings.Contains(s, sec) {
			return true
		}
	}
	return jwtPattern.MatchString(s)
}

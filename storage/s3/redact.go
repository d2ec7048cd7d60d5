package s3

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"
)

// redacted replaces secrets in logs and errors.
const redacted = "[REDACTED]"

// minSecretLen is the shortest credential redacted by value: replacing
// shorter strings would garble every message without protecting anything.
const minSecretLen = 4

// Patterns of signed material in SDK messages: request headers dumped by
// aws.LogRequest, and presigned query parameters.
var (
	headerPattern = regexp.MustCompile(`(?im)^((?:authorization|x-amz-security-token|x-amz-server-side-encryption-customer-key(?:-md5)?)\s*:\s*)[^\r\n]*`)
	paramPattern  = regexp.MustCompile(`(?i)((?:X-Amz-Credential|X-Amz-Signature|X-Amz-Security-Token|Credential|Signature)=)[^&\s,"]*`)
)

// redactor removes credentials from text: every credential the store has
// used, plus the header and query parameter values that carry signatures.
type redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// add registers secrets to redact.
func (r *redactor) add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		for _, known := range r.secrets {
			if known == s {
				continue next
			}
		}
		r.secrets = append(r.secrets, s)
	}
}

// redact returns s without secrets.
func (r *redactor) redact(s string) string {
	s = headerPattern.ReplaceAllString(s, "${1}"+redacted)
	s = paramPattern.ReplaceAllString(s, "${1}"+redacted)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// recordingProvider registers every credential it hands out with the
// redactor, so that rotated credentials are redacted too.
type recordingProvider struct {
	inner aws.CredentialsProvider
	red   *redactor
}

func (p recordingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.inner.Retrieve(ctx)
	if err == nil {
		p.red.add(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	}
	return c, err
}

// sdkLogger sends the SDK's messages to slog, redacted. The SDK hands it
// each operation's context through WithContext.
type sdkLogger struct {
	log *slog.Logger
	red *redactor
	ctx context.Context
}

var (
	_ logging.Logger        = sdkLogger{}
	_ logging.ContextLogger = sdkLogger{}
)

func (l sdkLogger) WithContext(ctx context.Context) logging.Logger {
	l.ctx = ctx
	return l
}

func (l sdkLogger) Logf(class logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if class == logging.Warn {
		level = slog.LevelWarn
	}
	if l.ctx == nil {
		// No operation context: let slog supply its default.
		if level == slog.LevelWarn {
			l.log.Warn("s3: sdk", "msg", l.red.redact(fmt.Sprintf(format, v...)))
		} else {
			l.log.Debug("s3: sdk", "msg", l.red.redact(fmt.Sprintf(format, v...)))
		}
		return
	}
	if l.log.Enabled(l.ctx, level) {
		l.log.Log(l.ctx, level, "s3: sdk", "msg", l.red.redact(fmt.Sprintf(format, v...)))
	}
}

// redactedError carries an error whose text has been redacted; errors.Is
// and errors.As still see the sentinel and the original error.
type redactedError struct {
	msg  string
	errs []error
}

func (e *redactedError) Error() string   { return e.msg }
func (e *redactedError) Unwrap() []error { return e.errs }

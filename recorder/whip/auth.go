package whip

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinTokenBytes is the shortest shared [Config.Token] accepted: 16 bytes
// (128 bits when random) keep guessing out of reach.
const MinTokenBytes = 16

// Errors of the configuration and of token issuing.
var (
	// ErrConfig is wrapped by every configuration error: a short token,
	// a "*" origin, an endpoint on a non-loopback address without
	// authentication.
	ErrConfig = errors.New("whip: bad configuration")
	// ErrInvalidIdentity is wrapped when an ID or display name is
	// empty (IDs only), too long, not UTF-8 or holds control characters.
	ErrInvalidIdentity = errors.New("whip: invalid participant ID or name")
)

// identity is who a token stands for.
type identity struct {
	id, name string
}

// digest is the SHA-256 of a secret; secrets are kept and compared only
// as digests, so comparisons take the same time whatever the secret's
// length or content.
type digest [sha256.Size]byte

func digestOf(s string) digest { return sha256.Sum256([]byte(s)) }

// equal compares two digests in constant time.
func (d digest) equal(o digest) bool { return subtle.ConstantTimeCompare(d[:], o[:]) == 1 }

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (RFC 6750: the scheme is case-insensitive, one space or more
// before the token, no space inside it); ok is false for any other
// header, an empty one included.
func bearerToken(header string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(rest, " ")
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", false
	}
	return token, true
}

// newToken returns a random per-participant token: "wt_" and 32 random
// bytes in unpadded base64url.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "wt_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// checkIdentity validates a participant ID (required unless optional)
// and a display name against the limits.
func checkIdentity(id, name string, lim Limits, idOptional bool) error {
	if id == "" && !idOptional {
		return fmt.Errorf("%w: empty participant ID", ErrInvalidIdentity)
	}
	if err := checkText("participant ID", id, lim.MaxIDBytes); err != nil {
		return err
	}
	return checkText("display name", name, lim.MaxNameBytes)
}

// checkText refuses a value longer than maxBytes, not valid UTF-8, or
// holding control characters (line breaks would forge log lines and
// labels). The value itself is not quoted when invalid: it may be huge.
func checkText(what, v string, maxBytes int) error {
	switch {
	case len(v) > maxBytes:
		return fmt.Errorf("%w: %s of %d bytes is longer than the limit of %d", ErrInvalidIdentity, what, len(v), maxBytes)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidIdentity, what)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: %s holds control characters", ErrInvalidIdentity, what)
	}
	return nil
}

// IssueToken returns a new per-participant token for participant id shown
// as name: a publisher presenting it ("Authorization: Bearer <token>")
// publishes as that participant, whatever its query says. The host hands
// it to that participant only; it stays valid until [Handler.RevokeToken]
// or the handler is dropped, so the participant can leave and come back.
// Issuing a token makes tokens required from then on (as
// [Config.RequireToken]). Tokens are kept as SHA-256 digests and never
// logged.
func (h *Handler) IssueToken(id, name string) (string, error) {
	if err := checkIdentity(id, name, h.lim, false); err != nil {
		return "", err
	}
	tok := newToken()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokens[digestOf(tok)] = identity{id: id, name: name}
	h.requireToken = true
	return tok, nil
}

// RevokeToken makes a token issued by [Handler.IssueToken] invalid for
// new publications; a publication it started goes on until it ends. It
// reports whether the token was known.
func (h *Handler) RevokeToken(token string) bool {
	d := digestOf(token)
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.tokens[d]
	delete(h.tokens, d)
	return ok
}

// authMode says how a request was admitted.
type authMode int

const (
	authAnonymous   authMode = iota // no token needed; ?id= and ?name= are used
	authShared                      // the shared Config.Token; IDs are generated
	authParticipant                 // an issued token binds ID and name
	authHost                        // Config.Authenticate decided
)

// errNoToken and errBadToken are the two 401 answers.
var (
	errNoToken  = errors.New("whip: this endpoint needs a token: send \"Authorization: Bearer <token>\"")
	errBadToken = errors.New("whip: unauthorized: the bearer token is not valid")
)

// authenticate admits a request by its token: an issued per-participant
// token, then the shared token; without one, only when no token is
// required. It never returns the token in an error.
func (h *Handler) authenticate(r *http.Request) (identity, authMode, error) {
	hdr := r.Header.Get("Authorization")
	tok, hasTok := bearerToken(hdr)
	h.mu.Lock()
	required := h.requireToken
	var who identity
	found := false
	if hasTok {
		// A map lookup by digest: the time it takes depends on the
		// digest, which tells an attacker nothing about the token.
		who, found = h.tokens[digestOf(tok)]
	}
	h.mu.Unlock()
	switch {
	case found:
		return who, authParticipant, nil
	case hasTok && h.sharedToken != nil && digestOf(tok).equal(*h.sharedToken):
		return identity{}, authShared, nil
	case hdr != "":
		return identity{}, 0, errBadToken
	case required:
		return identity{}, 0, errNoToken
	}
	return identity{}, authAnonymous, nil
}

// checkHost refuses a Host header that names neither this server's
// address nor one of Config.AllowHosts, so that a page whose DNS name was
// rebound to this address cannot reach it: an IP literal must be the
// address the connection arrived on (any loopback address on loopback),
// "localhost" is accepted on loopback. The port is not checked (proxies
// and port maps change it).
func checkHost(hostHeader string, local net.Addr, allow []string) error {
	host := hostHeader
	if h, _, err := net.SplitHostPort(hostHeader); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	for _, a := range allow {
		if strings.EqualFold(a, host) || strings.EqualFold(a, hostHeader) {
			return nil
		}
	}
	var localIP net.IP
	if ta, ok := local.(*net.TCPAddr); ok {
		localIP = ta.IP
	}
	loopback := localIP == nil || localIP.IsLoopback()
	if ip := net.ParseIP(host); ip != nil {
		if localIP == nil || ip.Equal(localIP) || (loopback && ip.IsLoopback()) {
			return nil
		}
	} else if loopback && strings.EqualFold(host, "localhost") {
		return nil
	}
	return fmt.Errorf("whip: Host %q is not an address of this server (a DNS-rebinding page?); a host name must be listed in Config.AllowHosts", truncate(hostHeader, 100))
}

// truncate shortens s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

package service

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// apiKey is a configured key, kept as its SHA-256 (compared in constant
// time, never logged).
type apiKey struct {
	sum      [sha256.Size]byte
	readOnly bool
}

func newAPIKey(k APIKey) apiKey {
	return apiKey{sum: sha256.Sum256([]byte(k.Key)), readOnly: k.ReadOnly}
}

// access is what a request may do.
type access int

const (
	accessNone access = iota
	accessRead
	accessWrite
)

// Cookie login of the web page.
const (
	sessionCookie = "roomtape_session"
	sessionTTL    = 12 * time.Hour
	// csrfHeader must accompany a state-changing request authenticated
	// by the cookie: a cross-site form cannot set it.
	csrfHeader = "X-Roomtape-Csrf"
)

// sessions are the web page's logins: cookie digests → access. mu
// guards m.
type sessions struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]login
}

type login struct {
	access  access
	expires time.Time
}

func newSessions() *sessions { return &sessions{m: map[[sha256.Size]byte]login{}} }

// add returns a new cookie value granting a.
func (ss *sessions) add(a access) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := hex.EncodeToString(b[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := time.Now()
	for k, l := range ss.m { // expire old logins
		if now.After(l.expires) {
			delete(ss.m, k)
		}
	}
	ss.m[sha256.Sum256([]byte(v))] = login{access: a, expires: now.Add(sessionTTL)}
	return v
}

func (ss *sessions) get(v string) access {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	l, ok := ss.m[sha256.Sum256([]byte(v))]
	if !ok || time.Now().After(l.expires) {
		return accessNone
	}
	return l.access
}

// keyAccess is the access of an API key (constant time over every key).
func (s *Service) keyAccess(key string) access {
	sum := sha256.Sum256([]byte(key))
	a := accessNone
	for _, k := range s.apiKeys {
		if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
			if k.readOnly {
				a = max(a, accessRead)
			} else {
				a = accessWrite
			}
		}
	}
	return a
}

// requestAccess is the access of a request: its bearer key, else its
// login cookie (state-changing cookie requests need csrfHeader).
func (s *Service) requestAccess(r *http.Request) (access, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return accessNone, true
		}
		return s.keyAccess(tok), true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return accessNone, false
	}
	a := s.sessions.get(c.Value)
	if a == accessWrite && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(csrfHeader) == "" {
		a = accessRead
	}
	return a, true
}

package whip

import (
	"time"

	"golang.org/x/time/rate"
)

// Defaults of [Limits]. Each bounds what one hostile or broken client can
// make the recorder hold; the measured cost behind each is in README.md.
const (
	// DefaultMaxResources bounds live publications overall (about
	// 0.4 MB each before media flows).
	DefaultMaxResources = 64
	// DefaultMaxResourcesPerClient bounds one client's live publications.
	DefaultMaxResourcesPerClient = 16
	// DefaultMaxParticipants bounds the participants the session records
	// through the handler over its life (each is an entry in session.json
	// and files on disk).
	DefaultMaxParticipants = 256
	// DefaultMaxTracks bounds the tracks one publication records (camera,
	// microphone, screen and its audio, with room to spare).
	DefaultMaxTracks = 6
	// DefaultMaxMediaSections bounds the m-sections of an offer; a
	// browser offers 2-4.
	DefaultMaxMediaSections = 8
	// DefaultMaxNameBytes bounds a display name (UTF-8 bytes).
	DefaultMaxNameBytes = 256
	// DefaultMaxIDBytes bounds a participant ID (UTF-8 bytes).
	DefaultMaxIDBytes = 128
	// DefaultPostRate and DefaultPostBurst are one client's POST rate
	// (per second, token bucket); DefaultTotalPostRate and
	// DefaultTotalPostBurst everyone's together.
	DefaultPostRate       = 5
	DefaultPostBurst      = 20
	DefaultTotalPostRate  = 20
	DefaultTotalPostBurst = 40
	// DefaultMaxConns bounds the open HTTP connections of [Serve];
	// connections beyond are closed at once.
	DefaultMaxConns = 256
	// DefaultReadHeaderTimeout, DefaultReadTimeout, DefaultWriteTimeout
	// and DefaultIdleTimeout are the http.Server timeouts of [Serve]: a
	// request's headers, its whole body, its answer (ICE gathering
	// included, up to 5 s), and a kept-alive idle connection.
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 20 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
)

// Limits bound what clients can make a [Handler] (and [Serve]) hold. A
// client is a per-participant token's participant, otherwise a remote IP
// address (behind a reverse proxy, every client is the proxy). The zero
// value gives the Default limits; a negative count or rate removes that
// limit. Refusals are answered 429 Too Many Requests (with Retry-After)
// for rates and counts, 400 Bad Request for an offer, ID or name beyond
// its limit, each with a message naming the limit.
type Limits struct {
	// MaxResources (optional) defaults to DefaultMaxResources. Each
	// participant has at most one resource, so this also bounds the
	// participants publishing at once.
	MaxResources int
	// MaxResourcesPerClient (optional) defaults to
	// DefaultMaxResourcesPerClient.
	MaxResourcesPerClient int
	// MaxParticipants (optional) defaults to DefaultMaxParticipants.
	MaxParticipants int
	// MaxTracks (optional) defaults to DefaultMaxTracks; an offer that
	// sends more is refused, and tracks beyond it are not recorded.
	MaxTracks int
	// MaxMediaSections (optional) defaults to DefaultMaxMediaSections.
	MaxMediaSections int
	// MaxNameBytes (optional) defaults to DefaultMaxNameBytes.
	MaxNameBytes int
	// MaxIDBytes (optional) defaults to DefaultMaxIDBytes.
	MaxIDBytes int
	// PostRate (optional, POSTs per second) and PostBurst (optional)
	// default to DefaultPostRate and DefaultPostBurst.
	PostRate  float64
	PostBurst int
	// TotalPostRate (optional) and TotalPostBurst (optional) default to
	// DefaultTotalPostRate and DefaultTotalPostBurst.
	TotalPostRate  float64
	TotalPostBurst int
	// MaxConns (optional) defaults to DefaultMaxConns.
	MaxConns int
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout
	// (optional) default to the Default timeouts.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// unlimited stands for a removed count limit.
const unlimited = int(^uint(0) >> 1)

// withDefaults fills the zero fields and turns negative ones into
// "unlimited".
func (l Limits) withDefaults() Limits {
	count := func(v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = unlimited
		}
	}
	count(&l.MaxResources, DefaultMaxResources)
	count(&l.MaxResourcesPerClient, DefaultMaxResourcesPerClient)
	count(&l.MaxParticipants, DefaultMaxParticipants)
	count(&l.MaxTracks, DefaultMaxTracks)
	count(&l.MaxMediaSections, DefaultMaxMediaSections)
	count(&l.MaxNameBytes, DefaultMaxNameBytes)
	count(&l.MaxIDBytes, DefaultMaxIDBytes)
	count(&l.PostBurst, DefaultPostBurst)
	count(&l.TotalPostBurst, DefaultTotalPostBurst)
	count(&l.MaxConns, DefaultMaxConns)
	rateOf := func(v *float64, def float64) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = float64(rate.Inf)
		}
	}
	rateOf(&l.PostRate, DefaultPostRate)
	rateOf(&l.TotalPostRate, DefaultTotalPostRate)
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	dur(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	dur(&l.ReadTimeout, DefaultReadTimeout)
	dur(&l.WriteTimeout, DefaultWriteTimeout)
	dur(&l.IdleTimeout, DefaultIdleTimeout)
	return l
}

// newLimiter returns a token bucket; an unlimited burst with an infinite
// rate never refuses.
func newLimiter(r float64, burst int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(r), burst)
}

// client is one client's state; Handler.mu guards it.
type client struct {
	resources int
	posts     *rate.Limiter
}

// maxIdleClients is how many clients without a resource are remembered
// before the full-bucket ones are forgotten (an idle client's bucket
// refills, so forgetting it changes nothing).
const maxIdleClients = 1024

// clientLocked returns the state of client key; h.mu is held.
func (h *Handler) clientLocked(key string, now time.Time) *client {
	c := h.clients[key]
	if c != nil {
		return c
	}
	if len(h.clients) >= maxIdleClients {
		for k, o := range h.clients {
			if o.resources == 0 && o.posts.TokensAt(now) >= float64(o.posts.Burst()) {
				delete(h.clients, k)
			}
		}
	}
	c = &client{posts: newLimiter(h.lim.PostRate, h.lim.PostBurst)}
	h.clients[key] = c
	return c
}

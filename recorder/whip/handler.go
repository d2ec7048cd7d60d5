package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/pionrec"
)

// Defaults of [Config].
const (
	// DefaultMaxOfferBytes bounds an SDP offer; a browser's is 5-15 KiB.
	DefaultMaxOfferBytes = 256 << 10
	// DefaultConnectTimeout is how long a resource may take to connect
	// after its answer.
	DefaultConnectTimeout = 15 * time.Second
	// DefaultICEDisconnectedTimeout and DefaultICEFailedTimeout (which
	// counts from the disconnection) make a dropped publisher leave about
	// 5 s after its last packet; its leave time is when that is detected.
	DefaultICEDisconnectedTimeout = 2 * time.Second
	DefaultICEFailedTimeout       = 3 * time.Second
	// gatherTimeout bounds ICE candidate gathering before the answer.
	gatherTimeout = 5 * time.Second
)

// ErrUnauthorized can be returned (wrapped) by Config.Authenticate; any
// error it returns is answered 401 Unauthorized.
var ErrUnauthorized = errors.New("whip: unauthorized")

// Config configures a [Handler]. The zero value works.
type Config struct {
	// API (optional) builds the peer connections; defaults to
	// pionrec.NewAPI with ICE restricted to 127.0.0.1 (unless PublicICE)
	// and the Default ICE timeouts.
	API *webrtc.API
	// PublicICE (optional) defaults to false: the default API offers only
	// 127.0.0.1 candidates, matching ListenAndServe's default address.
	// True offers every interface; a host that needs finer control passes
	// its own API built with pionrec.NewAPI and a SettingEngine filter.
	PublicICE bool
	// Authenticate (optional) maps a request (e.g. its bearer token) to a
	// participant ID and display name; an error answers 401. An empty ID
	// is generated, an empty name falls back to ?name=. Defaults to
	// taking ?id= and ?name= from the query.
	Authenticate func(r *http.Request) (id, name string, err error)
	// AllowOrigin (optional) is the CORS Access-Control-Allow-Origin value;
	// defaults to "*".
	AllowOrigin string
	// MaxOfferBytes (optional) defaults to DefaultMaxOfferBytes.
	MaxOfferBytes int64
	// ConnectTimeout (optional) defaults to DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Record (optional) configures the recording of each track; its
	// Session is set to the handler's session.
	Record pionrec.Config
	// Logger (optional) defaults to a logger that discards everything.
	Logger *slog.Logger
}

// Handler is the WHIP endpoint. It is safe for concurrent use.
type Handler struct {
	s   *recorder.Session
	cfg Config
	api *webrtc.API
	log *slog.Logger
	err error // from building the default API

	mu        sync.Mutex
	closed    bool
	resources map[string]*resource
	wg        sync.WaitGroup
}

// NewHandler returns a WHIP endpoint recording into s. Call
// [Handler.Close] to end every publication.
func NewHandler(s *recorder.Session, cfg Config) *Handler {
	h := &Handler{s: s, cfg: cfg, api: cfg.API, log: cfg.Logger, resources: map[string]*resource{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.MaxOfferBytes <= 0 {
		h.cfg.MaxOfferBytes = DefaultMaxOfferBytes
	}
	if h.cfg.ConnectTimeout <= 0 {
		h.cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if h.cfg.AllowOrigin == "" {
		h.cfg.AllowOrigin = "*"
	}
	h.cfg.Record.Session = s
	if h.cfg.Record.Logger == nil {
		h.cfg.Record.Logger = h.log
	}
	if h.api == nil {
		h.api, h.err = pionrec.NewAPI(pionrec.APIConfig{
			LoopbackOnly:           !cfg.PublicICE,
			ICEDisconnectedTimeout: DefaultICEDisconnectedTimeout,
			ICEFailedTimeout:       DefaultICEFailedTimeout,
		})
	}
	return h
}

// resource is one publication.
type resource struct {
	id, participantID, name string
	pc                      *webrtc.PeerConnection
	cancel                  context.CancelFunc // ends the publication's Record calls

	mu        sync.Mutex
	p         *recorder.Participant
	joinErr   error
	joined    chan struct{} // closed when the join was attempted
	joinOnce  sync.Once
	endOnce   sync.Once
	connected bool
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", h.cfg.AllowOrigin)
	hdr.Set("Access-Control-Expose-Headers", "Location, ETag, Accept-Post")
	if h.cfg.AllowOrigin != "*" {
		hdr.Add("Vary", "Origin")
	}
	id, isResource := h.resourceID(r.URL.Path)
	switch {
	case r.Method == http.MethodOptions:
		hdr.Set("Access-Control-Allow-Methods", "POST, DELETE, PATCH, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		hdr.Set("Access-Control-Max-Age", "86400")
		if !isResource {
			hdr.Set("Accept-Post", "application/sdp")
		}
		w.WriteHeader(http.StatusNoContent)
	case isResource && r.Method == http.MethodDelete:
		h.serveDelete(w, id)
	case isResource:
		hdr.Set("Allow", "DELETE, OPTIONS")
		http.Error(w, "whip: trickle ICE and ICE restarts are not supported; only DELETE ends a resource", http.StatusMethodNotAllowed)
	case r.Method == http.MethodPost:
		h.servePost(w, r)
	default:
		hdr.Set("Allow", "POST, OPTIONS")
		http.Error(w, "whip: POST an SDP offer to this endpoint", http.StatusMethodNotAllowed)
	}
}

// resourceID returns the resource a path names, if it names one: its
// last element is the ID of a live resource.
func (h *Handler) resourceID(p string) (string, bool) {
	id := path.Base(p)
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.resources[id]
	if !ok && strings.HasPrefix(id, resourcePrefix) {
		// A former or unknown resource: answered 404 by serveDelete.
		return id, true
	}
	return id, ok
}

// resourcePrefix starts every resource ID, so that unknown resources are
// told apart from the endpoint itself.
const resourcePrefix = "r-"

// serveDelete ends a resource.
func (h *Handler) serveDelete(w http.ResponseWriter, id string) {
	h.mu.Lock()
	res := h.resources[id]
	h.mu.Unlock()
	if res == nil {
		http.Error(w, fmt.Sprintf("whip: no resource %q", id), http.StatusNotFound)
		return
	}
	h.log.Info("whip resource deleted", "resource", id, "participant", res.participantID)
	h.end(res)
	w.WriteHeader(http.StatusOK)
}

// servePost creates a resource from an SDP offer.
func (h *Handler) servePost(w http.ResponseWriter, r *http.Request) {
	if h.err != nil {
		http.Error(w, "whip: "+h.err.Error(), http.StatusInternalServerError)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/sdp" {
		http.Error(w, fmt.Sprintf("whip: Content-Type must be application/sdp, got %q", r.Header.Get("Content-Type")),
			http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxOfferBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("whip: offer larger than %d bytes", h.cfg.MaxOfferBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "whip: read offer: "+err.Error(), http.StatusBadRequest)
		return
	}
	pid, name, err := h.identify(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
		http.Error(w, "whip: unauthorized", http.StatusUnauthorized)
		// The error is not logged: a host's message may quote the token.
		h.log.Info("whip publish refused", "remote", r.RemoteAddr)
		return
	}
	if status, err := checkOffer(body); err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	resID := resourcePrefix + randomID()
	if pid == "" {
		pid = "whip-" + randomID()
	}
	if p, ok := h.s.Participant(pid); ok && p.Present() {
		http.Error(w, fmt.Sprintf("whip: participant %q is already present", pid), http.StatusConflict)
		return
	}
	res, answer, status, err := h.create(r.Context(), resID, pid, name, string(body))
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	h.log.Info("whip resource created", "resource", res.id, "participant", pid, "name", name)
	loc := strings.TrimSuffix(r.URL.Path, "/") + "/" + res.id
	w.Header().Set("Location", loc)
	w.Header().Set("ETag", `"`+res.id+`"`)
	w.Header().Set("Content-Type", "application/sdp")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// identify returns the participant ID and name of a request.
func (h *Handler) identify(r *http.Request) (id, name string, err error) {
	q := r.URL.Query()
	if h.cfg.Authenticate == nil {
		return q.Get("id"), q.Get("name"), nil
	}
	id, name, err = h.cfg.Authenticate(r)
	if err != nil {
		return "", "", err
	}
	if name == "" {
		name = q.Get("name")
	}
	return id, name, nil
}

// checkOffer parses an offer and checks that it carries a codec the
// recorder stores; it returns the HTTP status for a refusal.
func checkOffer(body []byte) (int, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return http.StatusBadRequest, fmt.Errorf("whip: offer is not valid SDP: %w", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return http.StatusBadRequest, errors.New("whip: offer has no media section")
	}
	var seen []string
	for _, md := range sd.MediaDescriptions {
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			_, enc, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			codec, _, _ := strings.Cut(strings.ToLower(enc), "/")
			switch codec {
			case "vp8", "vp9", "h264", "opus":
				return 0, nil
			}
			seen = append(seen, codec)
		}
	}
	return http.StatusNotAcceptable, fmt.Errorf("whip: offer has no supported codec (want VP8, VP9, H.264 or Opus; got %s)",
		strings.Join(dedupe(seen), ", "))
}

// dedupe returns s without repeated values, in first-seen order.
func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// randomID returns 16 random hex digits.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// create sets up a peer connection for an offer and returns the answer
// once ICE gathering completes.
func (h *Handler) create(ctx context.Context, resID, pid, name, offer string) (*resource, string, int, error) {
	pc, err := h.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", http.StatusInternalServerError, fmt.Errorf("whip: peer connection: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	res := &resource{
		id: resID, participantID: pid, name: name, pc: pc,
		cancel: cancel, joined: make(chan struct{}),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		cancel()
		return nil, "", http.StatusServiceUnavailable, errors.Join(errors.New("whip: endpoint closed"), pc.Close())
	}
	h.resources[resID] = res
	h.wg.Add(1)
	h.mu.Unlock()
	fail := func(status int, err error) (*resource, string, int, error) {
		h.end(res)
		return nil, "", status, err
	}

	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		h.log.Debug("whip connection state", "resource", resID, "participant", pid, "state", st)
		switch st {
		case webrtc.PeerConnectionStateConnected:
			res.mu.Lock()
			res.connected = true
			res.mu.Unlock()
			h.join(res)
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			h.log.Info("whip connection ended", "resource", resID, "participant", pid, "state", st)
			go h.end(res)
		}
	})
	pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		h.wg.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.wg.Done()
			p := h.join(res)
			if p == nil {
				return
			}
			if err := pionrec.Record(rctx, p, track, receiver, pc, h.cfg.Record); err != nil {
				h.log.Warn("whip track not recorded", "resource", resID, "participant", pid, "track", track.ID(), "err", err)
			}
		}()
	})

	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(http.StatusBadRequest, fmt.Errorf("whip: offer rejected: %w", err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(http.StatusBadRequest, fmt.Errorf("whip: cannot answer the offer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(http.StatusInternalServerError, fmt.Errorf("whip: set answer: %w", err))
	}
	timer := time.NewTimer(gatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
		return fail(http.StatusInternalServerError, errors.New("whip: ICE gathering timed out"))
	case <-ctx.Done():
		return fail(http.StatusServiceUnavailable, fmt.Errorf("whip: request ended: %w", ctx.Err()))
	}
	time.AfterFunc(h.cfg.ConnectTimeout, func() {
		res.mu.Lock()
		ok := res.connected
		res.mu.Unlock()
		if !ok {
			h.log.Info("whip resource never connected", "resource", resID, "participant", pid)
			h.end(res)
		}
	})
	return res, pc.LocalDescription().SDP, 0, nil
}

// join makes the resource's participant join once; it returns nil if the
// join failed or the resource ended first.
func (h *Handler) join(res *resource) *recorder.Participant {
	res.joinOnce.Do(func() {
		p, err := h.s.Join(res.participantID, res.name)
		res.mu.Lock()
		res.p, res.joinErr = p, err
		res.mu.Unlock()
		close(res.joined)
		if err != nil {
			h.log.Warn("whip participant cannot join", "resource", res.id, "participant", res.participantID, "err", err)
			go h.end(res)
			return
		}
		h.log.Info("whip participant joined", "resource", res.id, "participant", res.participantID, "name", res.name)
	})
	<-res.joined
	res.mu.Lock()
	defer res.mu.Unlock()
	return res.p
}

// end tears a resource down once: the participant leaves, recording stops
// and the peer connection closes.
func (h *Handler) end(res *resource) {
	res.endOnce.Do(func() {
		h.mu.Lock()
		delete(h.resources, res.id)
		h.mu.Unlock()
		defer h.wg.Done()
		// Make a join racing with the end fail rather than join late.
		res.joinOnce.Do(func() { close(res.joined) })
		res.mu.Lock()
		p := res.p
		res.mu.Unlock()
		if p != nil {
			if err := p.Leave(); err != nil {
				h.log.Warn("whip participant leave", "participant", res.participantID, "err", err)
			}
			h.log.Info("whip participant left", "resource", res.id, "participant", res.participantID)
		}
		res.cancel()
		if err := res.pc.Close(); err != nil {
			h.log.Debug("whip close peer connection", "resource", res.id, "err", err)
		}
	})
}

// Close ends every publication (participants leave) and waits until their
// recording has stopped or ctx ends. Later POSTs get 503. It is
// idempotent; it does not close the session.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	all := make([]*resource, 0, len(h.resources))
	for _, r := range h.resources {
		all = append(all, r)
	}
	h.mu.Unlock()
	for _, r := range all {
		h.end(r)
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("whip: close: %w", ctx.Err())
	}
}

// Resources returns the number of live resources.
func (h *Handler) Resources() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.resources)
}

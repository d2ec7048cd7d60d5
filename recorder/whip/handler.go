package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/roomtape/roomtape/recorder"
	"github.com/roomtape/roomtape/recorder/pionrec"
	"github.com/roomtape/roomtape/timeline/manifest"
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

// Config configures a [Handler]. The zero value works: it admits anyone
// who can reach it, which [Serve] allows on loopback addresses only.
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
	// Token (optional) is a shared secret of at least MinTokenBytes: a
	// publisher must send "Authorization: Bearer <Token>" (RFC 9725
	// section 4.5). Its participant ID is generated per publication
	// (?id= is refused) and ?name= is its display name. Per-participant
	// tokens from [Handler.IssueToken] are accepted beside it.
	Token string
	// RequireToken (optional) refuses publishers without a valid token
	// even when Token is empty, for a host that only issues
	// per-participant tokens.
	RequireToken bool
	// Authenticate (optional) replaces the token check: it maps a request
	// (e.g. its bearer token) to a participant ID and display name; an
	// error answers 401. An empty ID is generated, an empty name falls
	// back to ?name=.
	Authenticate func(r *http.Request) (id, name string, err error)
	// AllowOrigins (optional) are the origins ("https://app.example")
	// whose pages may publish; the default is none: a request carrying an
	// Origin header (every browser POST) not in the list is refused 403.
	// "*" is refused by NewHandler.
	AllowOrigins []string
	// AllowHosts (optional) are host names (e.g. "rec.example.com") a
	// request's Host header may carry besides this server's own IP
	// address (and "localhost" on loopback); others get 421, which stops
	// DNS-rebinding pages.
	AllowHosts []string
	// Limits (optional) bound resources, rates and sizes; the zero value
	// gives the Default limits.
	Limits Limits
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

// Handler is the WHIP endpoint. It is safe for concurrent use: mu guards
// the maps, counters and flags below it; it is never held while calling
// into the session, pion or user code (Authenticate), and resource.mu is
// never taken while holding it.
type Handler struct {
	s           *recorder.Session
	cfg         Config
	lim         Limits
	api         *webrtc.API
	log         *slog.Logger
	err         error   // a configuration error, or from building the default API
	sharedToken *digest // of Config.Token
	origins     map[string]bool
	total       *rate.Limiter // every client's POSTs

	mu            sync.Mutex
	closed        bool
	requireToken  bool
	tokens        map[digest]identity  // issued per-participant tokens
	resources     map[string]*resource // by resource ID
	byParticipant map[string]*resource // the live resource of each participant
	admitted      map[string]bool      // participants ever admitted (MaxParticipants)
	clients       map[string]*client   // by remote IP
	wg            sync.WaitGroup
}

// NewHandler returns a WHIP endpoint recording into s. Call
// [Handler.Close] to end every publication. A configuration error (a
// short Token, a "*" origin) makes every POST fail with 500 and [Serve]
// return it.
func NewHandler(s *recorder.Session, cfg Config) *Handler {
	h := &Handler{
		s: s, cfg: cfg, api: cfg.API, log: cfg.Logger, lim: cfg.Limits.withDefaults(),
		origins: map[string]bool{}, tokens: map[digest]identity{}, resources: map[string]*resource{},
		byParticipant: map[string]*resource{}, admitted: map[string]bool{}, clients: map[string]*client{},
		requireToken: cfg.RequireToken || cfg.Token != "",
	}
	h.total = newLimiter(h.lim.TotalPostRate, h.lim.TotalPostBurst)
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.MaxOfferBytes <= 0 {
		h.cfg.MaxOfferBytes = DefaultMaxOfferBytes
	}
	if h.cfg.ConnectTimeout <= 0 {
		h.cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Token != "" {
		if len(cfg.Token) < MinTokenBytes {
			h.err = fmt.Errorf("%w: the token is %d bytes, want at least %d", ErrConfig, len(cfg.Token), MinTokenBytes)
		}
		d := digestOf(cfg.Token)
		h.sharedToken = &d
	}
	for _, o := range cfg.AllowOrigins {
		if o == "*" || o == "" {
			h.err = errors.Join(h.err, fmt.Errorf("%w: origin %q: list each allowed origin (scheme://host[:port])", ErrConfig, o))
		}
		h.origins[strings.TrimSuffix(o, "/")] = true
	}
	h.cfg.Record.Session = s
	if h.cfg.Record.Logger == nil {
		h.cfg.Record.Logger = h.log
	}
	if h.api == nil && h.err == nil {
		h.api, h.err = pionrec.NewAPI(pionrec.APIConfig{
			LoopbackOnly:           !cfg.PublicICE,
			ICEDisconnectedTimeout: DefaultICEDisconnectedTimeout,
			ICEFailedTimeout:       DefaultICEFailedTimeout,
		})
	}
	return h
}

// authenticated reports whether the handler admits only publishers with
// a token (or the host's Authenticate).
func (h *Handler) authenticated() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requireToken || h.cfg.Authenticate != nil
}

// resource is one publication. Its identity fields are set before it is
// shared; mu guards the rest.
type resource struct {
	id, participantID, name string
	client                  string // remote IP, for MaxResourcesPerClient
	auth                    digest // of the POST's Authorization header
	hasAuth                 bool
	newParticipant          bool // admitted for the first time by this POST
	pc                      *webrtc.PeerConnection
	cancel                  context.CancelFunc // ends the publication's Record calls

	mu        sync.Mutex
	p         *recorder.Participant
	joinErr   error
	joined    chan struct{} // closed when the join was attempted
	joinOnce  sync.Once
	endOnce   sync.Once
	connected bool
	ended     bool
	tracks    int
	records   sync.WaitGroup // the publication's Record calls; no Add once ended
}

// recordDrainTimeout bounds how long ending a publication waits for its
// Record calls to write what they hold before the participant leaves:
// pionrec keeps up to a second of frames pending a Sender Report and
// writes them as soon as its context ends, which takes milliseconds; a
// Record stuck past this is left behind (its frames are then lost, and
// a warning says so).
const recordDrainTimeout = 2 * time.Second

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if err := checkHost(r.Host, local, h.cfg.AllowHosts); err != nil {
		http.Error(w, err.Error(), http.StatusMisdirectedRequest)
		return
	}
	hdr := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		if !h.origins[origin] {
			http.Error(w, fmt.Sprintf("whip: origin %q may not publish here (Config.AllowOrigins)", truncate(origin, 100)), http.StatusForbidden)
			return
		}
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Expose-Headers", "Location, ETag, Accept-Post, Retry-After")
	}
	hdr.Add("Vary", "Origin")
	id, isResource := resourceID(r.URL.Path)
	switch {
	case r.Method == http.MethodOptions:
		hdr.Set("Access-Control-Allow-Methods", "POST, DELETE, PATCH, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		hdr.Set("Access-Control-Max-Age", "86400")
		if !isResource {
			hdr.Set("Accept-Post", "application/sdp")
		}
		w.WriteHeader(http.StatusNoContent)
	case isResource && (r.Method == http.MethodDelete || r.Method == http.MethodPatch):
		h.serveResource(w, r, id)
	case isResource:
		hdr.Set("Allow", "DELETE, OPTIONS")
		http.Error(w, "whip: only DELETE ends a resource", http.StatusMethodNotAllowed)
	case r.Method == http.MethodPost:
		h.servePost(w, r)
	default:
		hdr.Set("Allow", "POST, OPTIONS")
		http.Error(w, "whip: POST an SDP offer to this endpoint", http.StatusMethodNotAllowed)
	}
}

// resourceID returns the resource a path names, if it names one: its
// last element starts with resourcePrefix.
func resourceID(p string) (string, bool) {
	id := path.Base(p)
	return id, strings.HasPrefix(id, resourcePrefix)
}

// resourcePrefix starts every resource ID, so that resources are told
// apart from the endpoint itself.
const resourcePrefix = "r-"

// serveResource answers a DELETE (the publication ends) or a PATCH (405:
// trickle ICE and ICE restarts are not supported) of a resource, from
// its publisher only: a resource created with an Authorization header
// needs the same header; one created without is reached by its URL,
// which holds 128 random bits.
func (h *Handler) serveResource(w http.ResponseWriter, r *http.Request, id string) {
	h.mu.Lock()
	res := h.resources[id]
	h.mu.Unlock()
	if res == nil {
		http.Error(w, fmt.Sprintf("whip: no resource %q", truncate(id, 100)), http.StatusNotFound)
		return
	}
	if res.hasAuth {
		got := r.Header.Get("Authorization")
		if got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
			http.Error(w, "whip: this resource needs its publisher's token", http.StatusUnauthorized)
			return
		}
		if !digestOf(got).equal(res.auth) {
			http.Error(w, "whip: only the publisher that created this resource may change or end it", http.StatusForbidden)
			return
		}
	}
	if r.Method == http.MethodPatch {
		w.Header().Set("Allow", "DELETE, OPTIONS")
		http.Error(w, "whip: trickle ICE and ICE restarts are not supported; only DELETE ends a resource", http.StatusMethodNotAllowed)
		return
	}
	h.log.Info("whip resource deleted", "resource", id, "participant", res.participantID)
	h.end(res)
	w.WriteHeader(http.StatusOK)
}

// refusal is an HTTP error answer.
type refusal struct {
	status     int
	msg        string
	retryAfter time.Duration
}

func (f *refusal) write(w http.ResponseWriter) {
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.retryAfter.Seconds()))))
	}
	http.Error(w, f.msg, f.status)
}

// remoteIP is the client key of a request.
func remoteIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// allowPost spends a POST from the client's and the overall rate.
func (h *Handler) allowPost(key string) *refusal {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return &refusal{status: http.StatusServiceUnavailable, msg: "whip: endpoint closed"}
	}
	c := h.clientLocked(key, now)
	if rv := c.posts.ReserveN(now, 1); !rv.OK() || rv.DelayFrom(now) > 0 {
		d := rv.DelayFrom(now)
		rv.CancelAt(now)
		return &refusal{
			status: http.StatusTooManyRequests, retryAfter: max(d, time.Second),
			msg: fmt.Sprintf("whip: too many POSTs from %s (limit %g per second, burst %d)", key, h.lim.PostRate, h.lim.PostBurst),
		}
	}
	if rv := h.total.ReserveN(now, 1); !rv.OK() || rv.DelayFrom(now) > 0 {
		d := rv.DelayFrom(now)
		rv.CancelAt(now)
		return &refusal{
			status: http.StatusTooManyRequests, retryAfter: max(d, time.Second),
			msg: fmt.Sprintf("whip: too many POSTs overall (limit %g per second, burst %d)", h.lim.TotalPostRate, h.lim.TotalPostBurst),
		}
	}
	return nil
}

// servePost creates a resource from an SDP offer. Every check that can
// refuse it runs before a peer connection exists.
func (h *Handler) servePost(w http.ResponseWriter, r *http.Request) {
	if h.err != nil {
		http.Error(w, "whip: "+h.err.Error(), http.StatusInternalServerError)
		return
	}
	key := remoteIP(r)
	if f := h.allowPost(key); f != nil {
		h.log.Debug("whip publish refused", "remote", r.RemoteAddr, "status", f.status)
		f.write(w)
		return
	}
	who, mode, err := h.identify(r)
	if errors.Is(err, errBadQuery) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
		msg := "whip: unauthorized"
		if errors.Is(err, errNoToken) || errors.Is(err, errBadToken) {
			msg = err.Error()
		}
		http.Error(w, msg, http.StatusUnauthorized)
		// The error is not logged: a host's message may quote the token.
		h.log.Info("whip publish refused", "remote", r.RemoteAddr, "reason", "unauthorized")
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/sdp" {
		http.Error(w, fmt.Sprintf("whip: Content-Type must be application/sdp, got %q", truncate(r.Header.Get("Content-Type"), 100)),
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
	if err := checkIdentity(who.id, who.name, h.lim, true); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if status, err := checkOffer(body, h.lim); err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	if who.id == "" {
		who.id = "whip-" + randomID()
	}
	if p, ok := h.s.Participant(who.id); ok && p.Present() {
		http.Error(w, fmt.Sprintf("whip: participant %q is already present", who.id), http.StatusConflict)
		return
	}
	res := &resource{id: resourcePrefix + randomID(), participantID: who.id, name: who.name, client: key, joined: make(chan struct{})}
	if a := r.Header.Get("Authorization"); a != "" {
		res.auth, res.hasAuth = digestOf(a), true
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	res.cancel = cancel
	if f := h.reserve(res); f != nil {
		cancel()
		f.write(w)
		return
	}
	answer, status, err := h.create(r.Context(), rctx, res, string(body))
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	h.log.Info("whip resource created", "resource", res.id, "participant", res.participantID, "name", res.name, "auth", mode.String())
	loc := strings.TrimSuffix(r.URL.Path, "/") + "/" + res.id
	w.Header().Set("Location", loc)
	w.Header().Set("ETag", `"`+res.id+`"`)
	w.Header().Set("Content-Type", "application/sdp")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// String names an authentication mode in logs.
func (m authMode) String() string {
	switch m {
	case authShared:
		return "shared-token"
	case authParticipant:
		return "participant-token"
	case authHost:
		return "host"
	}
	return "none"
}

// identify returns the participant ID (empty: to be generated) and name
// of a request and how it was admitted.
func (h *Handler) identify(r *http.Request) (identity, authMode, error) {
	q := r.URL.Query()
	if h.cfg.Authenticate != nil {
		id, name, err := h.cfg.Authenticate(r)
		if err != nil {
			return identity{}, 0, err
		}
		if name == "" {
			name = q.Get("name")
		}
		return identity{id: id, name: name}, authHost, nil
	}
	who, mode, err := h.authenticate(r)
	if err != nil {
		return identity{}, 0, err
	}
	switch mode {
	case authParticipant:
		// The token binds both; a query that says otherwise is refused.
		if q.Has("id") && q.Get("id") != who.id {
			return identity{}, 0, fmt.Errorf("%w: ?id= differs from the token's participant", errBadQuery)
		}
		if q.Has("name") && q.Get("name") != who.name {
			return identity{}, 0, fmt.Errorf("%w: ?name= differs from the token's display name", errBadQuery)
		}
	case authShared:
		if q.Has("id") {
			return identity{}, 0, fmt.Errorf("%w: ?id= is not accepted with the shared token (IDs are generated); ask the host for a per-participant token", errBadQuery)
		}
		who.name = q.Get("name")
	default:
		who = identity{id: q.Get("id"), name: q.Get("name")}
	}
	return who, mode, nil
}

// errBadQuery is a query that contradicts the token: 400, not 401.
var errBadQuery = errors.New("whip: bad query")

// reserve registers res, its participant and its client, within the
// limits; it refuses a participant that already has a live resource.
func (h *Handler) reserve(res *resource) *refusal {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.clientLocked(res.client, time.Now())
	switch {
	case h.closed:
		return &refusal{status: http.StatusServiceUnavailable, msg: "whip: endpoint closed"}
	case h.byParticipant[res.participantID] != nil:
		return &refusal{status: http.StatusConflict, msg: fmt.Sprintf("whip: participant %q is already publishing", res.participantID)}
	case len(h.resources) >= h.lim.MaxResources:
		return &refusal{
			status: http.StatusTooManyRequests, retryAfter: 10 * time.Second,
			msg: fmt.Sprintf("whip: %d resources are live, the limit (Limits.MaxResources)", len(h.resources)),
		}
	case c.resources >= h.lim.MaxResourcesPerClient:
		return &refusal{
			status: http.StatusTooManyRequests, retryAfter: 10 * time.Second,
			msg: fmt.Sprintf("whip: %s has %d live resources, the limit per client (Limits.MaxResourcesPerClient)", res.client, c.resources),
		}
	case !h.admitted[res.participantID] && len(h.admitted) >= h.lim.MaxParticipants:
		return &refusal{
			status: http.StatusTooManyRequests,
			msg:    fmt.Sprintf("whip: the session has had %d participants, the limit (Limits.MaxParticipants)", len(h.admitted)),
		}
	}
	if !h.admitted[res.participantID] {
		h.admitted[res.participantID] = true
		res.newParticipant = true
	}
	c.resources++
	h.resources[res.id] = res
	h.byParticipant[res.participantID] = res
	h.wg.Add(1)
	return nil
}

// checkOffer parses an offer and checks it against the limits and for a
// codec the recorder stores; it returns the HTTP status for a refusal.
func checkOffer(body []byte, lim Limits) (int, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return http.StatusBadRequest, fmt.Errorf("whip: offer is not valid SDP: %w", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return http.StatusBadRequest, errors.New("whip: offer has no media section")
	}
	if n := len(sd.MediaDescriptions); n > lim.MaxMediaSections {
		return http.StatusBadRequest, fmt.Errorf("whip: offer has %d media sections, more than the limit of %d (Limits.MaxMediaSections)", n, lim.MaxMediaSections)
	}
	if n := sentTracks(&sd); n > lim.MaxTracks {
		return http.StatusBadRequest, fmt.Errorf("whip: offer sends %d tracks, more than the limit of %d (Limits.MaxTracks)", n, lim.MaxTracks)
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

// screenMids are the mids of an offer's m-sections that carry a screen
// share: those marked "a=content:slides" (RFC 4796, presentation content).
// An offer that does not parse has none.
func screenMids(offer string) map[string]bool {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal([]byte(offer)); err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, md := range sd.MediaDescriptions {
		mid, slides := "", false
		for _, a := range md.Attributes {
			switch {
			case a.Key == "mid":
				mid = a.Value
			case a.Key == "content" && strings.EqualFold(strings.TrimSpace(a.Value), "slides"):
				slides = true
			}
		}
		if slides && mid != "" {
			out[mid] = true
		}
	}
	return out
}

// trackSource is the recorder source of a track whose transceiver has
// mid: a screen share (or its audio) when the offer marked it so, else
// the camera or microphone.
func trackSource(screens map[string]bool, pc *webrtc.PeerConnection, receiver *webrtc.RTPReceiver, kind webrtc.RTPCodecType) recorder.Source {
	for _, tr := range pc.GetTransceivers() {
		if tr.Receiver() != receiver || !screens[tr.Mid()] {
			continue
		}
		if kind == webrtc.RTPCodecTypeAudio {
			return recorder.ScreenShareAudio
		}
		return recorder.ScreenShare
	}
	return ""
}

// sentTracks counts the tracks an offer may send: one per audio or video
// m-section that is not rejected (port 0), inactive or receive-only, or
// one per simulcast layer (a=rid ... send).
func sentTracks(sd *sdp.SessionDescription) int {
	n := 0
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" && md.MediaName.Media != "video" {
			continue
		}
		if md.MediaName.Port.Value == 0 {
			continue
		}
		sending, rids := true, 0
		for _, a := range md.Attributes {
			switch a.Key {
			case "inactive", "recvonly":
				sending = false
			case "rid":
				if f := strings.Fields(a.Value); len(f) >= 2 && f[1] == "send" {
					rids++
				}
			}
		}
		if sending {
			n += max(1, rids)
		}
	}
	return n
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

// randomID returns 32 random hex digits (128 bits: a resource URL is its
// own capability when the publisher sent no token).
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// create sets up a peer connection for a reserved resource's offer and
// returns the answer once ICE gathering completes; on failure the
// resource is ended. ctx is the request's; rctx bounds the recording.
func (h *Handler) create(ctx, rctx context.Context, res *resource, offer string) (string, int, error) {
	resID, pid := res.id, res.participantID
	pc, err := h.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		h.end(res)
		return "", http.StatusInternalServerError, fmt.Errorf("whip: peer connection: %w", err)
	}
	res.mu.Lock()
	ended := res.ended
	if !ended {
		res.pc = pc
	}
	res.mu.Unlock()
	if ended { // Close ran meanwhile
		return "", http.StatusServiceUnavailable, errors.Join(errors.New("whip: endpoint closed"), pc.Close())
	}
	fail := func(status int, err error) (string, int, error) {
		h.end(res)
		return "", status, err
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
	screens := screenMids(offer)
	pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		res.mu.Lock()
		res.tracks++
		n := res.tracks
		res.mu.Unlock()
		if n > h.lim.MaxTracks {
			h.log.Warn("whip track not recorded: too many tracks", "resource", resID, "participant", pid,
				"track", track.ID(), "limit", h.lim.MaxTracks)
			return
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		h.wg.Add(1)
		h.mu.Unlock()
		res.mu.Lock()
		if res.ended {
			res.mu.Unlock()
			h.wg.Done()
			return
		}
		res.records.Add(1)
		res.mu.Unlock()
		go func() {
			defer h.wg.Done()
			defer res.records.Done()
			p := h.join(res)
			if p == nil {
				return
			}
			rcfg := h.cfg.Record
			if src := trackSource(screens, pc, receiver, track.Kind()); src != "" {
				rcfg.Source = src
			}
			if track.Kind() == webrtc.RTPCodecTypeAudio && (rcfg.Source == "" || rcfg.Source == recorder.Microphone) {
				rcfg.OnLevel = levelHints(h.s, pid, rcfg.OnLevel)
			}
			if err := pionrec.Record(rctx, p, track, receiver, pc, rcfg); err != nil {
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
	return pc.LocalDescription().SDP, 0, nil
}

// levelHints returns a pionrec.Config.OnLevel that records a microphone's
// RFC 6464 levels in the session's hints file (created with the first
// level: a session whose publishers send none has no hints) as
// participant pid's, then calls next (the host's, if any). It runs on the
// track's Record goroutine, which owns hw.
func levelHints(s *recorder.Session, pid string, next func(at, dur time.Duration, dbov uint8)) func(at, dur time.Duration, dbov uint8) {
	var hw *manifest.HintsWriter
	return func(at, dur time.Duration, dbov uint8) {
		if hw == nil {
			hw = s.Hints()
		}
		hw.Level(pid, at, dur, dbov)
		if next != nil {
			next(at, dur, dbov)
		}
	}
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

// end tears a resource down once: the resource and the client's place go,
// recording stops (each Record writes the frames it holds), then the
// participant leaves, its place is freed and the peer connection closes.
// Leaving first would stop the tracks under the Records and drop the
// frames still waiting for a Sender Report.
func (h *Handler) end(res *resource) {
	res.endOnce.Do(func() {
		defer h.wg.Done()
		// Make a join racing with the end fail rather than join late.
		res.joinOnce.Do(func() { close(res.joined) })
		res.mu.Lock()
		p, pc := res.p, res.pc
		res.ended = true
		res.mu.Unlock()
		h.mu.Lock()
		delete(h.resources, res.id)
		if c := h.clients[res.client]; c != nil {
			c.resources--
		}
		h.mu.Unlock()
		at := h.s.Elapsed()
		res.cancel()
		h.awaitRecords(res)
		if p != nil {
			// The presence ends now, not after the drain (closing
			// files and writing session.json take a while).
			if err := p.LeaveAt(at); err != nil {
				h.log.Warn("whip participant leave", "participant", res.participantID, "err", err)
			}
			h.log.Info("whip participant left", "resource", res.id, "participant", res.participantID)
		}
		// The participant's place is freed after the leave: a publisher
		// coming back during the drain gets 409 rather than a join that
		// fails.
		h.mu.Lock()
		if h.byParticipant[res.participantID] == res {
			delete(h.byParticipant, res.participantID)
		}
		if res.newParticipant && p == nil {
			delete(h.admitted, res.participantID) // never joined: not counted
		}
		h.mu.Unlock()
		if pc != nil {
			if err := pc.Close(); err != nil {
				h.log.Debug("whip close peer connection", "resource", res.id, "err", err)
			}
		}
	})
}

// awaitRecords waits up to recordDrainTimeout for res's Record calls to
// return (res.cancel was called).
func (h *Handler) awaitRecords(res *resource) {
	done := make(chan struct{})
	go func() {
		res.records.Wait()
		close(done)
	}()
	timer := time.NewTimer(recordDrainTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		h.log.Warn("whip track recording did not stop in time; its last frames may be lost",
			"resource", res.id, "participant", res.participantID, "after", recordDrainTimeout)
	}
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

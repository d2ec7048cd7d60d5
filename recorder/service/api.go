package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits of the API.
const (
	// maxBody bounds a JSON request body.
	maxBody = 64 << 10
	// maxParticipants bounds a WHIP room's grants.
	maxParticipants = 64
	// maxIdleTimeout bounds room.idle_timeout_s.
	maxIdleTimeout = time.Hour
	maxDimension   = 4096
	maxFPS         = 60
)

// errBadRequest marks a request error: 400 with its field.
var errBadRequest = errors.New("bad request")

// fieldError is a 400 naming the field at fault.
type fieldError struct {
	Field string
	Msg   string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Msg }

func bad(field, format string, args ...any) *fieldError {
	return &fieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// idPattern is a participant or room name usable in logs and paths.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Handler returns the service's HTTP handler: the API under /v1, the WHIP
// rooms, the LiveKit webhook receiver, /healthz, /readyz, /metrics and
// the web page at /.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	s.healthRoutes(mux)
	mux.HandleFunc("GET /v1/fleet", s.auth(accessRead, s.getFleet))
	mux.HandleFunc("POST /v1/fleet/workers/{id}/drain", s.auth(accessWrite, s.drainWorker))
	mux.HandleFunc("POST /v1/recordings", s.auth(accessWrite, s.createRecording))
	mux.HandleFunc("GET /v1/recordings", s.auth(accessRead, s.listJobs(KindRecord)))
	mux.HandleFunc("GET /v1/recordings/{id}", s.auth(accessRead, s.getJob(KindRecord)))
	mux.HandleFunc("POST /v1/recordings/{id}/stop", s.auth(accessWrite, s.stopRecording))
	mux.HandleFunc("GET /v1/recordings/{id}/files/{name}", s.auth(accessRead, s.serveFile(KindRecord)))
	mux.HandleFunc("GET /v1/recordings/{id}/session", s.auth(accessRead, s.serveSession))
	mux.HandleFunc("GET /v1/recordings/{id}/hls/{name}", s.auth(accessRead, s.serveHLS))
	mux.HandleFunc("POST /v1/compositions", s.auth(accessWrite, s.createDerived(KindCompose)))
	mux.HandleFunc("GET /v1/compositions", s.auth(accessRead, s.listJobs(KindCompose)))
	mux.HandleFunc("GET /v1/compositions/{id}", s.auth(accessRead, s.getJob(KindCompose)))
	mux.HandleFunc("GET /v1/compositions/{id}/files/{name}", s.auth(accessRead, s.serveFile(KindCompose)))
	mux.HandleFunc("POST /v1/uploads", s.auth(accessWrite, s.createDerived(KindUpload)))
	mux.HandleFunc("GET /v1/uploads/{id}", s.auth(accessRead, s.getJob(KindUpload)))
	mux.HandleFunc("POST /v1/login", s.loginHandler)
	mux.HandleFunc("POST /v1/livekit/webhook", s.livekitWebhook)
	mux.HandleFunc("POST /v1/daily/webhook", s.dailyWebhook)
	mux.HandleFunc("/v1/rooms/{id}/whip", s.serveWHIP)
	mux.HandleFunc("/v1/rooms/{id}/whip/{res}", s.serveWHIP)
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	mux.Handle("/", webHandler())
	return s.countRequests(mux)
}

// statusRecorder keeps the status code for the request counter.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(c int) { r.code = c; r.ResponseWriter.WriteHeader(c) }

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Service) countRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		h.ServeHTTP(rec, r)
		s.metrics.requests.WithLabelValues(strconv.Itoa(rec.code)).Inc()
		if rec.code >= 400 && strings.HasPrefix(r.URL.Path, "/v1/") {
			// The path holds no secret (tokens and keys are headers).
			s.log.Info("api request refused", "method", r.Method, "path", r.URL.Path, "status", rec.code, "job", r.PathValue("id"))
		}
	})
}

// auth wraps h with the API-key check: 401 without a valid key, 403 with
// a read-only key on a write.
func (s *Service) auth(need access, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, given := s.requestAccess(r)
		switch {
		case a == accessNone:
			w.Header().Set("WWW-Authenticate", `Bearer realm="roomtape"`)
			msg := "an API key is required (Authorization: Bearer <key>)"
			if given {
				msg = "the API key is not valid"
			}
			writeError(w, http.StatusUnauthorized, "", msg)
		case a < need:
			writeError(w, http.StatusForbidden, "", "this key may only read")
		default:
			h(w, r)
		}
	}
}

// apiError is the JSON of every error answer.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, field, msg string) {
	writeJSON(w, code, apiError{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decode reads a JSON body strictly into v; the error names the field.
func decode(r *http.Request, v any) *fieldError {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return bad("body", "Content-Type %q: want application/json", ct)
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return bad("body", "want a JSON object, got %s", te.Value)
		case errors.As(err, &te):
			return bad(te.Field, "want a JSON %s, got %s", te.Type, te.Value)
		case errors.As(err, &se):
			return bad("body", "malformed JSON at byte %d: %v", se.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			if f == "" {
				return bad("body", "unknown field %q", f)
			}
			return bad(f, "unknown field")
		case errors.Is(err, io.EOF):
			return bad("body", "empty body: want a JSON object")
		default:
			return bad("body", "%v", err)
		}
	}
	if dec.More() {
		return bad("body", "trailing data after the JSON object")
	}
	return nil
}

// RecordingRequest is the body of POST /v1/recordings.
type RecordingRequest struct {
	Room   Room   `json:"room"`
	Output Output `json:"output"`
}

// RecordingResponse answers POST /v1/recordings.
type RecordingResponse struct {
	Job Job `json:"job"`
	// WHIP is the WHIP room (room.type "whip").
	WHIP *WHIPRoom `json:"whip,omitempty"`
}

// WHIPRoom tells the publishers of a service-hosted room where to go.
type WHIPRoom struct {
	URL string `json:"url"`
	// Tokens are the participants' bearer tokens, by participant ID; shown
	// only in this response.
	Tokens map[string]string `json:"tokens"`
}

// checkOutput validates o (prefix: its JSON path).
func checkOutput(o Output, prefix string) *fieldError {
	if _, err := parseLayout(o.Layout); err != nil {
		return bad(prefix+".layout", "%q: want %s", o.Layout, layoutNames)
	}
	if o.Width < 0 || o.Width > maxDimension || o.Width%2 != 0 {
		return bad(prefix+".width", "%d: want an even number up to %d", o.Width, maxDimension)
	}
	if o.Height < 0 || o.Height > maxDimension || o.Height%2 != 0 {
		return bad(prefix+".height", "%d: want an even number up to %d", o.Height, maxDimension)
	}
	if (o.Width == 0) != (o.Height == 0) {
		return bad(prefix+".width", "width and height go together")
	}
	if o.FPS < 0 || o.FPS > maxFPS {
		return bad(prefix+".fps", "%d: want 1 to %d", o.FPS, maxFPS)
	}
	switch o.Compose {
	case "", ComposeLive, ComposeOffline, ComposeNone:
	default:
		return bad(prefix+".compose", "%q: want live, offline or none", o.Compose)
	}
	switch o.Preset {
	case "", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow":
	default:
		return bad(prefix+".preset", "%q: not a libx264 preset", o.Preset)
	}
	return nil
}

func (s *Service) createRecording(w http.ResponseWriter, r *http.Request) {
	var req RecordingRequest
	if ferr := decode(r, &req); ferr != nil {
		writeError(w, http.StatusBadRequest, ferr.Field, ferr.Msg)
		return
	}
	j, tokens, ferr := s.newRecordJob(req)
	if ferr != nil {
		writeError(w, http.StatusBadRequest, ferr.Field, ferr.Msg)
		return
	}
	code, field, err := s.submitRecord(r.Context(), j)
	if err != nil {
		writeError(w, code, field, err.Error())
		return
	}
	resp := RecordingResponse{Job: *j}
	if j.Room.Type == RoomWHIP {
		resp.WHIP = &WHIPRoom{URL: s.whipURL(j.ID), Tokens: tokens}
	}
	w.Header().Set("Location", "/v1/recordings/"+j.ID)
	writeJSON(w, http.StatusCreated, resp)
}

// newRecordJob validates req and returns the job and the WHIP tokens.
func (s *Service) newRecordJob(req RecordingRequest) (*Job, map[string]string, *fieldError) {
	room := req.Room
	j := &Job{ID: newID("rec_"), Kind: KindRecord, State: StateQueued, CreatedAt: time.Now().UTC(), Output: req.Output}
	if j.Output.isZero() {
		j.Output = s.cfg.Output
	}
	if ferr := checkOutput(j.Output, "output"); ferr != nil {
		return nil, nil, ferr
	}
	if ferr := checkStreams(j.Output, "output", KindRecord); ferr != nil {
		return nil, nil, ferr
	}
	if j.Output.Upload && s.cfg.S3.Bucket == "" {
		return nil, nil, bad("output.upload", "this service has no S3 store configured")
	}
	if room.IdleTimeoutS < 0 || room.IdleTimeoutS > maxIdleTimeout.Seconds() {
		return nil, nil, bad("room.idle_timeout_s", "%g: want 0 (default %v) to %v", room.IdleTimeoutS, DefaultIdleTimeout, maxIdleTimeout)
	}
	if room.Name != "" && !idPattern.MatchString(room.Name) {
		return nil, nil, bad("room.name", "%q: want 1-64 letters, digits, '.', '_' or '-'", room.Name)
	}
	var tokens map[string]string
	switch room.Type {
	case RoomWHIP:
		if room.URL != "" {
			return nil, nil, bad("room.url", "a WHIP room is hosted by the service: no URL")
		}
		if len(room.Participants) == 0 || len(room.Participants) > maxParticipants {
			return nil, nil, bad("room.participants", "want 1 to %d participants", maxParticipants)
		}
		tokens = map[string]string{}
		for i, g := range room.Participants {
			f := fmt.Sprintf("room.participants[%d]", i)
			if !idPattern.MatchString(g.ID) {
				return nil, nil, bad(f+".id", "%q: want 1-64 letters, digits, '.', '_' or '-'", g.ID)
			}
			if len(g.Name) > 128 {
				return nil, nil, bad(f+".name", "longer than 128 bytes")
			}
			if g.TokenSHA256 != "" {
				return nil, nil, bad(f+".token_sha256", "set by the service")
			}
			if _, dup := tokens[g.ID]; dup {
				return nil, nil, bad(f+".id", "%q is listed twice", g.ID)
			}
			tok := newToken()
			sum := sha256.Sum256([]byte(tok))
			tokens[g.ID] = tok
			room.Participants[i].TokenSHA256 = hex.EncodeToString(sum[:])
		}
		if room.Name == "" {
			room.Name = j.ID
		}
	case RoomLiveKit:
		if len(room.Participants) > 0 {
			return nil, nil, bad("room.participants", "LiveKit rooms admit their own participants")
		}
		if room.Name == "" {
			return nil, nil, bad("room.name", "the LiveKit room name is required")
		}
		if room.URL == "" && s.cfg.LiveKit.URL == "" {
			return nil, nil, bad("room.url", "no LiveKit server configured: give its URL")
		}
		if room.URL != "" {
			if u, err := url.Parse(room.URL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, nil, bad("room.url", "want a ws:// or wss:// URL")
			}
		}
		if s.cfg.LiveKit.APIKey == "" || s.cfg.LiveKit.APISecret == "" {
			return nil, nil, bad("room.type", "this service has no LiveKit API key configured")
		}
	case RoomDaily:
		if ferr := s.checkDailyRoom(&room); ferr != nil {
			return nil, nil, ferr
		}
	case "":
		return nil, nil, bad("room.type", "required: whip, livekit or daily")
	default:
		return nil, nil, bad("room.type", "%q: want whip, livekit or daily", room.Type)
	}
	if room.Token != "" && room.Type != RoomDaily {
		return nil, nil, bad("room.token", "only for Daily rooms")
	}
	j.Room = &room
	return j, tokens, nil
}

// newToken is a WHIP participant token: 128 random bits, hex.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// submit stores and enqueues a job, within capacity (429) and with the
// room free (409).
func (s *Service) submit(ctx context.Context, j *Job) (int, string, error) {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	if j.Kind == KindRecord {
		n := len(s.cache.list(func(o *Job) bool { return o.Kind == KindRecord && !o.State.Final() }))
		if n >= s.cfg.MaxRecordings {
			return http.StatusTooManyRequests, "", fmt.Errorf("at capacity: %d recordings unfinished (the most is %d)", n, s.cfg.MaxRecordings)
		}
		holder, err := s.q.claimRoom(ctx, j.Room.Type, j.Room.Name, j.ID)
		if errors.Is(err, errRoomTaken) {
			return http.StatusConflict, "room.name", fmt.Errorf("room %q is being recorded by %s", j.Room.Name, holder)
		}
		if err != nil {
			return http.StatusServiceUnavailable, "", err
		}
	}
	if err := s.q.create(ctx, j); err != nil {
		s.releaseRoomOf(j)
		return http.StatusServiceUnavailable, "", err
	}
	if err := s.q.enqueue(ctx, j); err != nil {
		// The job stays in the bucket, failed, so that it is seen.
		_, _ = s.q.update(ctx, j.ID, func(o *Job) error {
			o.State, o.Error, o.ErrorKind = StateFailed, err.Error(), "queue"
			return nil
		})
		s.releaseRoomOf(j)
		return http.StatusServiceUnavailable, "", err
	}
	s.cache.put(j)
	s.log.Info("job created", "job", j.ID, "kind", j.Kind)
	return 0, "", nil
}

// DerivedRequest is the body of POST /v1/compositions and /v1/uploads.
type DerivedRequest struct {
	// Source is the record job whose session is composed or uploaded.
	Source string `json:"source"`
	Output Output `json:"output"`
}

func (s *Service) createDerived(kind Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req DerivedRequest
		if ferr := decode(r, &req); ferr != nil {
			writeError(w, http.StatusBadRequest, ferr.Field, ferr.Msg)
			return
		}
		if req.Source == "" {
			writeError(w, http.StatusBadRequest, "source", "required: the recording's job ID")
			return
		}
		if ferr := checkOutput(req.Output, "output"); ferr != nil {
			writeError(w, http.StatusBadRequest, ferr.Field, ferr.Msg)
			return
		}
		if req.Output.Compose != "" {
			writeError(w, http.StatusBadRequest, "output.compose", "only for recordings")
			return
		}
		if ferr := checkStreams(req.Output, "output", kind); ferr != nil {
			writeError(w, http.StatusBadRequest, ferr.Field, ferr.Msg)
			return
		}
		if (kind == KindUpload || req.Output.Upload) && s.cfg.S3.Bucket == "" {
			writeError(w, http.StatusBadRequest, "output.upload", "this service has no S3 store configured")
			return
		}
		src, _, err := s.q.get(r.Context(), req.Source)
		if errors.Is(err, errNotFound) || (err == nil && src.Kind != KindRecord) {
			writeError(w, http.StatusNotFound, "source", fmt.Sprintf("no recording %q", req.Source))
			return
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "", err.Error())
			return
		}
		if src.State.Final() && src.State != StateDone {
			writeError(w, http.StatusConflict, "source", fmt.Sprintf("recording %s is %s: nothing to work on", src.ID, src.State))
			return
		}
		prefix := map[Kind]string{KindCompose: "cmp_", KindUpload: "upl_"}[kind]
		j := &Job{ID: newID(prefix), Kind: kind, State: StateQueued, Source: src.ID, Output: req.Output, CreatedAt: time.Now().UTC()}
		code, field, err := s.submit(r.Context(), j)
		if err != nil {
			writeError(w, code, field, err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, j)
	}
}

// JobList answers the list endpoints.
type JobList struct {
	Jobs []Job `json:"jobs"`
}

func (s *Service) listJobs(kind Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		state := State(r.URL.Query().Get("state"))
		if state != "" && !validState(state) {
			writeError(w, http.StatusBadRequest, "state", fmt.Sprintf("%q is not a job state", state))
			return
		}
		jobs := s.cache.list(func(j *Job) bool { return j.Kind == kind && (state == "" || j.State == state) })
		writeJSON(w, 200, JobList{Jobs: jobs})
	}
}

func validState(s State) bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}

// lookup reads job id of kind (404 otherwise) from the bucket.
func (s *Service) lookup(w http.ResponseWriter, r *http.Request, kind Kind) (*Job, bool) {
	id := r.PathValue("id")
	j, _, err := s.q.get(r.Context(), id)
	if errors.Is(err, errNotFound) || (err == nil && j.Kind != kind) {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("no %s job %q", kind, id))
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
		return nil, false
	}
	return j, true
}

func (s *Service) getJob(kind Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if j, ok := s.lookup(w, r, kind); ok {
			writeJSON(w, 200, j)
		}
	}
}

func (s *Service) stopRecording(w http.ResponseWriter, r *http.Request) {
	j, ok := s.lookup(w, r, KindRecord)
	if !ok {
		return
	}
	j, err := s.q.update(r.Context(), j.ID, func(j *Job) error {
		if j.State.Final() || j.StopRequest {
			return errSkip
		}
		j.StopRequest = true
		return nil
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
		return
	}
	s.log.Info("stop requested", "job", j.ID)
	writeJSON(w, http.StatusAccepted, j)
}

// serveFile serves a job's result file (the MP4 for the player).
func (s *Service) serveFile(kind Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		j, ok := s.lookup(w, r, kind)
		if !ok {
			return
		}
		name := r.PathValue("name")
		f, ok := j.File(name)
		if !ok || f.Path == "" {
			writeError(w, http.StatusNotFound, "", fmt.Sprintf("job %s has no file %q (state %s)", j.ID, name, j.State))
			return
		}
		if path.Ext(name) == ".mp4" {
			w.Header().Set("Content-Type", "video/mp4")
		}
		http.ServeFile(w, r, f.Path)
	}
}

// serveSession serves a recording's session.json as it is now (while
// recording, the first part's last checkpoint; once done, the merged
// one), for the web page's timeline.
func (s *Service) serveSession(w http.ResponseWriter, r *http.Request) {
	j, ok := s.lookup(w, r, KindRecord)
	if !ok {
		return
	}
	p := ""
	if f, ok := j.File(FileManifest); ok {
		p = f.Path
	} else if len(j.Parts) > 0 {
		p = j.Parts[len(j.Parts)-1].Manifest
	}
	if p == "" {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("recording %s has no session yet (state %s)", j.ID, j.State))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFile(w, r, p)
}

// whipURL is the WHIP endpoint of a job's room.
func (s *Service) whipURL(id string) string {
	return s.apiURL() + "/v1/rooms/" + id + "/whip"
}

// fileURL is the API URL of a job's file.
func (s *Service) fileURL(id, name string) string {
	seg := "recordings"
	if strings.HasPrefix(id, "cmp_") {
		seg = "compositions"
	}
	return s.apiURL() + "/v1/" + seg + "/" + id + "/files/" + name
}

// serveWHIP hands a WHIP request to the room's handler while its job
// records (404 otherwise).
func (s *Service) serveWHIP(w http.ResponseWriter, r *http.Request) {
	s.roomsMu.Lock()
	h := s.rooms[r.PathValue("id")]
	s.roomsMu.Unlock()
	if h == nil && s.proxyWHIP(w, r) {
		return
	}
	if h == nil {
		http.Error(w, "roomtape: no WHIP room "+r.PathValue("id")+" is recording here", http.StatusNotFound)
		return
	}
	h.ServeHTTP(w, r)
}

// loginRequest is the body of POST /v1/login.
type loginRequest struct {
	Key string `json:"key"`
}

// loginHandler trades an API key for the web page's cookie.
func (s *Service) loginHandler(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if ferr := decode(r, &req); ferr != nil {
		writeError(w, http.StatusBadRequest, ferr.Field, ferr.Msg)
		return
	}
	a := s.keyAccess(req.Key)
	if a == accessNone {
		writeError(w, http.StatusUnauthorized, "key", "the API key is not valid")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.sessions.add(a), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds()),
		Secure: strings.HasPrefix(s.cfg.PublicURL, "https:"),
	})
	writeJSON(w, 200, map[string]bool{"read_only": a == accessRead})
}

package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/protojson"
)

// LiveKit webhook events the receiver acts on.
const (
	lkRoomStarted  = "room_started"
	lkRoomFinished = "room_finished"
)

// livekitWebhook receives LiveKit's webhooks: the Authorization header is
// a JWT signed with the API secret whose sha256 claim is the body's hash
// (both verified by LiveKit's own verifier). room_started starts a
// recording when the auto-record rule matches the room; room_finished
// stops it.
func (s *Service) livekitWebhook(w http.ResponseWriter, r *http.Request) {
	lk := s.cfg.LiveKit
	if lk.APIKey == "" || lk.APISecret == "" {
		writeError(w, http.StatusNotFound, "", "no LiveKit configured")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ev, err := receiveLiveKit(r, lk.APIKey, lk.APISecret)
	if err != nil {
		s.metrics.errors.WithLabelValues("livekit_webhook").Inc()
		s.log.Warn("LiveKit webhook refused", "err", err)
		writeError(w, http.StatusUnauthorized, "", "webhook signature or body hash does not verify")
		return
	}
	name := ev.GetRoom().GetName()
	log := s.log.With("livekit_event", ev.GetEvent(), "room", name, "livekit_event_id", ev.GetId())
	switch ev.GetEvent() {
	case lkRoomStarted:
		if !autoRecords(lk.AutoRecord, name) {
			log.Info("LiveKit room not auto-recorded (rule)")
			break
		}
		if code, err := s.autoStart(r.Context(), log, Room{Type: RoomLiveKit, Name: name}); err != nil {
			writeError(w, code, "", err.Error()) // LiveKit retries
			return
		}
	case lkRoomFinished:
		s.autoStop(r.Context(), log, RoomLiveKit, name)
	}
	writeJSON(w, 200, map[string]string{"status": "ok"})
}

// autoStart submits the recording of an auto-recorded room (a room
// webhook's start event). A room recorded already (a retried webhook, or
// started through the API) is not an error; any other failure is, with
// the HTTP status for the webhook's sender to retry on.
func (s *Service) autoStart(ctx context.Context, log *slog.Logger, room Room) (int, error) {
	j, _, ferr := s.newRecordJob(RecordingRequest{Room: room})
	if ferr != nil {
		log.Warn("room not auto-recorded", "err", ferr)
		return http.StatusOK, nil // a bad room is not the sender's to retry
	}
	code, _, err := s.submitRecord(ctx, j)
	switch {
	case code == http.StatusConflict:
		log.Info("room already recorded", "err", err)
	case err != nil:
		log.Error("room not auto-recorded", "err", err)
		return code, err
	default:
		log.Info("room auto-recorded", "job", j.ID)
	}
	return http.StatusOK, nil
}

// autoStop asks every unfinished recording of the room of type typ and
// name to stop (a room webhook's end event).
func (s *Service) autoStop(ctx context.Context, log *slog.Logger, typ RoomType, name string) {
	for _, j := range s.cache.list(func(j *Job) bool {
		return j.Kind == KindRecord && !j.State.Final() && j.Room != nil && j.Room.Type == typ && j.Room.Name == name
	}) {
		if _, err := s.q.update(ctx, j.ID, func(j *Job) error {
			if j.State.Final() {
				return errSkip
			}
			j.StopRequest = true
			return nil
		}); err != nil {
			log.Error("stop on the room's end", "job", j.ID, "err", err)
			continue
		}
		log.Info("room ended: recording stops", "job", j.ID)
	}
}

// autoRecords applies the auto-record rule to a room name.
func autoRecords(rule, room string) bool {
	if rule == "" || room == "" {
		return false
	}
	if rule == "*" {
		return true
	}
	ok, err := path.Match(rule, room)
	return err == nil && ok
}

// CheckAutoRecordRule validates an auto-record rule.
func CheckAutoRecordRule(rule string) error {
	if _, err := path.Match(rule, ""); err != nil {
		return fmt.Errorf("%w: auto-record rule %q: %w", ErrConfig, rule, err)
	}
	return nil
}

// errLiveKitWebhook is a LiveKit webhook that does not verify.
var errLiveKitWebhook = errors.New("service: LiveKit webhook")

// receiveLiveKit verifies a LiveKit webhook as LiveKit's
// protocol/webhook.Receive does (the JWT in Authorization signed by our
// key's secret, its sha256 claim equal to the body's, constant-time) and
// parses its event.
func receiveLiveKit(r *http.Request, key, secret string) (*livekit.WebhookEvent, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %w", errLiveKitWebhook, err)
	}
	tok := r.Header.Get("Authorization")
	if tok == "" {
		return nil, fmt.Errorf("%w: no Authorization header", errLiveKitWebhook)
	}
	v, err := auth.ParseAPIToken(tok)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errLiveKitWebhook, err)
	}
	if subtle.ConstantTimeCompare([]byte(v.APIKey()), []byte(key)) != 1 {
		return nil, fmt.Errorf("%w: signed with another API key", errLiveKitWebhook)
	}
	_, claims, err := v.Verify(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errLiveKitWebhook, err)
	}
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare([]byte(claims.Sha256), []byte(base64.StdEncoding.EncodeToString(sum[:]))) != 1 {
		return nil, fmt.Errorf("%w: body hash differs from the signed one", errLiveKitWebhook)
	}
	var ev livekit.WebhookEvent
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true, AllowPartial: true}).Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("%w: %w", errLiveKitWebhook, err)
	}
	return &ev, nil
}

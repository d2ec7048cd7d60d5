package service

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
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
		j, _, ferr := s.newRecordJob(RecordingRequest{Room: Room{Type: RoomLiveKit, Name: name}})
		if ferr != nil {
			log.Warn("LiveKit room not auto-recorded", "err", ferr)
			break
		}
		code, _, err := s.submitRecord(r.Context(), j)
		switch {
		case code == http.StatusConflict: // a retried webhook, or recorded by hand
			log.Info("LiveKit room already recorded", "err", err)
		case err != nil:
			log.Error("LiveKit room not auto-recorded", "err", err)
			writeError(w, code, "", err.Error()) // LiveKit retries
			return
		default:
			log.Info("LiveKit room auto-recorded", "job", j.ID)
		}
	case lkRoomFinished:
		for _, j := range s.cache.list(func(j *Job) bool {
			return j.Kind == KindRecord && !j.State.Final() && j.Room != nil && j.Room.Type == RoomLiveKit && j.Room.Name == name
		}) {
			if _, err := s.q.update(r.Context(), j.ID, func(j *Job) error {
				if j.State.Final() {
					return errSkip
				}
				j.StopRequest = true
				return nil
			}); err != nil {
				log.Error("stop on room_finished", "job", j.ID, "err", err)
				continue
			}
			log.Info("LiveKit room finished: recording stops", "job", j.ID)
		}
	}
	writeJSON(w, 200, map[string]string{"status": "ok"})
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

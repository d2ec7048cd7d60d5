package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// Daily webhook events the receiver acts on (Daily's "type" field).
const (
	dailyMeetingStarted = "meeting.started"
	dailyMeetingEnded   = "meeting.ended"
)

// dailyWebhookSkew bounds how far a Daily webhook's timestamp may be from
// our clock: it refuses a replay of a captured request later on, and
// leaves room for Daily's retries and clock error.
const dailyWebhookSkew = 5 * time.Minute

// dailyDomain is a Daily subdomain: DNS label characters.
var dailyDomain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// check validates the Daily part of a Config.
func (d Daily) check() []error {
	var errs []error
	if d.WebhookSecret != "" {
		if k, err := base64.StdEncoding.DecodeString(d.WebhookSecret); err != nil || len(k) < minAPIKeyBytes {
			errs = append(errs, fmt.Errorf("%w: the Daily webhook secret must be base64 (as Daily gives it) of at least %d bytes", ErrConfig, minAPIKeyBytes))
		}
		if !dailyDomain.MatchString(d.Domain) {
			errs = append(errs, fmt.Errorf("%w: Daily webhooks need the Daily domain (acme for https://acme.daily.co/ROOM)", ErrConfig))
		}
	}
	if d.AutoRecord != "" {
		if d.WebhookSecret == "" {
			errs = append(errs, fmt.Errorf("%w: Daily auto-recording needs the Daily webhook secret (webhook signatures)", ErrConfig))
		}
		if err := CheckAutoRecordRule(d.AutoRecord); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// DailyEvent is the part of a Daily webhook the receiver reads.
type DailyEvent struct {
	Version string `json:"version"`
	Type    string `json:"type"`
	ID      string `json:"id"`
	Payload struct {
		Room      string  `json:"room"`
		MeetingID string  `json:"meeting_id"`
		StartTS   float64 `json:"start_ts"`
		EndTS     float64 `json:"end_ts"`
	} `json:"payload"`
	EventTS float64 `json:"event_ts"`
}

// errDailyWebhook is a Daily webhook that does not verify.
var errDailyWebhook = errors.New("service: Daily webhook")

// SignDailyWebhook gives the X-Webhook-Signature of a Daily webhook body
// sent at timestamp ts (the X-Webhook-Timestamp header), as Daily signs
// it: base64 of HMAC-SHA256 over "ts.body", keyed with the base64-decoded
// webhook secret.
func SignDailyWebhook(secret, ts string, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return "", fmt.Errorf("%w: the secret is not base64", errDailyWebhook)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// VerifyDailyWebhook checks a Daily webhook's signature (constant time)
// and timestamp (within dailyWebhookSkew of now; seconds or
// milliseconds) and parses its event.
func VerifyDailyWebhook(secret, ts, sig string, body []byte, now time.Time) (*DailyEvent, error) {
	if ts == "" || sig == "" {
		return nil, fmt.Errorf("%w: no X-Webhook-Timestamp or X-Webhook-Signature", errDailyWebhook)
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("%w: timestamp %q is not a Unix time", errDailyWebhook, ts)
	}
	at := time.Unix(n, 0)
	if n > 1e11 { // milliseconds
		at = time.UnixMilli(n)
	}
	if d := now.Sub(at); d > dailyWebhookSkew || d < -dailyWebhookSkew {
		return nil, fmt.Errorf("%w: timestamp %v is %v from now", errDailyWebhook, at.UTC(), d.Round(time.Second))
	}
	want, err := SignDailyWebhook(secret, ts, body)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return nil, fmt.Errorf("%w: the signature does not verify", errDailyWebhook)
	}
	var ev DailyEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("%w: %w", errDailyWebhook, err)
	}
	return &ev, nil
}

// dailyWebhook receives Daily's webhooks (POST /v1/daily/webhook).
// meeting.started starts a recording of https://DOMAIN.daily.co/ROOM when
// Daily.AutoRecord matches the room (the bot's meeting token minted with
// Daily.APIKey); meeting.ended stops it. Daily's check when a webhook is
// created (a body without a type) gets 200 and does nothing. Every other
// request must carry a valid signature.
func (s *Service) dailyWebhook(w http.ResponseWriter, r *http.Request) {
	d := s.cfg.Daily
	if d.WebhookSecret == "" {
		writeError(w, http.StatusNotFound, "", "no Daily webhook secret configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "", "body too large")
		return
	}
	ev, err := VerifyDailyWebhook(d.WebhookSecret, r.Header.Get("X-Webhook-Timestamp"), r.Header.Get("X-Webhook-Signature"), body, time.Now())
	if err != nil {
		var probe struct {
			Type *string `json:"type"`
		}
		if json.Unmarshal(body, &probe) == nil && probe.Type == nil {
			// Daily's endpoint check when the webhook is created.
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return
		}
		s.metrics.errors.WithLabelValues("daily_webhook").Inc()
		s.log.Warn("Daily webhook refused", "err", err)
		writeError(w, http.StatusUnauthorized, "", "webhook signature or timestamp does not verify")
		return
	}
	room := ev.Payload.Room
	log := s.log.With("daily_event", ev.Type, "room", room, "daily_event_id", ev.ID)
	if room != "" && (ev.Type == dailyMeetingStarted || ev.Type == dailyMeetingEnded) {
		switch {
		case ev.Type == dailyMeetingEnded:
			s.autoStop(r.Context(), log, RoomDaily, dailyJobRoom(d.Domain+".daily.co", room))
		case !autoRecords(d.AutoRecord, room):
			log.Info("Daily room not auto-recorded (rule)")
		default:
			// autoStart validates the room (checkDailyRoom) and names it
			// as above; a bad room name is logged and not retried.
			rm := Room{Type: RoomDaily, URL: "https://" + d.Domain + ".daily.co/" + url.PathEscape(room)}
			if code, err := s.autoStart(r.Context(), log, rm); err != nil {
				writeError(w, code, "", err.Error()) // Daily retries
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

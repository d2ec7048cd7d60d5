package service

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EventType is the type of an outgoing webhook event.
type EventType string

// Outgoing webhook events.
const (
	// EventRecordingStarted: a record job started recording.
	EventRecordingStarted EventType = "recording.started"
	// EventRecordingEnded: the call ended (files closed), composition
	// and upload may follow.
	EventRecordingEnded EventType = "recording.ended"
	// EventRecordingReady: the record job is done; the job's files carry
	// the output URLs.
	EventRecordingReady EventType = "recording.ready"
	// EventRecordingFailed: the record job failed; the job's error says
	// why.
	EventRecordingFailed EventType = "recording.failed"
	// EventCompositionReady: a compose job is done.
	EventCompositionReady EventType = "composition.ready"
)

// Event is the JSON body of an outgoing webhook.
type Event struct {
	// ID is the idempotency ID: a receiver that sees an ID twice (a retry
	// after its answer was lost) has the event already. Also sent in the
	// Roomtape-Webhook-Id header.
	ID        string    `json:"id"`
	Type      EventType `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Job       Job       `json:"job"`
}

// Webhook headers.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>" keyed by the webhook secret>".
	SignatureHeader = "Roomtape-Signature"
	// WebhookIDHeader carries the event's ID.
	WebhookIDHeader = "Roomtape-Webhook-Id"
)

// Timing of the webhook delivery.
const (
	// webhookTimeout bounds one delivery attempt: a receiver that never
	// answers costs this much per attempt, on the delivery goroutine only.
	webhookTimeout = 5 * time.Second
	// webhookFirstRetry doubles per attempt up to webhookMaxRetry.
	webhookFirstRetry = time.Second
	webhookMaxRetry   = 5 * time.Minute
	// webhookAttempts bounds the deliveries of one event (about 2 h of
	// retries with the backoff above).
	webhookAttempts = 30
	// eventDedupeWindow lets JetStream drop an event published twice.
	eventDedupeWindow = 10 * time.Minute
	// eventMaxAge drops events nobody could deliver for a day.
	eventMaxAge = 24 * time.Hour
	// eventBuffer bounds the events waiting to be published; when full
	// (NATS unreachable) new ones are dropped and counted, recording
	// goes on.
	eventBuffer = 1024
	// DefaultSignatureTolerance is how old a signature VerifySignature
	// accepts by default (replays of older bodies are refused).
	DefaultSignatureTolerance = 5 * time.Minute
)

// ErrSignature is a webhook whose signature does not verify.
var ErrSignature = errors.New("service: bad webhook signature")

// Sign returns the SignatureHeader value for body at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a SignatureHeader value against body: the HMAC
// must match (constant-time) and t be within tolerance of now (0:
// DefaultSignatureTolerance). This is what a receiver written in Go runs.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance == 0 {
		tolerance = DefaultSignatureTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix>,v1=<hex>", ErrSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %d is %v away from now", ErrSignature, sec, d.Round(time.Second))
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: HMAC differs", ErrSignature)
}

// retryDelay is the wait before delivery attempt n+1 (n ≥ 1).
func retryDelay(n uint64) time.Duration {
	d := webhookFirstRetry
	for i := uint64(1); i < n && d < webhookMaxRetry; i++ {
		d *= 2
	}
	return min(d, webhookMaxRetry)
}

// emit queues an event for the webhook; it never blocks. Called by any
// goroutine.
func (s *Service) emit(t EventType, j *Job) {
	if s.cfg.Webhook.URL == "" {
		return
	}
	ev := Event{ID: newID("ev_"), Type: t, CreatedAt: time.Now().UTC(), Job: *j}
	select {
	case s.events <- ev:
	default:
		s.metrics.errors.WithLabelValues("webhook_dropped").Inc()
		s.log.Error("webhook event dropped: the queue is full", "job", j.ID, "event", t)
	}
}

// publishEvents moves emitted events into the events stream (durable
// across restarts) until ctx ends; it is the only reader of s.events.
func (s *Service) publishEvents(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.events:
			b, err := json.Marshal(ev)
			if err == nil {
				pctx, cancel := context.WithTimeout(ctx, natsTimeout)
				_, err = s.q.js.Publish(pctx, EventsSubject, b, jetstream.WithMsgID(ev.ID))
				cancel()
			}
			if err != nil && ctx.Err() == nil {
				s.metrics.errors.WithLabelValues("webhook_publish").Inc()
				s.log.Error("webhook event not queued", "job", ev.Job.ID, "event", ev.Type, "err", err)
			}
		}
	}
}

// deliverEvents posts the stream's events to the webhook URL, one at a
// time, until ctx ends; it is the events consumer's only reader. A
// failed attempt is retried with backoff (the message is nak'ed with a
// delay, so the next events go first).
func (s *Service) deliverEvents(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, natsTimeout)
	cons, err := s.q.js.CreateOrUpdateConsumer(cctx, EventsStream, jetstream.ConsumerConfig{
		Durable:    eventsConsumer,
		AckPolicy:  jetstream.AckExplicitPolicy,
		AckWait:    2 * webhookTimeout,
		MaxDeliver: webhookAttempts,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("service: consumer %s: %w", eventsConsumer, err)
	}
	client := &http.Client{Timeout: webhookTimeout}
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			if !noMessage(err) && ctx.Err() == nil {
				s.log.Debug("webhook fetch", "err", err)
				sleepCtx(ctx, fetchWait)
			}
			continue
		}
		s.deliver(ctx, client, msg)
	}
	return nil
}

// fetchWait bounds one wait for a queue message.
const fetchWait = 2 * time.Second

func (s *Service) deliver(ctx context.Context, client *http.Client, msg jetstream.Msg) {
	var ev Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		s.log.Error("unreadable webhook event dropped", "err", err)
		_ = msg.Term()
		return
	}
	n := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		n = md.NumDelivered
	}
	log := s.log.With("job", ev.Job.ID, "event", ev.Type, "event_id", ev.ID, "attempt", n)
	err := s.post(ctx, client, msg.Data(), ev.ID)
	if err == nil {
		s.metrics.webhooks.WithLabelValues("delivered").Inc()
		log.Info("webhook delivered")
		_ = msg.Ack()
		return
	}
	if ctx.Err() != nil {
		return // redelivered after the restart
	}
	s.metrics.errors.WithLabelValues("webhook").Inc()
	if n >= webhookAttempts {
		s.metrics.webhooks.WithLabelValues("abandoned").Inc()
		log.Error("webhook abandoned", "err", err)
		_ = msg.Term()
		return
	}
	s.metrics.webhooks.WithLabelValues("retried").Inc()
	d := retryDelay(n)
	log.Warn("webhook failed; retrying", "err", err, "in", d)
	_ = msg.NakWithDelay(d)
}

// post sends one signed delivery.
func (s *Service) post(ctx context.Context, client *http.Client, body []byte, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Webhook.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "roomtape-webhook/1")
	req.Header.Set(WebhookIDHeader, id)
	req.Header.Set(SignatureHeader, Sign(s.cfg.Webhook.Secret, time.Now(), body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook receiver answered %s", resp.Status)
	}
	return nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

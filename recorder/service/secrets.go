package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomtape/roomtape/internal/bot"
	"github.com/roomtape/roomtape/internal/redact"
)

// A record job's secrets (its RTMP URLs, whose paths hold stream keys, and
// a Daily room's meeting token) are moved out of the job before it is
// stored: the job, which the API, the webhooks and the web page show,
// keeps the URLs redacted and no token. The secrets go to a KV entry of
// their own (secretKey, which the job cache skips) that only the worker
// running the job reads, and that is deleted when the job is final.

// jobSecrets are a job's secrets, kept apart from the job.
type jobSecrets struct {
	// RTMP are output.rtmp's URLs as given, in order.
	RTMP []string `json:"rtmp,omitempty"`
	// DailyToken is room.token of a Daily room.
	DailyToken string `json:"daily_token,omitempty"`
}

// secretPrefix starts the KV keys of jobs' secrets.
const secretPrefix = "secret."

// secretKey is the KV key of a job's secrets.
func secretKey(id string) string { return secretPrefix + id }

// hasSecrets reports whether a job keeps a secrets entry.
func hasSecrets(j *Job) bool {
	return len(j.Output.RTMP) > 0 || j.Room != nil && j.Room.Type == RoomDaily
}

// takeSecrets moves the secrets out of a validated job: its output.rtmp
// becomes the URLs redacted, its room.token empty.
func takeSecrets(j *Job) jobSecrets {
	var sec jobSecrets
	if len(j.Output.RTMP) > 0 {
		sec.RTMP = j.Output.RTMP
		j.Output.RTMP = make([]string, len(sec.RTMP))
		for i, u := range sec.RTMP {
			j.Output.RTMP[i] = redact.StreamTarget(u)
		}
	}
	if j.Room != nil {
		sec.DailyToken, j.Room.Token = j.Room.Token, ""
	}
	return sec
}

// submitRecord submits a validated record job (submit) with its secrets
// stored apart first: a worker may take the job at once.
func (s *Service) submitRecord(ctx context.Context, j *Job) (int, string, error) {
	sec := takeSecrets(j)
	if hasSecrets(j) {
		if err := s.q.putSecrets(ctx, j.ID, sec); err != nil {
			return http.StatusServiceUnavailable, "", err
		}
	}
	code, field, err := s.submit(ctx, j)
	if err != nil {
		s.dropSecrets(j)
	}
	return code, field, err
}

func (q *queue) putSecrets(ctx context.Context, id string, sec jobSecrets) error {
	b, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	if _, err := q.kv.Put(ctx, secretKey(id), b); err != nil {
		return fmt.Errorf("service: store the secrets of job %s: %w", id, err)
	}
	return nil
}

// errNoSecrets: a job that needs its secrets has none (deleted by hand).
var errNoSecrets = errors.New("service: the job's secrets are missing")

func (q *queue) secrets(ctx context.Context, id string) (jobSecrets, error) {
	ctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	e, err := q.kv.Get(ctx, secretKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return jobSecrets{}, fmt.Errorf("%w: %s", errNoSecrets, id)
	}
	if err != nil {
		return jobSecrets{}, fmt.Errorf("service: read the secrets of job %s: %w", id, err)
	}
	var sec jobSecrets
	if err := json.Unmarshal(e.Value(), &sec); err != nil {
		return jobSecrets{}, fmt.Errorf("service: the secrets of job %s are unreadable", id)
	}
	return sec, nil
}

// dropSecrets deletes a job's secrets (if it keeps any): it is final, or
// was never submitted.
func (s *Service) dropSecrets(j *Job) {
	if !hasSecrets(j) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), natsTimeout)
	defer cancel()
	if err := s.q.kv.Purge(ctx, secretKey(j.ID)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		s.log.Warn("job secrets not deleted", "job", j.ID, "err", err)
	}
}

// secretConfig puts a record job's secrets into its pipeline's
// configuration: the RTMP URLs (and HLS, which is no secret) and the
// Daily token.
func (s *Service) secretConfig(ctx context.Context, j *Job, cfg *bot.Config) error {
	cfg.HLS = j.Output.HLS
	if !hasSecrets(j) {
		return nil
	}
	sec, err := s.q.secrets(ctx, j.ID)
	if err != nil {
		return err
	}
	if len(sec.RTMP) != len(j.Output.RTMP) {
		return fmt.Errorf("%w: %s has %d RTMP URLs for %d targets", errNoSecrets, j.ID, len(sec.RTMP), len(j.Output.RTMP))
	}
	cfg.RTMP = sec.RTMP
	cfg.Daily.Token = sec.DailyToken
	return nil
}

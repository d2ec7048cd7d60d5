package bot

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/s3"
)

// uploadAttempts is how often an S3 request is tried: a few retries ride
// out a blip without making a misconfigured bucket take a minute to report.
const uploadAttempts = 3

// uploader publishes a session's results to S3.
type uploader struct {
	store storage.Store
	cfg   S3Config
	log   *slog.Logger
}

// newUploader opens the bucket; it fails early (before anything is
// recorded) when the bucket is missing, unreachable or refuses the
// credentials.
func newUploader(ctx context.Context, cfg S3Config, log *slog.Logger) (*uploader, error) {
	st, err := s3.New(ctx, s3.Config{
		Bucket:          cfg.Bucket,
		Region:          cfg.Region,
		Endpoint:        cfg.Endpoint,
		AccessKeyID:     cfg.AccessKeyID,
		SecretAccessKey: cfg.SecretAccessKey,
		BaseURL:         cfg.BaseCDNURL,
		MaxAttempts:     uploadAttempts,
		Logger:          log.With("component", "s3"),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: checked before recording: %w", ErrUpload, err)
	}
	return &uploader{store: st, cfg: cfg, log: log}, nil
}

// uploadSession uploads the composed MP4 (and, with all, session.json and
// every other file of the session directory), each verified, and returns
// the MP4's URL. Local files are never deleted; a re-run sends only what
// is missing.
func (u *uploader) uploadSession(ctx context.Context, res *Result, all bool) (string, error) {
	ur, err := storage.UploadSession(ctx, u.store, res.ManifestPath, storage.UploadOptions{
		Prefix:   u.cfg.Prefix + res.SessionID + "/",
		Final:    filepath.Base(res.Output),
		Extra:    extra(res.Audio),
		Manifest: all,
		AllFiles: all,
		BaseURL:  u.cfg.BaseCDNURL,
		Logger:   u.log.With("component", "upload"),
	})
	if err != nil {
		for _, o := range ur.Failed() {
			u.log.Error("not uploaded", "file", o.File, "key", o.Key, "err", o.Err)
		}
		return "", fmt.Errorf("%w: %w", ErrUpload, err)
	}
	return ur.Final().URL, nil
}

// extra lists the audio-only file, when there is one, for upload.
func extra(audio string) []string {
	if audio == "" {
		return nil
	}
	return []string{filepath.Base(audio)}
}

// Upload uploads the session of res (its composed MP4, with cfg.UploadAll
// every file) to cfg.S3, the upload step of [Run] on its own (a host's
// upload job), and returns the MP4's URL.
func Upload(ctx context.Context, cfg Config, res *Result, log *slog.Logger) (string, error) {
	if log == nil {
		log = discardLogger()
	}
	up, err := newUploader(ctx, cfg.S3, log)
	if err != nil {
		return "", err
	}
	return up.uploadSession(ctx, res, cfg.UploadAll)
}

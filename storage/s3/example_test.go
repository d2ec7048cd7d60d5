package s3_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/s3"
)

// Example publishes a recorded session as the prototype did: bucket and CDN
// from S3_BUCKET and BASE_CDN_URL, credentials and region from the AWS
// chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
// AWS_ENDPOINT_URL_S3 for an S3-compatible server), then prints the URL of
// the final MP4.
func Example() {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := s3.ConfigFromEnv()
	if err != nil {
		log.Error("configuration", "err", err)
		return
	}
	cfg.Logger = log
	store, err := s3.New(ctx, cfg)
	if err != nil {
		log.Error("open bucket", "err", err) // Wraps s3.ErrNoSuchBucket, storage.ErrPermission...
		return
	}
	res, err := storage.UploadSession(ctx, store, "recordings/20260318_132416/session.json", storage.UploadOptions{
		Manifest: true,
		Progress: func(p storage.Progress) { log.Debug("upload", "key", p.Key, "done", p.Done, "total", p.Total) },
	})
	if err != nil {
		// storage.ErrIncomplete: res lists what failed; a re-run sends only that.
		for _, o := range res.Failed() {
			log.Error("not uploaded", "file", o.File, "err", o.Err)
		}
		return
	}
	fmt.Println(res.Final().URL)
}

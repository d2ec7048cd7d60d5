// Package s3 is a storage.Store on Amazon S3 and S3-compatible servers
// (versitygw, MinIO, Ceph, ...), built on aws-sdk-go-v2.
//
// Objects up to Config.PartSize are sent with one PutObject; larger ones
// stream through a multipart upload whose parts (Config.Concurrency at a
// time) are retried with jittered exponential backoff, each with a
// Content-MD5 the server checks. The content's SHA-256 is computed while
// streaming and stored as the user metadata "sha256" (x-amz-meta-sha256);
// for a multipart upload that needs PutOptions.SHA256, known before the
// upload starts. On failure or cancellation the multipart upload is aborted
// so that no parts are left behind; if even the abort fails (server gone),
// the error says so and AbortUploads removes the leftovers later.
//
// Credentials come from Config or the standard AWS chain. They, request
// signatures and session tokens never appear in the store's logs or errors.
package s3

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is S3's integrity check, not security.
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/roomtape/roomtape/storage"
)

// metaSHA256 is the user metadata key holding the content's SHA-256.
const metaSHA256 = "sha256"

// abortTimeout bounds the clean-up of a failed multipart upload, which runs
// even when the caller's context is cancelled.
const abortTimeout = 30 * time.Second

// opOpen names the bucket check of New in errors.
const opOpen = "open bucket"

// ErrNoSuchBucket means the configured bucket does not exist.
var ErrNoSuchBucket = errors.New("s3: no such bucket")

// Store is a storage.Store on an S3 bucket. Create it with New.
type Store struct {
	client  *awss3.Client
	cfg     Config
	log     *slog.Logger
	red     *redactor
	retryer *retry.Standard
	bufs    sync.Pool
}

var (
	_ storage.Store = (*Store)(nil)
	_ storage.URLer = (*Store)(nil)
)

// New returns a Store for cfg. Unless cfg.SkipBucketCheck is set, it checks
// with one ListObjectsV2 request that the server answers, the bucket exists
// and the credentials are known, returning an error wrapping
// ErrNoSuchBucket, storage.ErrPermission or storage.ErrUnavailable
// otherwise. Credentials that are valid but may not list the bucket
// (AccessDenied, e.g. upload-only policies) pass the check.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, ErrNoBucket
	}
	cfg = cfg.withDefaults()
	s := &Store{cfg: cfg, log: cfg.Logger, red: &redactor{}}
	s.red.add(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)
	s.retryer = retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = cfg.MaxAttempts
		o.MaxBackoff = cfg.MaxBackoff
		o.RateLimiter = ratelimit.None // Attempts are bounded by MaxAttempts alone.
	})
	httpClient := awshttp.NewBuildableClient().
		WithReadTimeout(cfg.Timeout).
		WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = cfg.Timeout
			t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, 2*cfg.Concurrency)
		})
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithLogger(sdkLogger{log: cfg.Logger, red: s.red}),
		awsconfig.WithClientLogMode(cfg.SDKLogMode),
		awsconfig.WithRetryer(func() aws.Retryer { return s.retryer }),
		awsconfig.WithHTTPClient(httpClient),
	}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, s.wrap(err, "load AWS configuration", "")
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	if awsCfg.Credentials != nil {
		awsCfg.Credentials = recordingProvider{inner: awsCfg.Credentials, red: s.red}
	}
	s.client = awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if s.cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.cfg.Endpoint)
		} else if o.BaseEndpoint != nil {
			s.cfg.Endpoint = *o.BaseEndpoint // From AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL.
		}
		o.UsePathStyle = s.pathStyle()
		// Integrity is checked with Content-MD5 on every request body,
		// which every S3-compatible server supports, unlike the trailing
		// CRC32 checksums the SDK sends by default.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	if !cfg.SkipBucketCheck {
		// ListObjectsV2 rather than HeadBucket: a HEAD response has no body,
		// so servers cannot say whether a 404 means a missing bucket or an
		// unknown access key (versitygw answers 404 to both).
		_, err := s.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(cfg.Bucket), MaxKeys: aws.Int32(1)})
		switch {
		case isCode(err, "AccessDenied"):
			// Known credentials that may not list: upload-only policies are
			// common for recorders. Puts will tell.
			s.log.Debug("s3: cannot list the bucket to check it; going on", "bucket", cfg.Bucket)
		case err != nil:
			return nil, s.wrap(err, opOpen, "")
		}
	}
	return s, nil
}

func (s *Store) pathStyle() bool {
	switch s.cfg.Addressing {
	case AddressingPath:
		return true
	case AddressingVirtualHost:
		return false
	default:
		return s.cfg.Endpoint != ""
	}
}

// Bucket returns the store's bucket.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// Client returns the underlying SDK client, for operations the Store does
// not offer.
func (s *Store) Client() *awss3.Client { return s.client }

// URL implements storage.URLer: Config.BaseURL joined with key when set,
// otherwise the object's unsigned URL in the bucket (public only if the
// bucket policy says so).
func (s *Store) URL(key string) (string, error) {
	if s.cfg.BaseURL != "" {
		return storage.JoinURL(s.cfg.BaseURL, key)
	}
	endpoint := s.cfg.Endpoint
	if endpoint == "" {
		region := s.client.Options().Region
		endpoint = "https://s3." + region + ".amazonaws.com"
	}
	if s.pathStyle() {
		return storage.JoinURL(strings.TrimSuffix(endpoint, "/")+"/"+url.PathEscape(s.cfg.Bucket), key)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("s3: endpoint %q: %w", endpoint, err)
	}
	u.Host = s.cfg.Bucket + "." + u.Host
	return storage.JoinURL(u.String(), key)
}

// MaxPresignExpiry is the longest validity of a presigned URL (SigV4's
// limit).
const MaxPresignExpiry = 7 * 24 * time.Hour

// PresignGet returns a URL that lets anyone holding it download the object
// under key for the next expiry (at most MaxPresignExpiry), for a private
// bucket without a CDN. The URL carries a signature: treat it as a secret.
// The store never logs it.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := storage.ValidKey(key); err != nil {
		return "", fmt.Errorf("s3: presign: %w", err)
	}
	if expiry <= 0 || expiry > MaxPresignExpiry {
		return "", fmt.Errorf("s3: presign %q: expiry %s is not in (0, %s]", key, expiry, MaxPresignExpiry)
	}
	req, err := awss3.NewPresignClient(s.client, awss3.WithPresignExpires(expiry)).PresignGetObject(ctx,
		&awss3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return "", s.wrap(err, "presign", key)
	}
	s.log.Debug("s3: presigned", "bucket", s.cfg.Bucket, "key", key, "expiry", expiry)
	return req.URL, nil
}

// Put implements storage.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Object, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Object{}, fmt.Errorf("s3: put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Object{}, fmt.Errorf("s3: put %q: %w", key, err)
	}
	if opts.ContentType == "" {
		opts.ContentType = "application/octet-stream"
	}
	opts.SHA256 = strings.ToLower(opts.SHA256)
	start := time.Now()
	partSize := s.partSize(opts.Size)
	buf := s.getBuf(partSize)
	h := sha256.New()
	src := io.TeeReader(storage.ContextReader(ctx, r), h)
	n, err := io.ReadFull(src, buf)
	var obj storage.Object
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		obj, err = s.putSingle(ctx, key, buf[:n], hex.EncodeToString(h.Sum(nil)), opts)
		s.bufs.Put(&buf)
	case err != nil:
		s.bufs.Put(&buf)
		return storage.Object{}, fmt.Errorf("s3: put %q: reading content: %w", key, err)
	default:
		obj, err = s.putMultipart(ctx, key, src, h, buf, partSize, opts)
	}
	if err != nil {
		return storage.Object{}, err
	}
	elapsed := time.Since(start)
	s.log.Debug("s3: put", "bucket", s.cfg.Bucket, "key", key, "size", obj.Size, "elapsed", elapsed,
		"MBps", float64(obj.Size)/1e6/max(elapsed.Seconds(), 1e-9))
	return obj, nil
}

// partSize returns the part size for an object of size bytes (0: unknown).
func (s *Store) partSize(size int64) int64 {
	ps := s.cfg.PartSize
	if need := (size + MaxParts - 1) / MaxParts; need > ps {
		ps = need
	}
	return ps
}

// getBuf returns a buffer of n bytes from the pool.
func (s *Store) getBuf(n int64) []byte {
	if p, ok := s.bufs.Get().(*[]byte); ok && int64(cap(*p)) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

// putSingle stores data with one PutObject.
func (s *Store) putSingle(ctx context.Context, key string, data []byte, sum string, opts storage.PutOptions) (storage.Object, error) {
	if opts.SHA256 != "" && opts.SHA256 != sum {
		return storage.Object{}, fmt.Errorf("s3: put %q: %w: content has SHA-256 %s, expected %s", key, storage.ErrChecksum, sum, opts.SHA256)
	}
	md5sum := md5.Sum(data) //nolint:gosec // See import.
	err := s.attempts(ctx, "put", key, func(ctx context.Context) error {
		_, err := s.client.PutObject(ctx, &awss3.PutObjectInput{
			Bucket:        aws.String(s.cfg.Bucket),
			Key:           aws.String(key),
			Body:          bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))),
			ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(md5sum[:])),
			ContentType:   aws.String(opts.ContentType),
			Metadata:      map[string]string{metaSHA256: sum},
		}, noSDKRetries)
		return err
	})
	if err != nil {
		return storage.Object{}, err
	}
	return storage.Object{Key: key, Size: int64(len(data)), SHA256: sum, ContentType: opts.ContentType}, nil
}

// noSDKRetries leaves retries of a request to Store.attempts.
func noSDKRetries(o *awss3.Options) { o.Retryer = aws.NopRetryer{} }

// attempts runs one upload request up to Config.MaxAttempts times, each
// attempt bounded by Config.Timeout, with the retryer's jittered
// exponential backoff between attempts. It returns the wrapped error of the
// last attempt.
func (s *Store) attempts(ctx context.Context, op, key string, do func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err := do(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return s.wrap(errors.Join(context.Cause(ctx), err), op, key)
		}
		timedOut := errors.Is(err, context.DeadlineExceeded)
		if attempt >= s.cfg.MaxAttempts || !timedOut && !s.retryer.IsErrorRetryable(err) {
			if timedOut {
				err = fmt.Errorf("%w: no answer within %s: %w", storage.ErrUnavailable, s.cfg.Timeout, err)
			}
			if attempt > 1 {
				err = fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return s.wrap(err, op, key)
		}
		delay, derr := s.retryer.RetryDelay(attempt, err)
		if derr != nil {
			delay = s.cfg.MaxBackoff
		}
		s.log.Debug("s3: retrying", "op", op, "key", key, "attempt", attempt, "delay", delay, "err", s.red.redact(err.Error()))
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return s.wrap(errors.Join(context.Cause(ctx), err), op, key)
		}
	}
}

// Get implements storage.Store. The reader fails once ctx is done.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Object, error) {
	if err := storage.ValidKey(key); err != nil {
		return nil, storage.Object{}, fmt.Errorf("s3: get: %w", err)
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, storage.Object{}, s.wrap(err, "get", key)
	}
	obj := storage.Object{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		SHA256:      out.Metadata[metaSHA256],
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
	}
	return &body{rc: out.Body, s: s, key: key}, obj, nil
}

// body is the content of a Get, with idempotent Close and redacted errors.
type body struct {
	rc     io.ReadCloser
	s      *Store
	key    string
	once   sync.Once
	closed error
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.s.wrap(err, "get", b.key)
	}
	return n, err
}

func (b *body) Close() error {
	b.once.Do(func() { b.closed = b.rc.Close() })
	return b.closed
}

// Stat implements storage.Store.
func (s *Store) Stat(ctx context.Context, key string) (storage.Object, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Object{}, fmt.Errorf("s3: stat: %w", err)
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return storage.Object{}, s.wrap(err, "stat", key)
	}
	return storage.Object{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		SHA256:      out.Metadata[metaSHA256],
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
	}, nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := storage.ValidKey(key); err != nil {
		return fmt.Errorf("s3: delete: %w", err)
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil && !errors.Is(s.wrap(err, "delete", key), storage.ErrNotFound) {
		return s.wrap(err, "delete", key)
	}
	return nil
}

// AbortUploads aborts the multipart uploads under prefix that started
// before olderThan ago: the leftovers of uploads whose abort failed (server
// unreachable, process killed). It returns how many it aborted. A bucket
// lifecycle rule (AbortIncompleteMultipartUpload) does the same on AWS.
func (s *Store) AbortUploads(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	aborted := 0
	p := awss3.NewListMultipartUploadsPaginator(s.client, &awss3.ListMultipartUploadsInput{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return aborted, s.wrap(err, "list uploads", prefix)
		}
		for _, u := range page.Uploads {
			if u.Initiated != nil && u.Initiated.After(cutoff) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
				Bucket: aws.String(s.cfg.Bucket), Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil && !isCode(err, "NoSuchUpload") {
				return aborted, s.wrap(err, "abort upload", aws.ToString(u.Key))
			}
			aborted++
			s.log.Info("s3: aborted stale multipart upload", "bucket", s.cfg.Bucket, "key", aws.ToString(u.Key), "initiated", aws.ToTime(u.Initiated))
		}
	}
	return aborted, nil
}

// isCode reports whether err is an S3 API error with one of codes.
func isCode(err error, codes ...string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && slices.Contains(codes, apiErr.ErrorCode())
}

// Error codes by meaning.
var (
	notFoundCodes   = []string{"NoSuchKey", "NotFound"}
	permissionCodes = []string{
		"AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"InvalidToken", "ExpiredToken", "InvalidSecurity", "AllAccessDisabled", "AccountProblem",
		"XAdminUserNotFound", // versitygw's answer (404) to an unknown access key id.
	}
)

// wrap returns err with the storage sentinel it means and the operation,
// bucket and key, its text redacted.
func (s *Store) wrap(err error, op, key string) error {
	var kind error
	var respErr *awshttp.ResponseError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller's context (errors.Is(err, ctx.Err()) holds), or an
		// attempt's timeout, which attempts marks as ErrUnavailable.
	case isCode(err, "NoSuchBucket"):
		kind = ErrNoSuchBucket
	case isCode(err, notFoundCodes...) && op != opOpen:
		kind = storage.ErrNotFound
	case isCode(err, permissionCodes...):
		kind = storage.ErrPermission
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusNotFound:
		kind = storage.ErrNotFound
		if op == opOpen {
			kind = ErrNoSuchBucket
		}
	case errors.As(err, &respErr) && (respErr.HTTPStatusCode() == http.StatusForbidden || respErr.HTTPStatusCode() == http.StatusUnauthorized):
		kind = storage.ErrPermission
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500,
		retry.RetryableConnectionError{}.IsErrorRetryable(err) == aws.TrueTernary,
		errors.Is(err, io.ErrUnexpectedEOF):
		kind = storage.ErrUnavailable
	}
	where := fmt.Sprintf("s3: %s bucket %q", op, s.cfg.Bucket)
	if key != "" {
		where += fmt.Sprintf(" key %q", key)
	}
	msg := where + ": " + err.Error()
	errs := []error{err}
	if kind != nil {
		msg = where + ": " + kind.Error() + ": " + err.Error()
		errs = []error{kind, err}
	}
	return &redactedError{msg: s.red.redact(msg), errs: errs}
}

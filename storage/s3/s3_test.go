package s3_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/s3"
	"github.com/roomtape/roomtape/storage/s3/s3test"
	"github.com/roomtape/roomtape/storage/storagetest"
)

// Fault-test bounds. Retries are kept short so that "server gone" fails in
// seconds; failLimit is how long such a Put may take at most: MaxAttempts
// attempts of quick connection refusals plus testMaxBackoff between them,
// with a wide margin for a busy machine.
const (
	testMaxAttempts = 3
	testMaxBackoff  = 200 * time.Millisecond
	failLimit       = 15 * time.Second
)

// testConfig returns a Config for bucket on srv with short retries and the
// smallest part size, so that storagetest's large objects take 3 parts.
func testConfig(srv *s3test.Server, bucket string) s3.Config {
	return s3.Config{
		Bucket:          bucket,
		Region:          s3test.Region,
		Endpoint:        srv.Endpoint,
		AccessKeyID:     srv.AccessKeyID,
		SecretAccessKey: srv.SecretAccessKey,
		PartSize:        s3.MinPartSize,
		MaxAttempts:     testMaxAttempts,
		MaxBackoff:      testMaxBackoff,
	}
}

// setup starts a server with a bucket and returns them with a testConfig.
func setup(t *testing.T) (*s3test.Server, string, s3.Config) {
	t.Helper()
	srv := s3test.Start(t)
	bucket := srv.CreateBucket(t)
	return srv, bucket, testConfig(srv, bucket)
}

func newStore(t *testing.T, cfg s3.Config) *s3.Store {
	t.Helper()
	s, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	return s
}

// assertNoUploads checks that no multipart upload is left in bucket.
func assertNoUploads(t *testing.T, srv *s3test.Server, bucket string) {
	t.Helper()
	if ups := srv.Uploads(t, bucket); len(ups) > 0 {
		t.Errorf("multipart uploads left behind in bucket %s: %q", bucket, ups)
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		t.Helper()
		bucket := srv.CreateBucket(t)
		t.Cleanup(func() { assertNoUploads(t, srv, bucket) })
		return newStore(t, testConfig(srv, bucket))
	})
}

// TestConformanceDefaults runs the suite with the default part size, so
// that large objects go through one multipart part and the final short
// read path.
func TestConformanceDefaults(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("short mode")
	}
	srv := s3test.Start(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		t.Helper()
		bucket := srv.CreateBucket(t)
		t.Cleanup(func() { assertNoUploads(t, srv, bucket) })
		cfg := testConfig(srv, bucket)
		cfg.PartSize = 0
		cfg.Concurrency = 1
		return newStore(t, cfg)
	})
}

// slowReader delivers data in small reads with a pause, so that an upload
// is still running when the test breaks the server.
type slowReader struct {
	data  []byte
	chunk int
	pause time.Duration
	mu    sync.Mutex
	read  int
}

func (r *slowReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read >= len(r.data) {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), r.chunk)], r.data[r.read:])
	r.read += n
	return n, nil
}

func (r *slowReader) Read0() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.read
}

// TestServerStoppedMidUpload kills the server while a multipart upload
// runs: Put retries, then fails within failLimit with an error wrapping
// storage.ErrUnavailable, the source is intact, and once the server is
// back AbortUploads removes the parts the failed abort left.
func TestServerStoppedMidUpload(t *testing.T) {
	t.Parallel()
	srv, bucket, cfg := setup(t)
	logs := captureLogs(&cfg)
	s := newStore(t, cfg)

	data := bytes.Repeat([]byte("roomtape"), 3*s3.MinPartSize/8) // 15 MiB: 3 parts.
	src := &slowReader{data: data, chunk: 256 << 10, pause: 20 * time.Millisecond}
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := s.Put(t.Context(), "session/final.mp4", src, storage.PutOptions{})
		errc <- err
	}()
	// Stop the server once the first part has been sent.
	for src.Read0() < s3.MinPartSize+1<<20 {
		time.Sleep(10 * time.Millisecond)
	}
	srv.Stop()
	var err error
	select {
	case err = <-errc:
	case <-time.After(failLimit):
		t.Fatalf("Put still running %s after the server stopped", failLimit)
	}
	t.Logf("Put failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Put with the server stopped: %v, want storage.ErrUnavailable", err)
	}
	if !strings.Contains(logs.String(), "s3: retrying") {
		t.Errorf("no retry was logged:\n%s", logs.String())
	}
	if !strings.Contains(err.Error(), "AbortUploads") {
		t.Errorf("error does not say that the upload's parts may remain: %v", err)
	}
	if !bytes.Equal(src.data, bytes.Repeat([]byte("roomtape"), 3*s3.MinPartSize/8)) {
		t.Error("the source was modified")
	}

	srv.Restart()
	if _, err := s.Stat(t.Context(), "session/final.mp4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after the failed Put: %v, want storage.ErrNotFound", err)
	}
	n, err := s.AbortUploads(t.Context(), "session/", 0)
	if err != nil {
		t.Fatalf("AbortUploads: %v", err)
	}
	t.Logf("AbortUploads removed %d upload(s)", n)
	assertNoUploads(t, srv, bucket)
	// The same Put succeeds now.
	if _, err := s.Put(t.Context(), "session/final.mp4", bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
}

// TestServerDownAtStart checks a Put to a server that is not running.
func TestServerDownAtStart(t *testing.T) {
	t.Parallel()
	srv, _, cfg := setup(t)
	s := newStore(t, cfg)
	srv.Stop()
	for _, size := range []int{10, 2*s3.MinPartSize + 1} {
		start := time.Now()
		_, err := s.Put(t.Context(), "k", bytes.NewReader(make([]byte, size)), storage.PutOptions{})
		if !errors.Is(err, storage.ErrUnavailable) || time.Since(start) > failLimit {
			t.Errorf("Put of %d bytes to a stopped server: %v after %s, want storage.ErrUnavailable within %s", size, err, time.Since(start), failLimit)
		}
	}
	if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Stat on a stopped server: %v, want storage.ErrUnavailable", err)
	}
}

// TestServerHangs freezes the server: each attempt times out after
// Config.Timeout, and Put fails with storage.ErrUnavailable.
func TestServerHangs(t *testing.T) {
	t.Parallel()
	srv, _, cfg := setup(t)
	cfg.Timeout = 500 * time.Millisecond
	cfg.MaxAttempts = 2
	s := newStore(t, cfg)
	srv.Pause()
	defer srv.Resume()
	start := time.Now()
	_, err := s.Put(t.Context(), "k", bytes.NewReader([]byte("x")), storage.PutOptions{})
	if !errors.Is(err, storage.ErrUnavailable) || time.Since(start) > failLimit {
		t.Fatalf("Put to a frozen server: %v after %s, want storage.ErrUnavailable within %s", err, time.Since(start), failLimit)
	}
}

func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.CreateBucket(t)
	for name, mutate := range map[string]func(*s3.Config){
		"secret": func(c *s3.Config) { c.SecretAccessKey = "wrong-secret-" + c.SecretAccessKey },
		"key id": func(c *s3.Config) { c.AccessKeyID = "WRONGKEYID0123" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(srv, bucket)
			mutate(&cfg)
			_, err := s3.New(t.Context(), cfg)
			if !errors.Is(err, storage.ErrPermission) {
				t.Fatalf("New with a wrong %s: %v, want storage.ErrPermission", name, err)
			}
			assertNoSecret(t, err.Error(), cfg)
			cfg.SkipBucketCheck = true
			s := newStore(t, cfg)
			for _, size := range []int{10, 2*s3.MinPartSize + 1} {
				_, err = s.Put(t.Context(), "k", bytes.NewReader(make([]byte, size)), storage.PutOptions{})
				if !errors.Is(err, storage.ErrPermission) {
					t.Errorf("Put of %d bytes with a wrong %s: %v, want storage.ErrPermission", size, name, err)
				}
				assertNoSecret(t, err.Error(), cfg)
			}
		})
	}
	assertNoUploads(t, srv, bucket)
}

func TestMissingBucket(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	cfg := testConfig(srv, "no-such-bucket")
	_, err := s3.New(t.Context(), cfg)
	if !errors.Is(err, s3.ErrNoSuchBucket) {
		t.Fatalf("New with a missing bucket: %v, want s3.ErrNoSuchBucket", err)
	}
	if !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("error does not name the bucket: %v", err)
	}
	cfg.SkipBucketCheck = true
	s := newStore(t, cfg)
	for _, size := range []int{10, 2*s3.MinPartSize + 1} {
		_, err = s.Put(t.Context(), "k", bytes.NewReader(make([]byte, size)), storage.PutOptions{})
		if !errors.Is(err, s3.ErrNoSuchBucket) {
			t.Errorf("Put of %d bytes to a missing bucket: %v, want s3.ErrNoSuchBucket", size, err)
		}
	}
}

func TestNoBucket(t *testing.T) {
	t.Parallel()
	if _, err := s3.New(t.Context(), s3.Config{}); !errors.Is(err, s3.ErrNoBucket) {
		t.Fatalf("New without a bucket: %v, want s3.ErrNoBucket", err)
	}
}

// captureLogs sets cfg.Logger to a debug-level logger writing into the
// returned buffer.
func captureLogs(cfg *s3.Config) *s3test.Buffer {
	var buf s3test.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &buf
}

func assertNoSecret(t *testing.T, text string, cfg s3.Config) {
	t.Helper()
	for name, secret := range map[string]string{"access key id": cfg.AccessKeyID, "secret access key": cfg.SecretAccessKey} {
		if strings.Contains(text, secret) {
			t.Errorf("the %s appears in: %s", name, text)
		}
	}
	if strings.Contains(text, "Signature=") && !strings.Contains(text, "Signature=[REDACTED]") {
		t.Errorf("a request signature appears in: %s", text)
	}
}

// TestNoSecretsInLogs runs uploads, reads and failures with debug logging
// and every SDK log mode on, and checks that neither the access key id nor
// the secret (nor a signature) appears in the logs or the errors.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	srv, _, cfg := setup(t)
	logs := captureLogs(&cfg)
	cfg.SDKLogMode = aws.LogRetries | aws.LogRequest | aws.LogResponse | aws.LogSigning | aws.LogDeprecatedUsage
	s := newStore(t, cfg)
	ctx := t.Context()
	var errs []string
	if _, err := s.Put(ctx, "small", bytes.NewReader([]byte("hello")), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "large", bytes.NewReader(make([]byte, 2*s3.MinPartSize+1)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Get(ctx, "small")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	_, err = s.Stat(ctx, "missing")
	errs = append(errs, err.Error())

	// Failures: wrong secret (the server answers SignatureDoesNotMatch), and
	// the server gone (retries are logged).
	bad := cfg
	bad.SecretAccessKey = "x" + cfg.SecretAccessKey[1:]
	bad.SkipBucketCheck = true
	sb := newStore(t, bad)
	_, err = sb.Put(ctx, "k", bytes.NewReader([]byte("x")), storage.PutOptions{})
	errs = append(errs, err.Error())
	srv.Stop()
	_, err = s.Put(ctx, "k", bytes.NewReader([]byte("x")), storage.PutOptions{})
	errs = append(errs, err.Error())

	out := logs.String()
	if !strings.Contains(out, "s3: sdk") || !strings.Contains(out, "Authorization") {
		t.Fatalf("the SDK's request log did not reach slog; the check would prove nothing:\n%.2000s", out)
	}
	t.Logf("%d bytes of debug logs checked", len(out))
	assertNoSecret(t, out, cfg)
	assertNoSecret(t, out, bad)
	for _, e := range errs {
		assertNoSecret(t, e, cfg)
		assertNoSecret(t, e, bad)
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	srv, bucket, cfg := setup(t)
	s := newStore(t, cfg)
	u, err := s.URL("a b/c.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.Endpoint + "/" + bucket + "/a%20b/c.mp4"; u != want {
		t.Errorf("URL = %q, want %q", u, want)
	}
	cfg.BaseURL = "https://cdn.example.com/"
	s = newStore(t, cfg)
	if u, _ := s.URL("id/id_recording.mp4"); u != "https://cdn.example.com/id/id_recording.mp4" {
		t.Errorf("URL with BaseURL = %q", u)
	}
}

// TestFromEnv configures the store from the prototype's variables.
func TestFromEnv(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.CreateBucket(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // Never look beyond loopback.
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretAccessKey)
	t.Setenv("AWS_REGION", s3test.Region)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	t.Setenv("S3_BUCKET", bucket)
	t.Setenv("BASE_CDN_URL", "https://cdn.example.com")
	cfg, err := s3.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, cfg)
	if _, err := s.Put(t.Context(), "env", bytes.NewReader([]byte("env")), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.URL("env"); u != "https://cdn.example.com/env" {
		t.Errorf("URL = %q", u)
	}
	// Without a CDN, the endpoint from AWS_ENDPOINT_URL_S3, path style.
	t.Setenv("BASE_CDN_URL", "")
	cfg, err = s3.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := newStore(t, cfg).URL("env"); u != srv.Endpoint+"/"+bucket+"/env" {
		t.Errorf("URL = %q, want the endpoint's", u)
	}
	// S3_ENDPOINT, as the bot's .env may set it, instead.
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("S3_ENDPOINT", srv.Endpoint)
	if cfg, err = s3.ConfigFromEnv(); err != nil || cfg.Endpoint != srv.Endpoint {
		t.Fatalf("ConfigFromEnv with S3_ENDPOINT = %+v, %v", cfg.Endpoint, err)
	}
	if _, err := newStore(t, cfg).Stat(t.Context(), "env"); err != nil {
		t.Errorf("Stat through S3_ENDPOINT: %v", err)
	}
	t.Setenv("S3_BUCKET", "")
	if _, err := s3.ConfigFromEnv(); !errors.Is(err, s3.ErrNoBucket) {
		t.Errorf("ConfigFromEnv without S3_BUCKET: %v, want s3.ErrNoBucket", err)
	}
}

// TestAbortUploadsKeepsRecent checks that AbortUploads spares uploads
// younger than its threshold (someone else's upload in progress).
func TestAbortUploadsKeepsRecent(t *testing.T) {
	t.Parallel()
	srv, bucket, cfg := setup(t)
	s := newStore(t, cfg)
	_, err := srv.Client().CreateMultipartUpload(t.Context(), &awss3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("p/x")})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.AbortUploads(t.Context(), "p/", time.Hour); err != nil || n != 0 {
		t.Fatalf("AbortUploads(1h) = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.AbortUploads(t.Context(), "other/", 0); err != nil || n != 0 {
		t.Fatalf("AbortUploads(other/) = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.AbortUploads(t.Context(), "p/", 0); err != nil || n != 1 {
		t.Fatalf("AbortUploads(0) = %d, %v; want 1, nil", n, err)
	}
	assertNoUploads(t, srv, bucket)
}

// TestUploadSessionServerStopped stops the server in the middle of a
// session upload: the objects sent before are stored, the others are
// reported failed, the local files stay; after a restart the same call
// sends only what is missing.
func TestUploadSessionServerStopped(t *testing.T) {
	t.Parallel()
	srv, bucket, cfg := setup(t)
	s := newStore(t, cfg)
	sess := storagetest.NewSession(t, t.TempDir())
	stopAt := sess.ID + "/alice_video.mp4"
	opts := storage.UploadOptions{
		Manifest: true, Participants: true, DeleteLocal: true,
		Progress: func(p storage.Progress) {
			if p.Key == stopAt {
				srv.Stop()
			}
		},
	}
	res, err := storage.UploadSession(t.Context(), s, sess.Manifest, opts)
	if !errors.Is(err, storage.ErrIncomplete) || !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("UploadSession with the server stopped: %v, want ErrIncomplete and ErrUnavailable", err)
	}
	stored := map[string]storage.Status{}
	for _, o := range res.Objects {
		stored[o.Key] = o.Status
	}
	t.Logf("first run: %v", stored)
	if stored[sess.ID+"/"+sess.ID+"_recording.mp4"] != storage.StatusUploaded || stored[sess.ID+"/session.json"] != storage.StatusUploaded {
		t.Errorf("objects sent before the stop are not reported uploaded: %v", stored)
	}
	if len(res.Failed()) != 4 {
		t.Errorf("failed = %d objects, want the 4 participant files", len(res.Failed()))
	}
	sess.CheckLocalIntact(t)

	srv.Restart()
	opts.Progress = nil
	res, err = storage.UploadSession(t.Context(), s, sess.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Objects {
		want := storage.StatusUploaded
		if stored[o.Key] == storage.StatusUploaded {
			want = storage.StatusPresent
		}
		if o.Status != want || !o.Deleted {
			t.Errorf("second run: %s is %v (deleted %v), want %v and deleted", o.Key, o.Status, o.Deleted, want)
		}
	}
	assertNoUploads(t, srv, bucket)
	// Everything is in the bucket, whole.
	for _, key := range sess.Keys(sess.ID + "/")[:6] {
		if _, err := s.Stat(t.Context(), key); err != nil {
			t.Errorf("Stat(%s): %v", key, err)
		}
	}
}

// TestPartBoundaries round-trips sizes around the part size, where the
// single-request and multipart paths meet and where the last part is
// full or empty.
func TestPartBoundaries(t *testing.T) {
	t.Parallel()
	srv, bucket, cfg := setup(t)
	s := newStore(t, cfg)
	for _, size := range []int{s3.MinPartSize - 1, s3.MinPartSize, s3.MinPartSize + 1, 2 * s3.MinPartSize} {
		data := bytes.Repeat([]byte{byte(size)}, size)
		key := "b/" + strconv.Itoa(size)
		obj, err := s.Put(t.Context(), key, io.MultiReader(bytes.NewReader(data)), storage.PutOptions{})
		if err != nil || obj.Size != int64(size) {
			t.Fatalf("Put of %d bytes = %+v, %v", size, obj, err)
		}
		rc, st, err := s.Get(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, data) || st.Size != int64(size) {
			t.Fatalf("Get of %d bytes: %d bytes back, %v", size, len(got), err)
		}
	}
	assertNoUploads(t, srv, bucket)
}

// TestURLAWS checks the URLs of a bucket on AWS itself. No request is made.
func TestURLAWS(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	for _, tc := range []struct {
		addressing s3.Addressing
		want       string
	}{
		{s3.AddressingAuto, "https://my-bucket.s3.eu-west-3.amazonaws.com/s/a%20b.mp4"},
		{s3.AddressingVirtualHost, "https://my-bucket.s3.eu-west-3.amazonaws.com/s/a%20b.mp4"},
		{s3.AddressingPath, "https://s3.eu-west-3.amazonaws.com/my-bucket/s/a%20b.mp4"},
	} {
		s := newStore(t, s3.Config{
			Bucket: "my-bucket", Region: "eu-west-3", Addressing: tc.addressing,
			AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SkipBucketCheck: true,
		})
		if u, err := s.URL("s/a b.mp4"); err != nil || u != tc.want {
			t.Errorf("URL with addressing %d = %q, %v; want %q", tc.addressing, u, err, tc.want)
		}
	}
}

// TestUploadOnlyCredentials uses credentials whose bucket policy grants
// PutObject and AbortMultipartUpload only, as recorders are often given:
// New accepts them, single and multipart Puts work, Stat reports
// storage.ErrPermission, and UploadSession still verifies each upload (by
// the checks Put made while streaming) instead of failing it.
func TestUploadOnlyCredentials(t *testing.T) {
	t.Parallel()
	srv := s3test.StartWith(t, s3test.Options{IAM: true})
	bucket := srv.CreateBucket(t)
	key, secret := srv.CreateUser(t)
	policy := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["` + key + `"]},
		"Action": ["s3:PutObject", "s3:AbortMultipartUpload"], "Resource": ["arn:aws:s3:::` + bucket + `/*"]}]}`
	if _, err := srv.Client().PutBucketPolicy(t.Context(), &awss3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv, bucket)
	cfg.AccessKeyID, cfg.SecretAccessKey = key, secret
	s := newStore(t, cfg)
	for _, size := range []int{10, 2*s3.MinPartSize + 1} {
		if _, err := s.Put(t.Context(), "up/"+strconv.Itoa(size), bytes.NewReader(make([]byte, size)), storage.PutOptions{}); err != nil {
			t.Fatalf("Put of %d bytes with upload-only credentials: %v", size, err)
		}
	}
	if _, err := s.Stat(t.Context(), "up/10"); !errors.Is(err, storage.ErrPermission) {
		t.Fatalf("Stat with upload-only credentials: %v, want storage.ErrPermission", err)
	}
	sess := storagetest.NewSession(t, t.TempDir())
	res, err := storage.UploadSession(t.Context(), s, sess.Manifest, storage.UploadOptions{Manifest: true})
	if err != nil {
		t.Fatalf("UploadSession with upload-only credentials: %v", err)
	}
	// Read back with the root credentials.
	root := newStore(t, testConfig(srv, bucket))
	sess.CheckStored(t, root, res)
	assertNoUploads(t, srv, bucket)
}

// TestPresignGet downloads an object with a presigned URL, which must
// not appear in the debug logs, and checks that the URL expires.
func TestPresignGet(t *testing.T) {
	t.Parallel()
	_, _, cfg := setup(t)
	logs := captureLogs(&cfg)
	cfg.SDKLogMode = aws.LogRetries | aws.LogRequest | aws.LogResponse | aws.LogSigning
	s := newStore(t, cfg)
	data := []byte("shared with a presigned URL")
	if _, err := s.Put(t.Context(), "p/clip.mp4", bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(u string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	u, err := s.PresignGet(t.Context(), "p/clip.mp4", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, b := get(u); code != http.StatusOK || !bytes.Equal(b, data) {
		t.Fatalf("GET presigned URL: %d %q", code, b)
	}
	sig := u[strings.Index(u, "X-Amz-Signature=")+len("X-Amz-Signature="):]
	if strings.Contains(logs.String(), sig) {
		t.Error("the presigned URL's signature is in the logs")
	}
	// One second of validity, then a wait past it: refused.
	u, err = s.PresignGet(t.Context(), "p/clip.mp4", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if code, _ := get(u); code != http.StatusForbidden {
		t.Errorf("GET expired presigned URL: status %d, want 403", code)
	}
	if _, err := s.PresignGet(t.Context(), "p/clip.mp4", 8*24*time.Hour); err == nil {
		t.Error("PresignGet accepted an expiry beyond 7 days")
	}
}

// isPart matches the UploadPart requests of part n.
func isPart(n int) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == strconv.Itoa(n)
	}
}

// isComplete matches CompleteMultipartUpload requests.
func isComplete(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

// setupProxy is setup with a store that reaches the server through a
// fault-injecting proxy and logs at debug level.
func setupProxy(t *testing.T) (*s3test.Server, string, *s3test.Proxy, *s3.Store, *s3test.Buffer) {
	t.Helper()
	srv, bucket, cfg := setup(t)
	proxy := srv.Proxy(t)
	cfg.Endpoint = proxy.Endpoint
	logs := captureLogs(&cfg)
	return srv, bucket, proxy, newStore(t, cfg), logs
}

// TestFlakyNetwork breaks connections through a proxy: parts and
// PutObjects whose connection drops (before or after the server got them)
// are retried and the upload succeeds, and so does an upload whose
// CompleteMultipartUpload answer is lost (versitygw, like AWS, answers the
// retried Complete with success).
func TestFlakyNetwork(t *testing.T) {
	t.Parallel()
	srv, bucket, proxy, s, logs := setupProxy(t)
	data := storagetest.Stream(3*s3.MinPartSize + 7)
	large, err := io.ReadAll(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		fault s3test.Fault
		data  []byte
		opts  storage.PutOptions
	}{
		{"part dropped", s3test.Fault{Match: isPart(2), Times: 2}, large, storage.PutOptions{}},
		{"part answer lost", s3test.Fault{Match: isPart(3), Times: 1, AfterServer: true}, large, storage.PutOptions{}},
		{"put dropped", s3test.Fault{Match: func(r *http.Request) bool { return r.Method == http.MethodPut }, Times: 1}, []byte("small"), storage.PutOptions{}},
		{"complete answer lost", s3test.Fault{Match: isComplete, Times: 1, AfterServer: true}, large, storage.PutOptions{}},
		{"complete answer lost with sha256", s3test.Fault{Match: isComplete, Times: 1, AfterServer: true}, large, storage.PutOptions{SHA256: sha256Hex(large)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fault := tc.fault
			proxy.Inject(&fault)
			key := "flaky/" + strings.ReplaceAll(tc.name, " ", "-")
			obj, err := s.Put(t.Context(), key, bytes.NewReader(tc.data), tc.opts)
			if err != nil {
				t.Fatalf("Put through a flaky network: %v\nlogs:\n%s", err, logs)
			}
			if hits := proxy.Hits(&fault); hits != fault.Times {
				t.Fatalf("the fault broke %d requests, want %d: the test proves nothing", hits, fault.Times)
			}
			if obj.Size != int64(len(tc.data)) {
				t.Fatalf("Put size %d, want %d", obj.Size, len(tc.data))
			}
			rc, _, err := s.Get(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("read back %d bytes, %v; want the %d bytes sent", len(got), err, len(tc.data))
			}
		})
	}
	for _, want := range []string{"s3: retrying"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("%q was not logged:\n%s", want, logs)
		}
	}
	assertNoUploads(t, srv, bucket)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// noSuchUpload is the answer of servers (MinIO, Ceph...) to a retried
// CompleteMultipartUpload that already succeeded; versitygw and AWS answer
// the retry with success instead.
const noSuchUpload = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>`

// TestCompleteRetryNoSuchUpload loses the answer of a completed
// CompleteMultipartUpload and answers the retry with NoSuchUpload: Put
// recognises its object by ETag (or SHA-256) and succeeds. When the first
// Complete never reached the server, the same answer is an error and
// nothing is stored.
func TestCompleteRetryNoSuchUpload(t *testing.T) {
	t.Parallel()
	srv, bucket, proxy, s, logs := setupProxy(t)
	data, err := io.ReadAll(storagetest.Stream(2*s3.MinPartSize + 5))
	if err != nil {
		t.Fatal(err)
	}
	recovered := 0
	for _, tc := range []struct {
		name      string
		reached   bool
		opts      storage.PutOptions
		wantError bool
	}{
		{"completed, by ETag", true, storage.PutOptions{}, false},
		{"completed, by SHA-256", true, storage.PutOptions{SHA256: sha256Hex(data)}, false},
		{"never completed", false, storage.PutOptions{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost := &s3test.Fault{Match: isComplete, Times: 1, AfterServer: tc.reached}
			answer := &s3test.Fault{Match: isComplete, Times: 1, Status: http.StatusNotFound, Body: noSuchUpload}
			proxy.Inject(lost)
			proxy.Inject(answer)
			key := "nsu/" + strings.ReplaceAll(tc.name, " ", "-")
			_, err := s.Put(t.Context(), key, bytes.NewReader(data), tc.opts)
			if proxy.Hits(lost) != 1 || proxy.Hits(answer) != 1 {
				t.Fatalf("faults hit %d and %d times, want 1 and 1", proxy.Hits(lost), proxy.Hits(answer))
			}
			if tc.wantError {
				if err == nil {
					t.Fatal("Put succeeded though the upload was never completed")
				}
				if _, err := s.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("Stat after the failed Put: %v, want storage.ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			recovered++
			if n := strings.Count(logs.String(), "completed by an attempt whose answer was lost"); n != recovered {
				t.Errorf("%d recoveries logged, want %d", n, recovered)
			}
		})
	}
	assertNoUploads(t, srv, bucket)
}

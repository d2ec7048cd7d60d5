package bot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/roomtape/roomtape/internal/syncbuf"
	"github.com/roomtape/roomtape/storage/s3/s3test"
	"github.com/roomtape/roomtape/timeline/manifest"
)

// s3Env is the bot's environment for the test server, as a .env file
// would give it.
func s3Env(srv *s3test.Server, bucket, dir string) map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID": srv.AccessKeyID, "AWS_SECRET_ACCESS_KEY": srv.SecretAccessKey,
		"AWS_REGION": s3test.Region, "S3_BUCKET": bucket, "S3_ENDPOINT": srv.Endpoint,
		"BASE_CDN_URL": "https://cdn.example.test/rec", "RECORDINGS_DIR": dir,
		"OUTPUT_WIDTH": "320", "OUTPUT_HEIGHT": "180", "LOG_LEVEL": "DEBUG",
	}
}

// listKeys lists the keys in bucket with the server's own client.
func listKeys(t *testing.T, srv *s3test.Server, bucket string) []string {
	t.Helper()
	out, err := srv.Client().ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// shortDemo are the arguments of the shortest demo, small and fast.
var shortDemo = []string{
	"--env-file", "", "--demo-duration", "10s", "--demo-replay", "--demo-width", "320", "--demo-height", "180",
	"--preset", "ultrafast",
}

// TestUpload runs a short demo that uploads to a real S3 server
// (versitygw): the MP4, session.json and the participants' files are
// stored, the printed URL is the CDN's, and no secret reaches the logs.
func TestUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("records a 10 s session")
	}
	t.Parallel()
	d := runUploadDemo(t, "--upload-all", "--log-json")
	srv, bucket, dir, stdout, stderr := d.srv, d.bucket, d.dir, &d.stdout, &d.stderr
	sessions, _ := filepath.Glob(filepath.Join(dir, "*", "session.json"))
	if len(sessions) != 1 {
		t.Fatalf("sessions %v", sessions)
	}
	m, err := manifest.Load(sessions[0])
	if err != nil {
		t.Fatal(err)
	}
	id := m.SessionID
	files := listKeys(t, srv, bucket)
	want := []string{id + "/" + id + "_recording.mp4", id + "/session.json"}
	for _, p := range m.Participants {
		want = append(want, id+"/"+filepath.Base(p.VideoPath), id+"/"+filepath.Base(p.AudioPath))
	}
	for _, k := range want {
		if !slices.Contains(files, k) {
			t.Errorf("object %s not in the bucket: %v", k, files)
		}
	}
	if url := "URL: https://cdn.example.test/rec/" + id + "/" + id + "_recording.mp4"; !strings.Contains(stdout.String(), url) {
		t.Errorf("stdout lacks %q", url)
	}
	// Local files are kept.
	if _, err := os.Stat(filepath.Join(dir, id, id+"_recording.mp4")); err != nil {
		t.Error(err)
	}
	logs := stderr.String()
	if !strings.Contains(logs, `"msg":"uploaded"`) && !strings.Contains(logs, "upload") {
		t.Errorf("no upload in the debug logs:\n%s", logs)
	}
	for _, secret := range []string{srv.SecretAccessKey, srv.AccessKeyID} {
		if strings.Contains(logs, secret) || strings.Contains(stdout.String(), secret) {
			t.Errorf("secret %q appears in the output", secret)
		}
	}
}

// TestUploadFails stops the S3 server while the demo records: the bot
// exits with ErrUpload after composing, and every file stays on disk.
func TestUploadFails(t *testing.T) {
	if testing.Short() {
		t.Skip("records a 10 s session")
	}
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.CreateBucket(t)
	dir := t.TempDir()
	cfg, err := ParseArgs(shortDemo, mapEnv(s3Env(srv, bucket, dir)), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	res, err := Run(t.Context(), cfg, Options{
		Out: &stdout, Logger: testLogger(t),
		OnListen: func(string) { srv.Stop() }, // the bucket was checked; now it is gone
	})
	t.Logf("stdout:\n%s", stdout.String())
	if !errors.Is(err, ErrUpload) {
		t.Fatalf("err %v, want ErrUpload", err)
	}
	if !strings.Contains(stdout.String(), "Upload failed; recording kept in "+res.SessionDir) {
		t.Errorf("stdout does not say the recording is kept")
	}
	for _, f := range []string{res.ManifestPath, res.Output} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("local file %s: %v", f, err)
		}
	}
}

// TestUploadAudioM4A records with --audio-m4a: the audio-only M4A is
// written beside the MP4 and uploaded with it (without --upload-all).
func TestUploadAudioM4A(t *testing.T) {
	if testing.Short() {
		t.Skip("records a 10 s session")
	}
	t.Parallel()
	d := runUploadDemo(t, "--audio-m4a")
	srv, bucket, dir := d.srv, d.bucket, d.dir
	m4as, _ := filepath.Glob(filepath.Join(dir, "*", "*_recording.m4a"))
	if len(m4as) != 1 {
		t.Fatalf("audio-only files %v, want one", m4as)
	}
	id := filepath.Base(filepath.Dir(m4as[0]))
	files := listKeys(t, srv, bucket)
	for _, k := range []string{id + "/" + id + "_recording.mp4", id + "/" + id + "_recording.m4a"} {
		if !slices.Contains(files, k) {
			t.Errorf("object %s not in the bucket: %v", k, files)
		}
	}
	if slices.Contains(files, id+"/session.json") {
		t.Errorf("session.json uploaded without --upload-all: %v", files)
	}
}

// uploadDemo is a short demo recorded into dir and uploaded to bucket.
type uploadDemo struct {
	srv         *s3test.Server
	bucket, dir string
	stdout      bytes.Buffer
	stderr      syncbuf.Buffer
}

// runUploadDemo runs the short demo with args and an S3 server.
func runUploadDemo(t *testing.T, args ...string) *uploadDemo {
	t.Helper()
	d := &uploadDemo{srv: s3test.Start(t), dir: t.TempDir()}
	d.bucket = d.srv.CreateBucket(t)
	err := Main(t.Context(), append(slices.Clone(shortDemo), args...), mapEnv(s3Env(d.srv, d.bucket, d.dir)), &d.stdout, &d.stderr, nil)
	t.Logf("stdout:\n%s", d.stdout.String())
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, d.stderr.String())
	}
	return d
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/s3"
	"github.com/roomtape/roomtape/storage/s3/s3test"
)

// TestRunFromStore composes a session from S3 (versitygw) alone and
// stores the output beside it; a rerun downloads nothing twice and leaves
// one output object under the same key.
func TestRunFromStore(t *testing.T) {
	path, m := makeSession(t)
	srv := s3test.Start(t)
	bucket := srv.CreateBucket(t)
	t.Setenv(s3.EnvBucket, bucket)
	t.Setenv(s3.EnvEndpoint, srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretAccessKey)
	t.Setenv("AWS_REGION", s3test.Region)
	ctx := context.Background()
	store, err := s3.New(ctx, s3.Config{
		Bucket: bucket, Region: s3test.Region, Endpoint: srv.Endpoint,
		AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "rooms/s1/"
	files := []string{path}
	for _, p := range m.Participants {
		for _, tr := range p.Tracks {
			files = append(files, tr.Path)
		}
		files = append(files, p.VideoPath, p.AudioPath)
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Put(ctx, prefix+filepath.Base(f), bytes.NewReader(b), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(t.TempDir(), "work")
	args := []string{"--store-prefix", prefix, "--work", work, "--upload", "--preset", "ultrafast", "--width", "320", "--height", "180"}
	for run1 := range 2 {
		var out, errb bytes.Buffer
		if err := run(ctx, args, &out, &errb); err != nil {
			t.Fatalf("run %d: %v\n%s", run1+1, err, errb.String())
		}
		if !strings.Contains(out.String(), prefix+"s1_recording.mp4") {
			t.Errorf("run %d: stdout %q lacks the output key", run1+1, out.String())
		}
	}
	list, err := srv.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]bool{}
	for _, f := range files {
		inputs[prefix+filepath.Base(f)] = true
	}
	var outputs []string
	for _, o := range list.Contents {
		if k := aws.ToString(o.Key); !inputs[k] {
			outputs = append(outputs, k)
		}
	}
	if len(outputs) != 1 || outputs[0] != prefix+"s1_recording.mp4" {
		t.Errorf("objects added %q, want one, %ss1_recording.mp4", outputs, prefix)
	}
	if _, err := os.Stat(filepath.Join(work, "session.json")); err != nil {
		t.Errorf("the session is not in --work: %v", err)
	}
}

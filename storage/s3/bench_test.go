package s3_test

import (
	"fmt"
	"testing"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/s3"
	"github.com/roomtape/roomtape/storage/s3/s3test"
	"github.com/roomtape/roomtape/storage/storagetest"
)

// benchSize is the object uploaded by BenchmarkPut: the size of a long
// session's composed MP4.
const benchSize = storagetest.BenchSize

// BenchmarkPut uploads a 200 MB object to a local versitygw (posix backend
// on the test's temporary directory) through the multipart path. Run it
// with:
//
//	go test ./storage/s3 -run '^$' -bench Put -benchtime 3x
func BenchmarkPut(b *testing.B) {
	srv := s3test.Start(b)
	for _, tc := range []struct {
		partSize    int64
		concurrency int
	}{
		{s3.DefaultPartSize, 1},
		{s3.DefaultPartSize, s3.DefaultConcurrency},
		{16 << 20, s3.DefaultConcurrency},
	} {
		b.Run(fmt.Sprintf("part=%dMiB/conc=%d", tc.partSize>>20, tc.concurrency), func(b *testing.B) {
			bucket := srv.CreateBucket(b)
			cfg := s3.Config{
				Bucket: bucket, Region: s3test.Region, Endpoint: srv.Endpoint,
				AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey,
				PartSize: tc.partSize, Concurrency: tc.concurrency,
			}
			s, err := s3.New(b.Context(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(benchSize)
			for b.Loop() {
				obj, err := s.Put(b.Context(), "bench/final.mp4", storagetest.Stream(benchSize), storage.PutOptions{ContentType: "video/mp4"})
				if err != nil || obj.Size != benchSize {
					b.Fatalf("Put = %+v, %v", obj, err)
				}
			}
		})
	}
}

package s3_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/roomtape/roomtape/storage"
	"github.com/roomtape/roomtape/storage/s3"
	"github.com/roomtape/roomtape/storage/s3/s3test"
)

// benchSize is the object uploaded by BenchmarkPut: the size of a long
// session's composed MP4.
const benchSize = 200_000_000

// patternReader streams n bytes cycling over a random block, without
// holding the object in memory and without io.WriterTo or Seek.
type patternReader struct {
	block []byte
	off   int
	left  int64
}

func newPatternReader(n int64) *patternReader {
	block := make([]byte, 1<<20+13) // Odd length: parts are not all alike.
	r := rand.New(rand.NewPCG(1, 2))
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	return &patternReader{block: block, left: n}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.left)]
	n := 0
	for n < len(b) {
		c := copy(b[n:], p.block[p.off:])
		n += c
		p.off = (p.off + c) % len(p.block)
	}
	p.left -= int64(n)
	return n, nil
}

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
				obj, err := s.Put(b.Context(), "bench/final.mp4", newPatternReader(benchSize), storage.PutOptions{ContentType: "video/mp4"})
				if err != nil || obj.Size != benchSize {
					b.Fatalf("Put = %+v, %v", obj, err)
				}
			}
		})
	}
}

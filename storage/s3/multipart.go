package s3

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is S3's integrity check, not security.
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/roomtape/roomtape/storage"
)

// upload is one multipart upload in progress.
type upload struct {
	s        *Store
	key      string
	id       string
	partSize int64

	mu    sync.Mutex
	parts []types.CompletedPart
	md5s  map[int32][]byte // MD5 of each part, for the object's ETag.
	err   error            // First part failure.
}

// putMultipart streams src (whose first part, already read, is first)
// through a multipart upload. h is the SHA-256 of everything read from src.
func (s *Store) putMultipart(ctx context.Context, key string, src io.Reader, h hash.Hash, first []byte, partSize int64, opts storage.PutOptions) (storage.Object, error) {
	in := &awss3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.cfg.Bucket),
		Key:         aws.String(key),
		ContentType: aws.String(opts.ContentType),
	}
	if opts.SHA256 != "" {
		in.Metadata = map[string]string{metaSHA256: opts.SHA256}
	}
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		s.bufs.Put(&first)
		return storage.Object{}, s.wrap(err, "create multipart upload", key)
	}
	u := &upload{s: s, key: key, id: aws.ToString(out.UploadId), partSize: partSize, md5s: map[int32][]byte{}}
	s.log.Debug("s3: multipart upload started", "bucket", s.cfg.Bucket, "key", key, "part_size", partSize)

	size, err := u.send(ctx, src, first)
	if err == nil {
		sum := hex.EncodeToString(h.Sum(nil))
		if opts.SHA256 != "" && opts.SHA256 != sum {
			err = fmt.Errorf("s3: put %q: %w: content has SHA-256 %s, expected %s", key, storage.ErrChecksum, sum, opts.SHA256)
		} else if err = u.complete(ctx, size, opts.SHA256); err == nil {
			return storage.Object{Key: key, Size: size, SHA256: sum, ContentType: opts.ContentType}, nil
		}
	}
	return storage.Object{}, errors.Join(err, u.abort(ctx))
}

// send uploads the parts of src, Config.Concurrency at a time, and returns
// the number of bytes sent.
func (u *upload) send(ctx context.Context, src io.Reader, first []byte) (int64, error) {
	s := u.s
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// free holds the buffers not in use; at most Concurrency+1 exist: one
	// being filled while Concurrency are sent.
	free := make(chan []byte, s.cfg.Concurrency+1)
	allocated := 1
	var wg sync.WaitGroup
	var size int64
	var readErr error
	data := first
	for num := int32(1); ; num++ {
		if num > MaxParts {
			readErr = fmt.Errorf("s3: put %q: more than %d parts of %d bytes", u.key, MaxParts, u.partSize)
			break
		}
		size += int64(len(data))
		part := data
		wg.Go(func() {
			defer func() { free <- part[:cap(part)] }()
			if err := u.sendPart(pctx, num, part); err != nil {
				cancel(err)
			}
		})
		if int64(len(data)) < u.partSize {
			break // The short read was the last part.
		}
		var buf []byte
		if allocated <= s.cfg.Concurrency {
			buf = s.getBuf(u.partSize)
			allocated++
		} else {
			select {
			case buf = <-free:
			case <-pctx.Done():
			}
		}
		if buf == nil {
			break // A part failed or ctx is done.
		}
		n, err := io.ReadFull(storage.ContextReader(pctx, src), buf)
		if errors.Is(err, io.EOF) {
			free <- buf // Nothing more: the previous part was the last.
			break
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			readErr = fmt.Errorf("s3: put %q: reading content: %w", u.key, err)
			free <- buf
			break
		}
		data = buf[:n]
	}
	if readErr != nil {
		cancel(readErr)
	}
	wg.Wait()
	close(free)
	for buf := range free {
		s.bufs.Put(&buf)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		return 0, fmt.Errorf("s3: put %q: %w", u.key, context.Cause(ctx))
	case u.err != nil:
		return 0, u.err
	case readErr != nil:
		return 0, readErr
	}
	return size, nil
}

// sendPart uploads part num with retries and records its ETag.
func (u *upload) sendPart(ctx context.Context, num int32, data []byte) error {
	md5sum := md5.Sum(data) //nolint:gosec // See import.
	var etag *string
	err := u.s.attempts(ctx, fmt.Sprintf("upload part %d", num), u.key, func(ctx context.Context) error {
		out, err := u.s.client.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket:        aws.String(u.s.cfg.Bucket),
			Key:           aws.String(u.key),
			UploadId:      aws.String(u.id),
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))),
			ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(md5sum[:])),
		}, noSDKRetries)
		if err == nil {
			etag = out.ETag
		}
		return err
	})
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		if u.err == nil && ctx.Err() == nil {
			u.err = err
		}
		return err
	}
	u.parts = append(u.parts, types.CompletedPart{ETag: etag, PartNumber: aws.Int32(num)})
	u.md5s[num] = md5sum[:]
	return nil
}

// complete completes the upload with its parts in order. When the server
// answers NoSuchUpload, an earlier attempt whose response was lost may have
// completed it: the object is then accepted if it is the upload's, by size
// and by ETag (S3's MD5 of the parts' MD5s) or recorded SHA-256.
func (u *upload) complete(ctx context.Context, size int64, sum string) error {
	slices.SortFunc(u.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err := u.s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(u.s.cfg.Bucket),
		Key:             aws.String(u.key),
		UploadId:        aws.String(u.id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	})
	if err != nil && isCode(err, "NoSuchUpload") && u.completedEarlier(ctx, size, sum) {
		u.s.log.Debug("s3: multipart upload was completed by an attempt whose answer was lost", "key", u.key)
		return nil
	}
	if err != nil {
		return u.s.wrap(err, "complete multipart upload", u.key)
	}
	return nil
}

// completedEarlier reports whether the object under the key is the one
// this upload would have completed.
func (u *upload) completedEarlier(ctx context.Context, size int64, sum string) bool {
	out, err := u.s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(u.s.cfg.Bucket), Key: aws.String(u.key)})
	if err != nil || aws.ToInt64(out.ContentLength) != size {
		return false
	}
	if sum != "" && out.Metadata[metaSHA256] == sum {
		return true
	}
	return strings.Trim(aws.ToString(out.ETag), `"`) == u.etag()
}

// etag returns the ETag S3 gives the completed object: the hex MD5 of the
// parts' binary MD5s, a dash and the number of parts.
func (u *upload) etag() string {
	h := md5.New() //nolint:gosec // See import.
	for _, p := range u.parts {
		h.Write(u.md5s[*p.PartNumber])
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(u.parts))
}

// abort aborts the upload so that its parts are deleted, even when ctx is
// cancelled. A failure is returned for the caller to report; it leaves the
// parts on the server until AbortUploads or a lifecycle rule removes them.
func (u *upload) abort(ctx context.Context) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := u.s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(u.s.cfg.Bucket),
		Key:      aws.String(u.key),
		UploadId: aws.String(u.id),
	})
	if err != nil && !isCode(err, "NoSuchUpload") {
		u.s.log.Warn("s3: cannot abort multipart upload; its parts stay until AbortUploads removes them",
			"bucket", u.s.cfg.Bucket, "key", u.key, "err", u.s.red.redact(err.Error()))
		return fmt.Errorf("multipart upload left on the server (run AbortUploads later): %w", u.s.wrap(err, "abort multipart upload", u.key))
	}
	u.s.log.Debug("s3: multipart upload aborted", "bucket", u.s.cfg.Bucket, "key", u.key)
	return nil
}

package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults of LiveOptions.
const (
	// DefaultLiveQueue bounds the files waiting to be uploaded: at 10 s
	// segments and two tracks a participant, 64 is over a minute of a
	// 16-person call falling behind before files are left to the final
	// upload.
	DefaultLiveQueue = 64
	// DefaultLiveRetries is how many times a failed upload is retried.
	DefaultLiveRetries = 5
	// DefaultRetryDelay is the first wait before a retry; it doubles up
	// to maxRetryDelay.
	DefaultRetryDelay = 500 * time.Millisecond
	// DefaultRewriteInterval is the least time between two uploads of a
	// file that is rewritten (session.json, once a second while a call
	// records): a store is not sent a PUT a second per call.
	DefaultRewriteInterval = 2 * time.Second
	// maxRetryDelay bounds the backoff between retries.
	maxRetryDelay = 10 * time.Second
)

// ErrConfig is returned for unusable options.
var ErrConfig = errors.New("storage: bad config")

// LiveOptions tune a [LiveUploader]. The zero value works.
type LiveOptions struct {
	// Prefix is prepended to a file's base name to make its key, e.g.
	// "sessions/<id>/" as UploadSession's default. (optional) defaults
	// to "", the base names alone.
	Prefix string
	// Queue bounds the files waiting. A file notified while the queue is
	// full is not uploaded live (counted in LiveStats.Dropped and
	// logged); the final [UploadSession] stores it. (optional) defaults
	// to DefaultLiveQueue.
	Queue int
	// Retries is how many times a failed upload is retried, waiting
	// RetryDelay, then twice as long each time (at most 10 s). A file
	// that still fails is left to the final upload (LiveStats.Failed).
	// (optional) defaults to DefaultLiveRetries; negative: no retry.
	Retries int
	// RetryDelay (optional) defaults to DefaultRetryDelay.
	RetryDelay time.Duration
	// RewriteInterval is the least time between two uploads of the same
	// file (a rewritten session.json): a notification that comes sooner
	// waits for it, and later ones coalesce with it; but a file stored
	// for the first time (a segment) lets the next rewritten one go at
	// once, so that the session.json listing the segment follows it.
	// Close uploads what waits at once. (optional) defaults to
	// DefaultRewriteInterval; negative: no wait.
	RewriteInterval time.Duration
	// OnUpload (optional) is called from the uploader's goroutine after
	// each file was stored or given up; it must not block long.
	OnUpload func(LiveUpload)
	// Logger (optional) defaults to discarding.
	Logger *slog.Logger
}

// LiveUpload reports one file a [LiveUploader] stored or gave up.
type LiveUpload struct {
	// File is the local path and Key the object's key.
	File, Key string
	// Size is the bytes stored (0 when it failed).
	Size int64
	// Latency is from the (first pending) notification to the object
	// being stored, retries and the wait of a rewritten file included.
	Latency time.Duration
	// Attempts is how many Puts were tried.
	Attempts int
	// Err is why the file is not stored, nil when it is.
	Err error
}

// LiveStats counts what a [LiveUploader] did.
type LiveStats struct {
	// Uploaded files and their Bytes.
	Uploaded, Bytes int64
	// Failed counts files given up after retries; Dropped those notified
	// while the queue was full or after Close.
	Failed, Dropped int64
	// MaxLatency and TotalLatency are over the uploaded files (see
	// LiveUpload.Latency).
	MaxLatency, TotalLatency time.Duration
}

// LiveUploader uploads a recording's files to a Store while it records:
// [LiveUploader.Notify] queues a finished file (recorder.Config.OnFile
// takes it: each closed segment and each rewrite of session.json) and a
// goroutine uploads the queue in order, retrying failures, so that a
// recorder that dies loses only what was not finished or not yet
// uploaded. Notify never blocks; the queue is bounded (what overflows or
// keeps failing is counted and left to the final [UploadSession], which
// sends only what the store lacks: objects are put with their SHA-256).
// A file notified again while it waits is uploaded once, with the
// content it has then.
//
// Ownership: mu guards the queue, the pending set, closed and the stats;
// the upload goroutine (run) owns last and does all store calls without
// mu; OnUpload runs on it with no lock held.
type LiveUploader struct {
	store  Store
	opts   LiveOptions
	log    *slog.Logger
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: the queue changed or Close began
	done   chan struct{} // closed when run returns

	mu      sync.Mutex
	queue   []string             // paths in notification order
	pending map[string]time.Time // queued path -> first notification
	closed  bool
	stats   LiveStats

	// last is when run last uploaded each path; flush makes the next
	// rewritten file go without waiting (a new file was just stored, and
	// the index listing it should follow). run owns both.
	last  map[string]time.Time
	flush bool
}

// NewLiveUploader starts uploading to s what [LiveUploader.Notify] is
// given; ctx bounds the whole upload (its end abandons what waits). The
// caller must call [LiveUploader.Close].
func NewLiveUploader(ctx context.Context, s Store, opts LiveOptions) (*LiveUploader, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil store", ErrConfig)
	}
	if opts.Prefix != "" {
		if err := ValidKey(opts.Prefix + "x"); err != nil {
			return nil, fmt.Errorf("%w: prefix %q: %w", ErrConfig, opts.Prefix, err)
		}
	}
	if opts.Queue < 0 || opts.RetryDelay < 0 {
		return nil, fmt.Errorf("%w: queue %d, retry delay %v", ErrConfig, opts.Queue, opts.RetryDelay)
	}
	if opts.Queue == 0 {
		opts.Queue = DefaultLiveQueue
	}
	if opts.Retries == 0 {
		opts.Retries = DefaultLiveRetries
	}
	opts.Retries = max(opts.Retries, 0)
	if opts.RetryDelay == 0 {
		opts.RetryDelay = DefaultRetryDelay
	}
	if opts.RewriteInterval == 0 {
		opts.RewriteInterval = DefaultRewriteInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	u := &LiveUploader{
		store: s, opts: opts, log: log, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		pending: map[string]time.Time{}, last: map[string]time.Time{},
	}
	go u.run(ctx)
	return u, nil
}

// Key returns the object key of a local file: the prefix and its base
// name.
func (u *LiveUploader) Key(path string) string { return u.opts.Prefix + filepath.Base(path) }

// Notify queues the file at path for upload. It never blocks: a full
// queue, or a closed uploader, drops the notification (counted). It is
// safe for concurrent use.
func (u *LiveUploader) Notify(path string) {
	u.mu.Lock()
	switch {
	case u.closed:
		u.stats.Dropped++
		u.mu.Unlock()
		u.log.Warn("storage: live upload closed; file left to the final upload", "file", path)
		return
	case !u.pending[path].IsZero():
		u.mu.Unlock() // coalesced with the waiting one
		return
	case len(u.queue) >= u.opts.Queue:
		u.stats.Dropped++
		u.mu.Unlock()
		u.log.Warn("storage: live upload queue full; file left to the final upload", "file", path, "queue", u.opts.Queue)
		return
	}
	u.queue = append(u.queue, path)
	u.pending[path] = time.Now()
	u.mu.Unlock()
	u.signal()
}

func (u *LiveUploader) signal() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters so far.
func (u *LiveUploader) Stats() LiveStats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stats
}

// Close uploads what is queued (a rewritten file without waiting for its
// interval), stops, and returns an error wrapping ErrIncomplete when some
// notified file is not stored (failed or dropped: the final
// UploadSession must send it). If ctx ends first, what still waits is
// abandoned. It is idempotent: later calls wait like the first.
func (u *LiveUploader) Close(ctx context.Context) error {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.signal()
	select {
	case <-u.done:
	case <-ctx.Done():
		u.cancel()
		<-u.done
	}
	u.cancel()
	u.mu.Lock()
	defer u.mu.Unlock()
	st := u.stats
	if n := len(u.queue); n > 0 || st.Failed > 0 || st.Dropped > 0 {
		return fmt.Errorf("%w: live upload: %d failed, %d dropped, %d abandoned", ErrIncomplete, st.Failed, st.Dropped, n)
	}
	return nil
}

// next takes the first queued path that may be uploaded now; otherwise
// it returns how long to wait for one (0: nothing queued) and whether the
// uploader is closed.
func (u *LiveUploader) next(now time.Time) (path string, queued time.Time, wait time.Duration, closed bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, p := range u.queue {
		ready := u.closed || u.opts.RewriteInterval < 0
		if _, seen := u.last[p]; seen && u.flush {
			ready, u.flush = true, false
		}
		if !ready {
			last, seen := u.last[p]
			ready = !seen || now.Sub(last) >= u.opts.RewriteInterval
			if !ready {
				w := u.opts.RewriteInterval - now.Sub(last)
				if wait == 0 || w < wait {
					wait = w
				}
				continue
			}
		}
		u.queue = append(u.queue[:i:i], u.queue[i+1:]...)
		queued = u.pending[p]
		delete(u.pending, p)
		return p, queued, 0, u.closed
	}
	return "", time.Time{}, wait, u.closed
}

// run uploads the queue until Close has emptied it or ctx ends.
func (u *LiveUploader) run(ctx context.Context) {
	defer close(u.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p, queued, wait, closed := u.next(time.Now())
		if p != "" {
			u.upload(ctx, p, queued)
			continue
		}
		if closed && wait == 0 {
			return
		}
		var tc <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-u.wake:
		case <-tc:
		}
		timer.Stop()
	}
}

// upload stores one file, retrying, and reports it.
func (u *LiveUploader) upload(ctx context.Context, path string, queued time.Time) {
	key := u.Key(path)
	r := LiveUpload{File: path, Key: key}
	delay := u.opts.RetryDelay
	for r.Attempts = 1; ; r.Attempts++ {
		var obj Object
		obj, r.Err = u.put(ctx, path, key)
		if r.Err == nil {
			r.Size = obj.Size
			break
		}
		if ctx.Err() != nil || errors.Is(r.Err, ErrInvalidKey) || errors.Is(r.Err, os.ErrNotExist) || r.Attempts > u.opts.Retries {
			break
		}
		u.log.Debug("storage: live upload failed; retrying", "key", key, "attempt", r.Attempts, "in", delay, "err", r.Err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		delay = min(2*delay, maxRetryDelay)
	}
	now := time.Now()
	r.Latency = now.Sub(queued)
	if _, seen := u.last[path]; !seen && r.Err == nil {
		u.flush = true
	}
	u.last[path] = now
	u.mu.Lock()
	if r.Err == nil {
		u.stats.Uploaded++
		u.stats.Bytes += r.Size
		u.stats.TotalLatency += r.Latency
		u.stats.MaxLatency = max(u.stats.MaxLatency, r.Latency)
	} else {
		u.stats.Failed++
	}
	u.mu.Unlock()
	if r.Err == nil {
		u.log.Debug("storage: live upload", "key", key, "size", r.Size, "latency", r.Latency)
	} else {
		u.log.Warn("storage: live upload failed; file left to the final upload", "file", path, "key", key, "attempts", r.Attempts, "err", r.Err)
	}
	if u.opts.OnUpload != nil {
		u.opts.OnUpload(r)
	}
}

// put hashes the file, then streams it to key with its size and SHA-256
// (so that UploadSession later finds it present). A file rewritten by
// rename (session.json) is read through one open descriptor: one
// version, whole.
func (u *LiveUploader) put(ctx context.Context, path, key string) (Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return Object{}, fmt.Errorf("local file: %w", err)
	}
	defer f.Close() //nolint:errcheck // Read-only file.
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Object{}, fmt.Errorf("local file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Object{}, fmt.Errorf("local file: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	obj, err := u.store.Put(ctx, key, io.LimitReader(f, n), PutOptions{ContentType: ContentType(path), Size: n, SHA256: sum})
	if err != nil {
		return Object{}, err
	}
	return obj, nil
}

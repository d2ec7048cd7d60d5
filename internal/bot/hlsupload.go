package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"sync"

	"github.com/roomtape/roomtape/storage"
)

// hlsUploadQueue bounds the HLS files waiting for upload while live; when
// the store falls behind further, the rest is sent by the sweep at the end.
const hlsUploadQueue = 64

// hlsUploader uploads a live HLS stream's files as they close: its run
// goroutine owns the uploads; closed (OnEvent, on the HLS output's
// goroutine) only queues a path, never blocking. finish sweeps the
// directory at the end for whatever was not sent and the final playlists.
type hlsUploader struct {
	store  storage.Store
	dir    string
	prefix string // key prefix of the hls/ directory
	log    *slog.Logger
	q      chan string
	done   chan struct{}
	once   sync.Once // closes q

	mu   sync.Mutex
	sent map[string]int64 // file name → size uploaded; guarded by mu
}

// startHLSUpload starts uploading the session's HLS files as they close
// when cfg streams HLS and uploads (up set); nil otherwise.
func startHLSUpload(ctx context.Context, cfg Config, up *uploader, sessionDir, sessionID string, log *slog.Logger) *hlsUploader {
	if up == nil || !cfg.HLS || cfg.Offline || cfg.NoCompose {
		return nil
	}
	return newHLSUploader(ctx, up.store, HLSDir(sessionDir), up.cfg.Prefix+sessionID+"/hls/", log.With("component", "hls-upload"))
}

func newHLSUploader(ctx context.Context, store storage.Store, dir, prefix string, log *slog.Logger) *hlsUploader {
	u := &hlsUploader{
		store: store, dir: dir, prefix: prefix, log: log,
		q: make(chan string, hlsUploadQueue), done: make(chan struct{}), sent: map[string]int64{},
	}
	go u.run(ctx)
	return u
}

// closed queues a closed file (segment or playlist).
func (u *hlsUploader) closed(path string) {
	select {
	case u.q <- path:
	default:
		u.log.Warn("HLS upload falling behind; the rest goes at the end", "file", filepath.Base(path))
	}
}

func (u *hlsUploader) run(ctx context.Context) {
	defer close(u.done)
	for path := range u.q {
		if err := u.put(ctx, path); err != nil {
			u.log.Warn("HLS upload failed; retried at the end", "file", filepath.Base(path), "error", err)
		}
	}
}

// put uploads path unless the same size was sent already (segments never
// change once closed; a playlist rewritten changes size or is sent again
// at the end).
func (u *hlsUploader) put(ctx context.Context, path string) (err error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	u.mu.Lock()
	size, ok := u.sent[name]
	u.mu.Unlock()
	if ok && size == st.Size() && filepath.Ext(name) != ".m3u8" {
		return nil
	}
	ct := mime.TypeByExtension(filepath.Ext(name))
	switch filepath.Ext(name) {
	case ".m3u8":
		ct = "application/vnd.apple.mpegurl"
	case ".ts":
		ct = "video/mp2t"
	}
	if _, err := u.store.Put(ctx, u.prefix+name, f, storage.PutOptions{ContentType: ct, Size: st.Size()}); err != nil {
		return err
	}
	u.mu.Lock()
	u.sent[name] = st.Size()
	u.mu.Unlock()
	return nil
}

// stop ends the live uploads and waits for them; idempotent.
func (u *hlsUploader) stop() {
	if u == nil {
		return
	}
	u.once.Do(func() { close(u.q) })
	<-u.done
}

// finish waits for the live uploads, then uploads every segment not sent
// and the final playlists.
func (u *hlsUploader) finish(ctx context.Context) error {
	u.stop()
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return fmt.Errorf("%w: HLS: %w", ErrUpload, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || e.Name()[0] == '.' {
			continue // temporary files
		}
		if err := u.put(ctx, filepath.Join(u.dir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name(), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: HLS: %w", ErrUpload, err)
	}
	return nil
}

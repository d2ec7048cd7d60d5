// Package local is a storage.Store on a local directory.
//
// Keys map to files under the directory, "/" separating subdirectories.
// Every access goes through an os.Root, so no key, symbolic link or race can
// reach outside the directory. Put writes a temporary file beside the target,
// fsyncs it, renames it over the target and fsyncs the directory, so an
// object is replaced atomically and survives a crash once Put has returned.
//
// Because keys are paths, a key cannot name both an object and a prefix of
// other keys ("a" and "a/b"); Put returns an error for the second one.
package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/roomtape/roomtape/storage"
)

// tempMarker is part of the names of temporary files written by Put.
const tempMarker = ".tmp-"

// Config configures a Store. The zero value is valid.
type Config struct {
	// BaseURL, when set, is joined with keys by URL (e.g. the CDN or web
	// server serving the directory). (optional) defaults to "", file URLs.
	BaseURL string
	// DirPerm and FilePerm are the permissions of created directories and
	// files, before the umask. (optional) default to 0o755 and 0o644.
	DirPerm, FilePerm fs.FileMode
	// Logger receives debug messages. (optional) defaults to discarding.
	Logger *slog.Logger
}

// Store is a storage.Store on a directory. Create it with New.
type Store struct {
	root *os.Root
	dir  string
	cfg  Config
	log  *slog.Logger
}

var _ storage.Store = (*Store)(nil)

// New opens the directory dir, which must exist, as a Store.
func New(dir string, cfg Config) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("local: open %s: %w", abs, mapErr(err))
	}
	if cfg.DirPerm == 0 {
		cfg.DirPerm = 0o755
	}
	if cfg.FilePerm == 0 {
		cfg.FilePerm = 0o644
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{root: root, dir: abs, cfg: cfg, log: log}, nil
}

// Close releases the directory. Calling it more than once is harmless.
func (s *Store) Close() error {
	if err := s.root.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// Dir returns the absolute path of the store's directory.
func (s *Store) Dir() string { return s.dir }

// Put implements storage.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (obj storage.Object, err error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Object{}, fmt.Errorf("local: put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Object{}, fmt.Errorf("local: put %q: %w", key, err)
	}
	dir := path.Dir(key)
	tmp, f, err := s.createTemp(key)
	if err != nil {
		return storage.Object{}, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, closeIgnoringClosed(f))
			if rmErr := s.root.Remove(tmp); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
				s.log.Warn("local: cannot remove temporary file", "file", tmp, "err", rmErr)
			}
		}
	}()

	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), storage.ContextReader(ctx, r))
	if err != nil {
		return storage.Object{}, fmt.Errorf("local: put %q after %d bytes: %w", key, n, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if opts.SHA256 != "" && !strings.EqualFold(opts.SHA256, sum) {
		return storage.Object{}, fmt.Errorf("local: put %q: %w: content has SHA-256 %s, expected %s", key, storage.ErrChecksum, sum, opts.SHA256)
	}
	if err := f.Sync(); err != nil {
		return storage.Object{}, fmt.Errorf("local: put %q: %w", key, mapErr(err))
	}
	if err := f.Close(); err != nil {
		return storage.Object{}, fmt.Errorf("local: put %q: %w", key, mapErr(err))
	}
	// Last chance to honour a cancellation before the object becomes visible.
	if err := ctx.Err(); err != nil {
		return storage.Object{}, fmt.Errorf("local: put %q: %w", key, err)
	}
	if err := s.root.Rename(tmp, key); err != nil {
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return storage.Object{}, fmt.Errorf("local: put %q: the key is a prefix of other objects: %w", key, err)
		}
		return storage.Object{}, fmt.Errorf("local: put %q: %w", key, mapErr(err))
	}
	if err := s.syncDir(dir); err != nil {
		// The object is in place; only its durability across a crash is in doubt.
		s.log.Warn("local: cannot fsync directory", "dir", dir, "err", err)
	}
	s.log.Debug("local: put", "key", key, "size", n)
	info, err := s.root.Stat(key)
	if err != nil {
		return storage.Object{}, fmt.Errorf("local: put %q: %w", key, mapErr(err))
	}
	return storage.Object{Key: key, Size: n, SHA256: sum, ModTime: info.ModTime()}, nil
}

// isDirOrGone reports whether dir is now a directory or absent.
func (s *Store) isDirOrGone(dir string) bool {
	st, err := s.root.Stat(dir)
	return errors.Is(err, fs.ErrNotExist) || (err == nil && st.IsDir())
}

// createTemp creates the directory of key and a new temporary file in it.
func (s *Store) createTemp(key string) (string, *os.File, error) {
	dir, base := path.Split(key)
	if len(base) > storage.MaxSegmentLen-len(tempMarker)-16-1 {
		base = base[:storage.MaxSegmentLen-len(tempMarker)-16-1]
	}
	for range 100 {
		if dir != "" {
			err := s.root.MkdirAll(path.Clean(dir), s.cfg.DirPerm)
			if errors.Is(err, fs.ErrNotExist) {
				continue // A concurrent Delete removed a parent being created.
			}
			if errors.Is(err, fs.ErrExist) && s.isDirOrGone(path.Clean(dir)) {
				// A concurrent Put created the directory between
				// MkdirAll's check and its mkdir (or a Delete removed it
				// again): not an object in the way, so try again.
				continue
			}
			if err != nil {
				if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
					return "", nil, fmt.Errorf("local: put %q: a prefix of the key is an object: %w", key, err)
				}
				return "", nil, fmt.Errorf("local: put %q: %w", key, mapErr(err))
			}
		}
		var rnd [8]byte
		_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails.
		name := dir + "." + base + tempMarker + hex.EncodeToString(rnd[:])
		f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, s.cfg.FilePerm)
		// Retry on a name clash, and when a concurrent Delete removed the
		// directory it emptied between MkdirAll and OpenFile.
		if errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("local: put %q: %w", key, mapErr(err))
		}
		return name, f, nil
	}
	return "", nil, fmt.Errorf("local: put %q: cannot create a temporary file", key)
}

// syncDir fsyncs the directory dir of the root so that a rename in it is
// durable.
func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Get implements storage.Store. The Object has no SHA256; use Stat for it.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Object, error) {
	f, info, err := s.open(ctx, "get", key)
	if err != nil {
		return nil, storage.Object{}, err
	}
	return &onceCloser{File: f}, storage.Object{Key: key, Size: info.Size(), ModTime: info.ModTime()}, nil
}

// Stat implements storage.Store. It reads the file to compute its SHA-256.
func (s *Store) Stat(ctx context.Context, key string) (storage.Object, error) {
	f, info, err := s.open(ctx, "stat", key)
	if err != nil {
		return storage.Object{}, err
	}
	defer f.Close() //nolint:errcheck // Read-only file.
	h := sha256.New()
	if _, err := io.Copy(h, storage.ContextReader(ctx, f)); err != nil {
		return storage.Object{}, fmt.Errorf("local: stat %q: %w", key, mapErr(err))
	}
	return storage.Object{Key: key, Size: info.Size(), SHA256: hexSum(h), ModTime: info.ModTime()}, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// open opens the regular file of key.
func (s *Store) open(ctx context.Context, op, key string) (*os.File, fs.FileInfo, error) {
	if err := storage.ValidKey(key); err != nil {
		return nil, nil, fmt.Errorf("local: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("local: %s %q: %w", op, key, err)
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, nil, fmt.Errorf("local: %s %q: %w", op, key, mapErr(err))
	}
	info, err := f.Stat()
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("local: %s %q: %w", op, key, mapErr(err)), f.Close())
	}
	if !info.Mode().IsRegular() {
		return nil, nil, errors.Join(fmt.Errorf("local: %s %q: %w (not a regular file)", op, key, storage.ErrNotFound), f.Close())
	}
	return f, info, nil
}

// Delete implements storage.Store. It also removes the directories that the
// deletion left empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := storage.ValidKey(key); err != nil {
		return fmt.Errorf("local: delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: delete %q: %w", key, err)
	}
	info, err := s.root.Lstat(key)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil
	case err != nil:
		return fmt.Errorf("local: delete %q: %w", key, mapErr(err))
	case info.IsDir():
		return nil // A prefix of other keys, not an object.
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: delete %q: %w", key, mapErr(err))
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if s.root.Remove(dir) != nil { // Fails when not empty: stop there.
			break
		}
	}
	return nil
}

// URL implements storage.URLer: Config.BaseURL joined with key, or a file
// URL.
func (s *Store) URL(key string) (string, error) {
	if s.cfg.BaseURL != "" {
		return storage.JoinURL(s.cfg.BaseURL, key)
	}
	if err := storage.ValidKey(key); err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(s.dir) + "/" + key}
	return u.String(), nil
}

// mapErr adds the storage sentinel matching a file system error.
func mapErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: %w", storage.ErrPermission, err)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return fmt.Errorf("%w: %w", storage.ErrInvalidKey, err)
	}
	return err
}

// onceCloser makes Close idempotent.
type onceCloser struct {
	*os.File
	closed bool
}

func (o *onceCloser) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	return o.File.Close()
}

func closeIgnoringClosed(f *os.File) error {
	if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}

// Package storage publishes recordings: a small Store interface that hosts
// implement for their own backends, key rules shared by every backend, a
// URL/CDN mapping and UploadSession, which uploads a recorded session and
// verifies it before anything local may be deleted.
//
// Backends live in subpackages: storage/local (a directory on disk) and
// storage/s3 (Amazon S3 and S3-compatible servers). storage/storagetest is
// the conformance suite every Store implementation should pass.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors returned by stores, wrapped with context; test them with errors.Is.
var (
	// ErrNotFound means the object does not exist.
	ErrNotFound = errors.New("storage: object not found")
	// ErrPermission means the backend refused the operation: wrong
	// credentials, a denied policy or an unwritable directory.
	ErrPermission = errors.New("storage: permission denied")
	// ErrInvalidKey means the key breaks the rules of ValidKey.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrChecksum means the uploaded content did not match
	// PutOptions.SHA256; nothing was stored.
	ErrChecksum = errors.New("storage: checksum mismatch")
	// ErrUnavailable means the backend could not be reached or kept
	// failing after retries.
	ErrUnavailable = errors.New("storage: backend unavailable")
	// ErrIncomplete is returned by UploadSession when some objects were not
	// uploaded and verified; the result lists them.
	ErrIncomplete = errors.New("storage: upload incomplete")
)

// Object describes a stored object.
type Object struct {
	// Key is the object's key.
	Key string
	// Size is the length of the content in bytes.
	Size int64
	// SHA256 is the lowercase hex SHA-256 of the content, or "" when the
	// backend does not know it (see Store).
	SHA256 string
	// ContentType is the media type recorded with the object, or "" when
	// the backend does not record one.
	ContentType string
	// ModTime is when the object was last written; zero when unknown.
	ModTime time.Time
}

// PutOptions tune one Put. The zero value is valid.
type PutOptions struct {
	// ContentType is the media type to record with the object.
	// (optional) defaults to "application/octet-stream" where the backend
	// records one.
	ContentType string
	// Size is the expected length of the content, used only as a hint
	// (e.g. to choose a part size). (optional) defaults to 0, unknown.
	Size int64
	// SHA256 is the expected lowercase hex SHA-256 of the content. When set,
	// Put fails with ErrChecksum and stores nothing if the content streamed
	// differs, and the backend records it so that Stat can report it.
	// (optional) defaults to "", not checked.
	SHA256 string
}

// Store is a flat namespace of immutable objects addressed by keys.
//
// Contract, checked by storagetest.Run:
//
//   - Keys follow ValidKey; every method returns an error wrapping
//     ErrInvalidKey for a key that does not, before touching the backend.
//   - Put streams r to the object until io.EOF without holding the whole
//     content in memory (backends may buffer a bounded part). It returns the
//     stored Object with Key, Size and SHA256 (computed while streaming).
//     Overwriting an existing key replaces it atomically: readers see the
//     old content or the new one, never a mix. If Put fails, is cancelled
//     through ctx, or r returns an error, Put returns an error (wrapping
//     ctx.Err() or r's error) and leaves no new object, no partial upload
//     and any previous object under the key intact.
//   - Get returns the content and the Object (at least Key and Size); the
//     caller must Close the reader. Close must be idempotent.
//   - Stat returns the Object with Key, Size and, when the object was
//     written with PutOptions.SHA256 or the backend can compute it, SHA256.
//   - Get and Stat of a missing key return an error wrapping ErrNotFound.
//   - Delete removes the object; deleting a missing key is not an error.
//   - A Store is safe for concurrent use by multiple goroutines.
type Store interface {
	// Put writes the content of r under key, replacing any previous object.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (Object, error)
	// Get opens the content of the object under key.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)
	// Stat describes the object under key.
	Stat(ctx context.Context, key string) (Object, error)
	// Delete removes the object under key.
	Delete(ctx context.Context, key string) error
}

// URLer is implemented by stores whose objects have a URL.
type URLer interface {
	// URL returns where the object under key can be fetched: the
	// configured base (CDN) URL joined with the key when there is one,
	// otherwise the backend's own URL. It never returns a signed URL.
	URL(key string) (string, error)
}

// ObjectURL returns the URL of key in s: base joined with the key when base
// is not empty (a CDN in front of the store, BASE_CDN_URL in the
// prototype), otherwise s's own URL when it implements URLer.
func ObjectURL(s Store, key, base string) (string, error) {
	if base != "" {
		return JoinURL(base, key)
	}
	u, ok := s.(URLer)
	if !ok {
		return "", errors.New("storage: store has no URLs and no base URL is set")
	}
	return u.URL(key)
}

package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// UploadOptions select what UploadSession uploads. The zero value uploads
// the final MP4 only, under "<session_id>/", and deletes nothing.
type UploadOptions struct {
	// Prefix is prepended to every key. (optional) defaults to
	// "<session_id>/".
	Prefix string
	// Final is the composed recording. A relative path is relative to the
	// session directory. (optional) defaults to
	// "<session_id>_recording.mp4", the prototype's name.
	Final string
	// Manifest also uploads session.json and the transport hints file it
	// names (manifest.Session.Hints), so that the stored session composes
	// as the local one does. (optional) defaults to false.
	Manifest bool
	// Participants also uploads every media file the manifest lists for
	// the participants, every segment of a segmented track included.
	// (optional) defaults to false.
	Participants bool
	// Extra lists more files to upload (e.g. "mixed.wav"), relative to the
	// session directory or absolute. (optional) defaults to none.
	Extra []string
	// AllFiles also uploads every other regular file of the session
	// directory (not its subdirectories), except hidden ones (".name"),
	// after the others. (optional) defaults to false.
	AllFiles bool
	// DeleteLocal removes the local files once every object of the upload
	// is stored and verified; nothing is deleted if any object failed.
	// (optional) defaults to false: local files are kept, as the prototype
	// kept them.
	DeleteLocal bool
	// BaseURL is the URL the objects are served from (the prototype's
	// BASE_CDN_URL). (optional) defaults to "", the store's own URLs when it
	// implements URLer.
	BaseURL string
	// Progress is called as content is read for sending, from the
	// goroutine in which the store's Put reads (the caller's for the
	// stores of this module), never concurrently. (optional) defaults to
	// no reporting.
	Progress func(Progress)
	// Logger receives one message per object. (optional) defaults to
	// discarding.
	Logger *slog.Logger
}

// Progress reports how far UploadSession has come.
type Progress struct {
	// Key is the object being sent; Sent of its Size bytes are sent.
	Key        string
	Sent, Size int64
	// Done of Total bytes of the whole upload are sent or found present.
	Done, Total int64
}

// Status is the outcome of one object of an upload.
type Status int

// Outcomes of an object.
const (
	// StatusFailed means the object is not stored, or could not be
	// verified; ObjectResult.Err says why.
	StatusFailed Status = iota
	// StatusUploaded means the object was sent and verified.
	StatusUploaded
	// StatusPresent means an identical object (same size and SHA-256) was
	// already stored, from an earlier run; nothing was sent.
	StatusPresent
)

func (s Status) String() string {
	switch s {
	case StatusUploaded:
		return "uploaded"
	case StatusPresent:
		return "present"
	default:
		return "failed"
	}
}

// ObjectResult is the outcome for one local file.
type ObjectResult struct {
	// File is the local path and Key the object's key.
	File, Key string
	// Size and SHA256 describe the local file (when it could be read).
	Size   int64
	SHA256 string
	Status Status
	// URL is where the object is served, when known.
	URL string
	// Deleted reports that the local file was removed (DeleteLocal).
	Deleted bool
	// Err is why the object failed.
	Err error
}

// UploadResult lists the outcome of every object, the final MP4 first.
type UploadResult struct {
	Objects []ObjectResult
}

// Final returns the result of the final recording. A nil result has none.
func (r *UploadResult) Final() ObjectResult {
	if r == nil || len(r.Objects) == 0 {
		return ObjectResult{}
	}
	return r.Objects[0]
}

// Failed returns the objects that are not stored and verified. A nil
// result has none.
func (r *UploadResult) Failed() []ObjectResult {
	if r == nil {
		return nil
	}
	var failed []ObjectResult
	for _, o := range r.Objects {
		if o.Status == StatusFailed {
			failed = append(failed, o)
		}
	}
	return failed
}

// UploadSession uploads the results of the session whose session.json is
// at manifestPath to s: the final MP4 always, session.json and the
// participants' files as opts say. Keys are opts.Prefix plus the file's
// path relative to the session directory.
//
// Each file is hashed (SHA-256) first. An object already stored with the
// same size and hash is not sent again, so re-running after a failure only
// sends what is missing or different. Each upload is verified: Put checks
// the hash of what it streamed, then Stat must report the same size (and
// hash, when the store records it); with credentials that may upload but
// not read (Stat fails with ErrPermission), Put's checks and result stand. Local files are deleted only with
// opts.DeleteLocal and only when every object succeeded.
//
// The error wraps ErrIncomplete, and the result lists the failed objects,
// when some objects failed; other errors (an unreadable manifest) come with
// a nil result.
func UploadSession(ctx context.Context, s Store, manifestPath string, opts UploadOptions) (*UploadResult, error) {
	sess, err := manifest.Load(manifestPath)
	if err != nil {
		return nil, fmt.Errorf("storage: upload session: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Dir(manifestPath)
	if opts.Prefix == "" {
		opts.Prefix = sess.SessionID + "/"
	}
	u := &sessionUpload{store: s, opts: opts, log: log, dir: dir}
	files := u.files(sess, manifestPath)

	res := &UploadResult{Objects: make([]ObjectResult, len(files))}
	for i, f := range files {
		res.Objects[i] = u.inspect(f)
		u.total += res.Objects[i].Size
	}
	for i := range res.Objects {
		u.upload(ctx, &res.Objects[i])
	}

	failed := res.Failed()
	if len(failed) > 0 {
		errs := []error{fmt.Errorf("%w: %d of %d objects not stored", ErrIncomplete, len(failed), len(res.Objects))}
		for _, o := range failed {
			errs = append(errs, fmt.Errorf("%s: %w", o.Key, o.Err))
		}
		return res, errors.Join(errs...)
	}
	if opts.DeleteLocal {
		u.deleteLocal(res)
	}
	return res, nil
}

// sessionUpload is the state of one UploadSession.
type sessionUpload struct {
	store       Store
	opts        UploadOptions
	log         *slog.Logger
	dir         string
	done, total int64
}

// files lists the local files to upload, the final MP4 first, each once.
func (u *sessionUpload) files(sess *manifest.Session, manifestPath string) []string {
	final := u.opts.Final
	if final == "" {
		final = sess.SessionID + "_recording.mp4"
	}
	files := []string{u.local(final)}
	if u.opts.Manifest {
		files = append(files, manifestPath)
		if sess.Hints != "" {
			files = append(files, u.local(sess.Hints))
		}
	}
	if u.opts.Participants {
		for _, p := range sess.Participants {
			files = append(files, u.local(p.VideoPath), u.local(p.AudioPath))
			for _, t := range p.Tracks {
				files = append(files, u.local(t.Path))
				for _, sg := range t.Segments {
					files = append(files, u.local(sg.Path))
				}
			}
		}
	}
	for _, e := range u.opts.Extra {
		files = append(files, u.local(e))
	}
	if u.opts.AllFiles {
		// Unreadable directory: the files listed above still go, and fail
		// one by one if they are missing.
		entries, _ := os.ReadDir(u.dir)
		for _, e := range entries { // Sorted by name.
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(u.dir, e.Name()))
			}
		}
	}
	seen := map[string]bool{"": true}
	var out []string
	for _, f := range files {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// local resolves a path of the session: relative to the session directory,
// and an absolute path that no longer exists (a manifest written on another
// machine) by its name in the session directory.
func (u *sessionUpload) local(p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(u.dir, p)
	}
	if _, err := os.Stat(p); err != nil {
		if alt := filepath.Join(u.dir, filepath.Base(p)); fileExists(alt) {
			return alt
		}
	}
	return filepath.Clean(p)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// key returns the object key of a local file.
func (u *sessionUpload) key(file string) string {
	rel, err := filepath.Rel(u.dir, file)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		rel = filepath.Base(file)
	}
	return u.opts.Prefix + filepath.ToSlash(rel)
}

// inspect hashes a local file.
func (u *sessionUpload) inspect(file string) ObjectResult {
	o := ObjectResult{File: file, Key: u.key(file)}
	if err := ValidKey(o.Key); err != nil {
		o.Err = err
		return o
	}
	if url, err := ObjectURL(u.store, o.Key, u.opts.BaseURL); err == nil {
		o.URL = url
	}
	f, err := os.Open(file)
	if err != nil {
		o.Err = fmt.Errorf("local file: %w", err)
		return o
	}
	defer f.Close() //nolint:errcheck // Read-only file.
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		o.Err = fmt.Errorf("local file: %w", err)
		return o
	}
	o.Size, o.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	return o
}

// upload stores one file unless an identical object is there, and
// verifies it.
func (u *sessionUpload) upload(ctx context.Context, o *ObjectResult) {
	if o.Err != nil {
		u.log.Warn("storage: cannot upload", "file", o.File, "key", o.Key, "err", o.Err)
		return
	}
	if err := ctx.Err(); err != nil {
		o.Err = err
		return
	}
	if st, err := u.store.Stat(ctx, o.Key); err == nil && st.Size == o.Size && st.SHA256 == o.SHA256 {
		o.Status = StatusPresent
		u.done += o.Size
		u.report(o.Key, o.Size, o.Size)
		u.log.Info("storage: already stored", "key", o.Key, "size", o.Size)
		return
	}
	obj, err := u.put(ctx, o)
	if err == nil {
		err = u.verify(ctx, o, obj)
	}
	if err != nil {
		o.Err = err
		u.log.Warn("storage: upload failed; the local file is kept", "file", o.File, "key", o.Key, "err", err)
		return
	}
	o.Status = StatusUploaded
	u.log.Info("storage: uploaded", "key", o.Key, "size", o.Size, "sha256", o.SHA256)
}

// put sends the file, reporting progress.
func (u *sessionUpload) put(ctx context.Context, o *ObjectResult) (Object, error) {
	f, err := os.Open(o.File)
	if err != nil {
		return Object{}, fmt.Errorf("local file: %w", err)
	}
	defer f.Close() //nolint:errcheck // Read-only file.
	base := u.done
	pr := &progressReader{r: f, report: func(sent int64) {
		u.done = base + sent
		u.report(o.Key, sent, o.Size)
	}}
	obj, err := u.store.Put(ctx, o.Key, pr, PutOptions{ContentType: ContentType(o.File), Size: o.Size, SHA256: o.SHA256})
	u.done = base + o.Size
	return obj, err
}

// verify checks the stored object against the local file.
func (u *sessionUpload) verify(ctx context.Context, o *ObjectResult, put Object) error {
	st, err := u.store.Stat(ctx, o.Key)
	if errors.Is(err, ErrPermission) {
		// Upload-only credentials: rely on what Put checked while
		// streaming (its hash against PutOptions.SHA256, and the backend's
		// own transfer checks).
		st, err = put, nil
		u.log.Debug("storage: Stat not permitted; verified by Put", "key", o.Key)
	}
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	switch {
	case st.Size != o.Size:
		return fmt.Errorf("verify: %w: stored %d bytes, local file has %d", ErrChecksum, st.Size, o.Size)
	case st.SHA256 != "" && st.SHA256 != o.SHA256:
		return fmt.Errorf("verify: %w: stored SHA-256 %s, local file has %s", ErrChecksum, st.SHA256, o.SHA256)
	case st.SHA256 == "" && put.SHA256 != o.SHA256:
		return fmt.Errorf("verify: %w: sent SHA-256 %s, local file has %s", ErrChecksum, put.SHA256, o.SHA256)
	}
	return nil
}

func (u *sessionUpload) report(key string, sent, size int64) {
	if u.opts.Progress != nil {
		u.opts.Progress(Progress{Key: key, Sent: sent, Size: size, Done: u.done, Total: u.total})
	}
}

// deleteLocal removes the uploaded files.
func (u *sessionUpload) deleteLocal(res *UploadResult) {
	for i := range res.Objects {
		o := &res.Objects[i]
		if err := os.Remove(o.File); err != nil {
			u.log.Warn("storage: cannot delete local file", "file", o.File, "err", err)
			continue
		}
		o.Deleted = true
		u.log.Info("storage: deleted local file after verified upload", "file", o.File, "key", o.Key)
	}
}

// progressReader reports the bytes read so far.
type progressReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.n += int64(n)
		p.report(p.n)
	}
	return n, err
}

// contentTypes are the media types of the files a session holds.
var contentTypes = map[string]string{
	".mp4":  "video/mp4",
	".m4a":  "audio/mp4",
	".json": "application/json",
	".wav":  "audio/wav",
	".webm": "video/webm",
	".mkv":  "video/x-matroska",
	".ogg":  "audio/ogg",
	".opus": "audio/ogg",
	".ivf":  "video/x-ivf",
	".h264": "video/h264",
	".png":  "image/png",
}

// ContentType returns the media type of a file from its extension,
// "application/octet-stream" when unknown.
func ContentType(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// ManifestName is the object (and file) name of a session's manifest
// under its prefix, as the recorder writes it.
const ManifestName = "session.json"

// maxManifestBytes bounds the session.json FetchSession reads: a few
// kilobytes per participant and segment; 64 MiB is hours of a large call
// in 2 s segments.
const maxManifestBytes = 64 << 20

// FetchOptions tune FetchSession. The zero value downloads everything.
type FetchOptions struct {
	// ManifestOnly downloads session.json only, after checking that the
	// files it keeps are stored: enough for a process that continues the
	// session (recorder.Config.Continue) and uploads to the same prefix,
	// which never needs the earlier files locally. A composition (live
	// or after the call) needs them: FetchSession without it. (optional)
	// defaults to false.
	ManifestOnly bool
	// Logger (optional) defaults to discarding.
	Logger *slog.Logger
}

// FetchSession restores the session stored under prefix (its
// prefix+"session.json" and the files it lists, each under prefix plus
// its base name, as LiveUploader and UploadSession store them) into dir,
// so that another process can continue it or compose it from the store
// alone. It returns the manifest as it wrote it to dir/session.json,
// with paths resolved against dir (as manifest.Load gives them).
//
// The stored manifest may be the last one a recorder uploaded before it
// died: it then lists files the store does not have (the segment being
// written, one closed but not yet uploaded). Each listed file is checked
// with Stat: a file that is missing, or whose size differs from the
// segment's recorded bytes, is left out of the manifest (and logged), so
// a track keeps its stored segments with a hole where one is lost, and a
// track without any stored file is dropped. A track that was still
// recording (no end_s) ends where its last kept segment ends, and every
// kept file is marked complete: nothing more will be appended to it.
// Presence stays as the manifest says (a dead recorder's participants
// end at its last checkpoint).
//
// It is idempotent: a file already in dir with the stored size is not
// downloaded again, so an interrupted fetch resumes. Errors wrap
// ErrNotFound when there is no session.json under prefix.
func FetchSession(ctx context.Context, s Store, prefix, dir string, opts FetchOptions) (*manifest.Session, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ValidKey(prefix + ManifestName); err != nil {
		return nil, fmt.Errorf("storage: fetch session: %w", err)
	}
	m, err := getManifest(ctx, s, prefix+ManifestName)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: fetch session: %w", err)
	}
	f := &fetch{store: s, prefix: prefix, dir: dir, log: log, sizes: map[string]int64{}}
	if err := f.seal(ctx, m); err != nil {
		return nil, err
	}
	if !opts.ManifestOnly {
		for name, size := range f.sizes {
			if err := f.download(ctx, name, size); err != nil {
				return nil, err
			}
		}
	}
	m.SessionDir = "."
	path := filepath.Join(dir, ManifestName)
	if err := m.WriteFile(path); err != nil {
		return nil, fmt.Errorf("storage: fetch session: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: fetch session: %w", err)
	}
	m.Resolve(abs)
	return m, nil
}

// getManifest reads and parses the stored session.json.
func getManifest(ctx context.Context, s Store, key string) (*manifest.Session, error) {
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("storage: fetch session %s: %w", key, err)
	}
	defer rc.Close() //nolint:errcheck // Read-only.
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("storage: fetch session %s: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("storage: fetch session %s: %w: longer than %d bytes", key, manifest.ErrMalformed, maxManifestBytes)
	}
	m, err := manifest.Parse(bytes.NewReader(data), "")
	if err != nil {
		return nil, fmt.Errorf("storage: fetch session %s: %w", key, err)
	}
	return m, nil
}

// fetch is the state of one FetchSession (one goroutine).
type fetch struct {
	store  Store
	prefix string
	dir    string
	log    *slog.Logger
	// sizes lists the kept files by base name with their stored size.
	sizes map[string]int64
}

// stored reports whether the file named by path is stored (with want
// bytes, when want > 0) and remembers it.
func (f *fetch) stored(ctx context.Context, path string, want int64) (string, bool, error) {
	name := filepath.Base(path)
	if size, ok := f.sizes[name]; ok {
		return name, want <= 0 || size == want, nil
	}
	key := f.prefix + name
	if err := ValidKey(key); err != nil {
		f.log.Warn("storage: fetch: file left out", "file", path, "err", err)
		return name, false, nil
	}
	obj, err := f.store.Stat(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		f.log.Info("storage: fetch: file not stored; left out", "key", key)
		return name, false, nil
	case err != nil:
		return name, false, fmt.Errorf("storage: fetch session: %s: %w", key, err)
	case want > 0 && obj.Size != want:
		f.log.Warn("storage: fetch: stored file has another size; left out", "key", key, "stored", obj.Size, "recorded", want)
		return name, false, nil
	}
	f.sizes[name] = obj.Size
	return name, true, nil
}

// seal keeps the stored files of m (paths become base names), ends the
// tracks a dead recorder left open and drops tracks without files.
func (f *fetch) seal(ctx context.Context, m *manifest.Session) error {
	for i := range m.Participants {
		p := &m.Participants[i]
		var tracks []manifest.Track
		for _, t := range p.Tracks {
			keep, err := f.sealTrack(ctx, &t)
			if err != nil {
				return err
			}
			if keep {
				tracks = append(tracks, t)
			}
		}
		hadTracks := len(p.Tracks) > 0
		p.Tracks = tracks
		var err error
		if p.VideoPath, err = f.mainPath(ctx, p.VideoPath, hadTracks, p.VideoTracks); err != nil {
			return err
		}
		if p.AudioPath, err = f.mainPath(ctx, p.AudioPath, hadTracks, p.AudioTracks); err != nil {
			return err
		}
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("storage: fetch session: sealed manifest: %w", err)
	}
	return nil
}

// sealTrack keeps t's stored files; keep is false when none is.
func (f *fetch) sealTrack(ctx context.Context, t *manifest.Track) (keep bool, err error) {
	if len(t.Segments) == 0 {
		name, ok, err := f.stored(ctx, t.Path, 0)
		if err != nil || !ok {
			return false, err
		}
		t.Path, t.Complete = name, true
		return true, nil
	}
	var segs []manifest.Segment
	for _, sg := range t.Segments {
		name, ok, err := f.stored(ctx, sg.Path, sg.Bytes)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		sg.Path, sg.Complete = name, true
		if sg.Bytes == 0 {
			sg.Bytes = f.sizes[name]
		}
		segs = append(segs, sg)
	}
	if len(segs) == 0 {
		return false, nil
	}
	lost := len(segs) < len(t.Segments)
	t.Segments = segs
	// The track starts with its first stored segment (the same one
	// unless the first are lost).
	t.Path, t.Complete, t.StartS = segs[0].Path, true, segs[0].StartS
	if last := segs[len(segs)-1]; (t.EndS == nil || lost) && last.EndS != nil {
		// The recorder died while the track recorded, or its last
		// segments are lost: it ends with its last stored segment.
		end := *last.EndS
		t.EndS = &end
	}
	return true, nil
}

// mainPath keeps a participant's video_path or audio_path when its file
// is kept: for a manifest with tracks, the first kept main track's file;
// for a prototype one, the path itself when stored.
func (f *fetch) mainPath(ctx context.Context, path string, hadTracks bool, main func() []manifest.Track) (string, error) {
	if path == "" {
		return "", nil
	}
	if hadTracks {
		if ts := main(); len(ts) > 0 {
			return ts[0].Path, nil
		}
		return "", nil
	}
	name, ok, err := f.stored(ctx, path, 0)
	if err != nil || !ok {
		return "", err
	}
	return name, nil
}

// download writes the stored file name into dir unless a file of that
// size is there, through a temporary file renamed at the end.
func (f *fetch) download(ctx context.Context, name string, size int64) (err error) {
	path := filepath.Join(f.dir, name)
	if st, err := os.Stat(path); err == nil && st.Size() == size {
		return nil
	}
	key := f.prefix + name
	rc, _, err := f.store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("storage: fetch session: %s: %w", key, err)
	}
	defer rc.Close() //nolint:errcheck // Read-only.
	tmp, err := os.CreateTemp(f.dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("storage: fetch session: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(tmp.Name()))
		}
	}()
	n, err := io.Copy(tmp, ContextReader(ctx, rc))
	if err != nil {
		return errors.Join(fmt.Errorf("storage: fetch session: %s: %w", key, err), tmp.Close())
	}
	if n != size {
		return errors.Join(fmt.Errorf("storage: fetch session: %s: %w: got %d bytes, stored %d", key, ErrChecksum, n, size), tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("storage: fetch session: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("storage: fetch session: %w", err)
	}
	f.log.Debug("storage: fetched", "key", key, "size", size)
	return nil
}
